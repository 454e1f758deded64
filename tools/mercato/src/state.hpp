// The run state file (DATA_DIR/run/mercato.json): the supervisor's public face. The supervisor
// rewrites it atomically whenever something changes; `mercato status` and `mercato down` only
// read it, so they never need to talk to the supervisor directly.
//
//   runner::WriteRunState(runner::StateFilePath(data_dir), state);
//   auto state = runner::ReadRunState(runner::StateFilePath(data_dir));
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "topology.hpp"

namespace mercato::runner {

struct ProcessState {
  std::string name;
  pid_t pid = 0;  // 0 while the process is waiting to be (re)started
  int port = 0;
  bool ready = false;
  int restarts = 0;
  std::string started_at;  // RFC 3339 wall time of the current incarnation
  ReadyCheck ready_check = ReadyCheck::kHttp;
  std::string ready_path;
  std::string log_file;
};

struct RunState {
  pid_t supervisor_pid = 0;
  int base_port = 0;
  std::string phase;  // "starting", "running", "stopping"
  std::vector<ProcessState> processes;
};

std::filesystem::path StateFilePath(const std::filesystem::path& data_dir);

std::string ToJson(const RunState& state);
// invalid_argument when the text is not a state file this version wrote.
Result<RunState> ParseRunState(std::string_view json_text);

// Writes to a temporary file in the same directory, then renames it over the old one, so readers
// see either the old or the new state, never half of one.
Result<void> WriteRunState(const std::filesystem::path& file, const RunState& state);
// not_found when there is no state file.
Result<RunState> ReadRunState(const std::filesystem::path& file);

// True while `pid` names a live process. A zombie counts as gone: the supervisor may exit while
// nothing has reaped it yet, and it no longer owns anything.
bool IsProcessAlive(pid_t pid);

}  // namespace mercato::runner
