#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "mercato/core/clock.hpp"
#include "probe.hpp"

extern char** environ;

namespace mercato::runner {
namespace fs = std::filesystem;

namespace {

constexpr size_t kLogTailLines = 20;

std::string Seconds(std::chrono::steady_clock::duration d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", std::chrono::duration<double>(d).count());
  return buffer;
}

std::string TimeOfDay() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", &local);
  return buffer;
}

}  // namespace

Millis RestartDelay(int streak, const BackoffPolicy& policy) {
  Millis delay = policy.initial;
  for (int i = 1; i < streak && delay < policy.max; ++i) delay *= 2;
  return std::min(delay, policy.max);
}

int NextCrashStreak(int streak, Millis ran_for, const BackoffPolicy& policy) {
  return ran_for >= policy.reset_after ? 1 : streak + 1;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped (wait status " + std::to_string(status) + ")";
}

std::vector<std::string> TailLines(const fs::path& file, size_t count) {
  // Only the end of the file matters and logs can be large: read at most the last 64 KiB.
  constexpr std::streamoff kWindow = 64 * 1024;
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kWindow));
  std::stringstream stream;
  stream << in.rdbuf();
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(stream, line)) lines.push_back(line);
  if (lines.size() > count)
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  return lines;
}

Result<pid_t> SpawnProcess(const LaunchPlan& plan) {
  // Build argv/envp before fork: after it only async-signal-safe calls are allowed.
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string key(text.substr(0, text.find('=')));
    if (!plan.env.contains(key)) env_strings.emplace_back(text);
  }
  for (const auto& [key, value] : plan.env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = plan.argv;
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::error_code ec;
  fs::create_directories(plan.log_file.parent_path(), ec);
  int log_fd = ::open(plan.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Error{ErrorCode::kUnavailable, plan.log_file.string() + ": " + std::strerror(errno)};
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    return Error{ErrorCode::kUnavailable, std::string("/dev/null: ") + std::strerror(errno)};
  }
  std::string banner = "--- mercato: starting " + plan.name + " at " +
                       FormatRfc3339(std::chrono::system_clock::now()) + ":";
  for (const auto& arg : plan.argv) banner += " " + arg;
  banner += "\n";
  [[maybe_unused]] ssize_t ignored = ::write(log_fd, banner.data(), banner.size());

  pid_t pid = ::fork();
  if (pid < 0) {
    int saved = errno;
    ::close(log_fd);
    ::close(null_fd);
    return Error{ErrorCode::kUnavailable, std::string("fork: ") + std::strerror(saved)};
  }
  if (pid == 0) {
    // Own process group: Ctrl-C in the terminal reaches only the supervisor, which then stops
    // children in order, and `down` can kill a child together with anything it spawned.
    ::setpgid(0, 0);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // The supervisor blocks and ignores signals it handles itself; exec keeps both, so undo them.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    const char* reason = std::strerror(errno);
    const char prefix[] = "mercato: exec failed: ";
    [[maybe_unused]] ssize_t a = ::write(STDERR_FILENO, prefix, sizeof prefix - 1);
    [[maybe_unused]] ssize_t b = ::write(STDERR_FILENO, reason, std::strlen(reason));
    [[maybe_unused]] ssize_t c = ::write(STDERR_FILENO, "\n", 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before anyone signals it
  ::close(log_fd);
  ::close(null_fd);
  return pid;
}

// The signals the supervisor takes synchronously (sigtimedwait) instead of by handler.
static sigset_t SupervisorSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  return set;
}

void BlockSupervisorSignals() {
  sigset_t set = SupervisorSignals();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  // A detached supervisor writes to a pipe its parent may already have closed.
  ::signal(SIGPIPE, SIG_IGN);
}

Supervisor::Supervisor(SupervisorOptions options, Reporter& reporter)
    : options_(std::move(options)), reporter_(reporter) {
  for (const auto& plan : options_.plans) {
    Child child;
    child.plan = plan;
    children_.push_back(std::move(child));
  }
}

int Supervisor::Run() {
  WriteState("starting");
  if (!StartInOrder()) return stop_requested_ ? 0 : 1;
  WriteState("running");
  reporter_.Ready(Snapshot("running"));
  Supervise();
  StopAll();
  std::error_code ec;
  fs::remove(StateFilePath(options_.data_dir), ec);
  Log("mercato: stopped");
  return 0;
}

bool Supervisor::StartInOrder() {
  for (auto& child : children_) {
    if (!StartOne(child)) {
      StopAll();
      std::error_code ec;
      fs::remove(StateFilePath(options_.data_dir), ec);
      // Only now: a detached `up` returns on this report, and by then nothing may be left over.
      reporter_.Failed(failure_);
      return false;
    }
  }
  return true;
}

bool Supervisor::StartOne(Child& child) {
  const auto& plan = child.plan;
  reporter_.Progress("starting " + plan.name + " on :" + std::to_string(plan.port) + " ... ",
                     false);
  auto failed = [&](const std::string& reason) {
    reporter_.Progress("FAILED", true);
    std::string text = plan.name + ": " + reason;
    auto tail = TailLines(plan.log_file, kLogTailLines);
    reporter_.Progress(text + "; last " + std::to_string(tail.size()) + " lines of " +
                           plan.log_file.string() + ":",
                       true);
    for (const auto& line : tail) reporter_.Progress("  | " + line, true);
    failure_ = text;
    return false;
  };

  if (!Launch(child)) return failed("could not start " + plan.executable.string());
  WriteState("starting");
  const auto deadline = child.started + options_.ready_timeout;
  while (true) {
    for (auto [pid, status] : ReapChildren()) {
      if (pid == child.pid) {
        child.pid = 0;
        return failed(DescribeWaitStatus(status) + " before it was ready");
      }
      // One started earlier crashed meanwhile: it is supervised already, so schedule its restart.
      OnReaped(pid, status);
    }
    if (stop_requested_) {
      reporter_.Progress("interrupted", true);
      failure_ = "interrupted by a signal while starting " + plan.name;
      return false;
    }
    const auto probe_start = Clock::now();
    if (ProbeReady(plan.ready, plan.port, plan.ready_path)) break;
    if (Clock::now() >= deadline) {
      const std::string check =
          plan.ready == ReadyCheck::kTcp
              ? "TCP connect to 127.0.0.1:" + std::to_string(plan.port)
              : "GET http://127.0.0.1:" + std::to_string(plan.port) + plan.ready_path + " != 200";
      return failed("not ready within " + std::to_string(options_.ready_timeout.count()) + " s (" +
                    check + ")");
    }
    auto spent = std::chrono::duration_cast<Millis>(Clock::now() - probe_start);
    WaitForEvent(std::max(Millis{1}, options_.poll_interval - spent));
  }
  child.ready = true;
  child.crash_streak = 0;
  reporter_.Progress("ready in " + Seconds(Clock::now() - child.started), true);
  WriteState("starting");
  return true;
}

bool Supervisor::Launch(Child& child) {
  auto pid = SpawnProcess(child.plan);
  if (!pid) {
    Log("mercato: " + child.plan.name + ": " + pid.error().message);
    return false;
  }
  child.pid = *pid;
  child.ready = false;
  child.started = Clock::now();
  child.started_at = FormatRfc3339(std::chrono::system_clock::now());
  return true;
}

std::vector<std::pair<pid_t, int>> Supervisor::ReapChildren() {
  std::vector<std::pair<pid_t, int>> reaped;
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    reaped.emplace_back(pid, status);
  }
  return reaped;
}

bool Supervisor::OnReaped(pid_t pid, int status) {
  for (auto& child : children_) {
    if (child.pid == pid) {
      OnUnexpectedExit(child, status);
      return true;
    }
  }
  return false;  // not ours to restart (cannot happen today; children have no siblings)
}

void Supervisor::OnUnexpectedExit(Child& child, int status) {
  auto ran_for = std::chrono::duration_cast<Millis>(Clock::now() - child.started);
  child.crash_streak = NextCrashStreak(child.crash_streak, ran_for, options_.backoff);
  Millis delay = RestartDelay(child.crash_streak, options_.backoff);
  ++child.restarts;
  Log("[" + TimeOfDay() + "] " + child.plan.name + " (pid " + std::to_string(child.pid) + ") " +
      DescribeWaitStatus(status) + " after " + Seconds(Clock::now() - child.started) +
      "; restart #" + std::to_string(child.restarts) + " in " + Seconds(delay));
  child.pid = 0;
  child.ready = false;
  child.restart_at = Clock::now() + delay;
}

void Supervisor::Supervise() {
  while (!stop_requested_) {
    bool changed = false;
    for (auto [pid, status] : ReapChildren()) changed = OnReaped(pid, status) || changed;
    Millis next_wake{1000};
    const auto now = Clock::now();
    for (auto& child : children_) {
      if (child.pid == 0) {
        if (now >= child.restart_at) {
          if (Launch(child)) {
            Log("[" + TimeOfDay() + "] restarted " + child.plan.name + " (pid " +
                std::to_string(child.pid) + ")");
            next_wake = std::min(next_wake, options_.poll_interval);
          } else {
            // Treat a failed launch like a crash so it backs off instead of spinning.
            OnUnexpectedExit(child, 127 << 8);
          }
          changed = true;
        } else {
          next_wake = std::min(
              next_wake, std::chrono::duration_cast<Millis>(child.restart_at - now) + Millis{1});
        }
      } else if (!child.ready) {
        if (ProbeReady(child.plan.ready, child.plan.port, child.plan.ready_path)) {
          child.ready = true;
          changed = true;
          Log("[" + TimeOfDay() + "] " + child.plan.name + " ready again in " +
              Seconds(Clock::now() - child.started));
        } else {
          next_wake = std::min(next_wake, options_.poll_interval);
        }
      }
    }
    if (changed) WriteState("running");
    WaitForEvent(next_wake);
  }
}

void Supervisor::StopAll() {
  WriteState("stopping");
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) StopOne(*it);
}

void Supervisor::StopOne(Child& child) {
  if (child.pid == 0) return;
  const pid_t pid = child.pid;
  const auto begin = Clock::now();
  if (::kill(-pid, SIGTERM) != 0) ::kill(pid, SIGTERM);
  bool killed = false;
  while (true) {
    // Peek without reaping: while the leader is an unreaped zombie its pid (and so the group id)
    // cannot be reused, which makes the straggler sweep below safe.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) break;
    if (info.si_pid == pid) break;
    if (!killed && Clock::now() - begin >= options_.stop_timeout) {
      Log("mercato: " + child.plan.name + " ignored SIGTERM for " +
          std::to_string(options_.stop_timeout.count()) + " s; sending SIGKILL");
      if (::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
      killed = true;
    }
    struct timespec pause {
      0, 20'000'000
    };
    ::nanosleep(&pause, nullptr);
  }
  ::kill(-pid, SIGKILL);  // anything the child left behind in its group
  int status = 0;
  ::waitpid(pid, &status, 0);
  Log("stopped " + child.plan.name + " (pid " + std::to_string(pid) + ") in " +
      Seconds(Clock::now() - begin));
  child.pid = 0;
  child.ready = false;
  WriteState("stopping");
}

void Supervisor::WaitForEvent(Millis timeout) {
  sigset_t set = SupervisorSignals();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  struct timespec wait {
    seconds.count(), static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())
  };
  int signal_number = ::sigtimedwait(&set, nullptr, &wait);
  if (signal_number == SIGINT || signal_number == SIGTERM || signal_number == SIGHUP) {
    if (!stop_requested_) Log("mercato: " + std::string(::strsignal(signal_number)) + "; stopping");
    stop_requested_ = true;
  }
}

void Supervisor::WriteState(std::string_view phase) {
  auto written = WriteRunState(StateFilePath(options_.data_dir), Snapshot(phase));
  if (!written) Log("mercato: cannot write state: " + written.error().message);
}

RunState Supervisor::Snapshot(std::string_view phase) const {
  RunState state;
  state.supervisor_pid = ::getpid();
  state.base_port = options_.base_port;
  state.phase = std::string(phase);
  for (const auto& child : children_) {
    state.processes.push_back(ProcessState{.name = child.plan.name,
                                           .pid = child.pid,
                                           .port = child.plan.port,
                                           .ready = child.ready,
                                           .restarts = child.restarts,
                                           .started_at = child.started_at,
                                           .ready_check = child.plan.ready,
                                           .ready_path = child.plan.ready_path,
                                           .log_file = child.plan.log_file.string()});
  }
  return state;
}

void Supervisor::Log(const std::string& line) { std::cout << line << std::endl; }

}  // namespace mercato::runner
