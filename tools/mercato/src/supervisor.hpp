// The supervisor: starts the topology's processes in order, waits for each to be ready, then
// keeps them running (restart with exponential backoff) until SIGINT/SIGTERM, when it stops them
// in reverse order. Everything it knows is mirrored into the run state file.
//
//   ConsoleReporter reporter;
//   Supervisor supervisor({.plans = plans, .data_dir = dir, .base_port = 8000}, reporter);
//   return supervisor.Run();
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "state.hpp"
#include "topology.hpp"

namespace mercato::runner {

using Millis = std::chrono::milliseconds;

// ---- Restart backoff: pure, so the schedule is unit-tested without a clock. ----

struct BackoffPolicy {
  Millis initial{500};
  Millis max{30'000};
  // A process that ran this long before exiting was healthy; its next restart is quick again.
  Millis reset_after{60'000};
};

// Delay before restart number `streak` of an unbroken run of crashes (streak >= 1):
// 0.5 s, 1 s, 2 s, ... capped at 30 s.
Millis RestartDelay(int streak, const BackoffPolicy& policy = {});
// The crash streak after a process that had `streak` consecutive crashes exits after `ran_for`.
int NextCrashStreak(int streak, Millis ran_for, const BackoffPolicy& policy = {});

// ---- Process plumbing ----

// Forks and execs `plan` in its own process group with stdin from /dev/null and stdout+stderr
// appended to plan.log_file. Exec failures surface as exit status 127 with a line in the log.
Result<pid_t> SpawnProcess(const LaunchPlan& plan);

// The last `count` lines of a (log) file; empty if it cannot be read.
std::vector<std::string> TailLines(const std::filesystem::path& file, size_t count);

// "exited with status 1", "killed by signal 9 (Killed)": for the logs.
std::string DescribeWaitStatus(int status);

// ---- Reporting start-up progress (to a terminal, or through the --detach pipe) ----

class Reporter {
 public:
  virtual ~Reporter() = default;
  // A piece of progress output; `end_line` finishes the current line.
  virtual void Progress(std::string_view text, bool end_line) = 0;
  // Every process is ready and the state file says so.
  virtual void Ready(const RunState& state) = 0;
  // Start-up failed; everything started has been stopped again.
  virtual void Failed(std::string_view reason) = 0;
};

// ---- The supervisor ----

// How long a process may take to exit after SIGTERM before it gets SIGKILL. Longer than the
// chassis' default --drain-timeout (20 s, libs/service), so a clean drain is never cut short.
inline constexpr std::chrono::seconds kDefaultStopTimeout{25};

struct SupervisorOptions {
  std::vector<LaunchPlan> plans;
  std::filesystem::path data_dir;
  int base_port = 0;
  std::chrono::seconds ready_timeout{30};
  Millis poll_interval{100};
  std::chrono::seconds stop_timeout = kDefaultStopTimeout;
  BackoffPolicy backoff;
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions options, Reporter& reporter);

  // Blocks until stopped by SIGINT/SIGTERM/SIGHUP (returns 0) or start-up fails (returns 1).
  // Expects SIGINT, SIGTERM, SIGHUP and SIGCHLD to be blocked in the calling thread (see
  // BlockSupervisorSignals) so none of them can be lost between checks.
  int Run();

 private:
  using Clock = std::chrono::steady_clock;

  struct Child {
    LaunchPlan plan;
    pid_t pid = 0;
    bool ready = false;
    int restarts = 0;
    int crash_streak = 0;
    Clock::time_point started{};
    std::string started_at;
    Clock::time_point restart_at{};
  };

  bool StartInOrder();
  bool StartOne(Child& child);
  void Supervise();
  void StopAll();
  void StopOne(Child& child);

  // Reaps every exited child, returning (pid, wait status) pairs.
  std::vector<std::pair<pid_t, int>> ReapChildren();
  // Routes a reaped pid to its child; false if it was none of ours.
  bool OnReaped(pid_t pid, int status);
  void OnUnexpectedExit(Child& child, int status);
  bool Launch(Child& child);
  // Sleeps until a signal arrives or `timeout` passes; notes SIGINT/SIGTERM/SIGHUP.
  void WaitForEvent(Millis timeout);
  void WriteState(std::string_view phase);
  RunState Snapshot(std::string_view phase) const;
  void Log(const std::string& line);

  SupervisorOptions options_;
  Reporter& reporter_;
  std::vector<Child> children_;
  bool stop_requested_ = false;
  std::string failure_;  // why start-up failed, reported once everything is stopped again
  std::string phase_ = "starting";
};

// Blocks the signals the supervisor waits for synchronously; call before forking anything.
void BlockSupervisorSignals();

}  // namespace mercato::runner
