// The `mercato` command line: option parsing for each command (pure, unit-tested) and the
// commands themselves (up, status, down). main.cpp only dispatches.
//
//   auto options = runner::ParseUpOptions({"--detach", "--base-port", "9000"});
//   if (options) return runner::RunUp(*options, ExecutableDir());
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mercato/core/result.hpp"
#include "state.hpp"
#include "topology.hpp"

namespace mercato::runner {

// Exit codes shared by every command; `status` adds kExitNotRunning.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotRunning = 3;

struct UpOptions {
  bool help = false;
  bool detach = false;
  std::filesystem::path data_dir = "data";
  int base_port = 8000;
  bool no_seed = false;  // --no-seed
  std::optional<std::filesystem::path> topology;
  std::vector<std::string> only;
};

struct DataDirOptions {
  bool help = false;
  std::filesystem::path data_dir = "data";
};

// invalid_argument with a one-line message naming the bad option; the caller exits 2.
Result<UpOptions> ParseUpOptions(const std::vector<std::string>& args);
Result<DataDirOptions> ParseDataDirOptions(const std::vector<std::string>& args);

extern const char kMainHelp[];
extern const char kUpHelp[];
extern const char kStatusHelp[];
extern const char kDownHelp[];

int RunUp(const UpOptions& options, const std::filesystem::path& exe_dir);
int RunStatus(const DataDirOptions& options);
int RunDown(const DataDirOptions& options);

// How long `mercato down` waits for the supervisor before SIGKILLing everything: the supervisor
// stops processes one by one, each allowed kDefaultStopTimeout to drain, plus a margin.
std::chrono::seconds DownTimeout(size_t process_count);

// Aligned columns separated by two spaces; the first row is the header.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);
// "42s", "3m07s", "2h05m", "3d04h".
std::string FormatUptime(std::chrono::seconds uptime);
// The NAME PID PORT URL LOG table printed once everything is ready.
std::string FormatStartTable(const RunState& state);
// The lines printed under that table: "<name>: <notice>" for each process that has a notice
// (the topology's "notice"), in start order; empty when none has.
std::string FormatNotices(const std::vector<LaunchPlan>& plans);

}  // namespace mercato::runner
