#include "state.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

namespace mercato::runner {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, "state file: " + std::move(message)};
}

// Reads an integer field, rejecting anything that would not fit `T`.
template <class T>
bool ReadInt(const json::object& object, std::string_view key, T& out) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_int64()) return false;
  out = static_cast<T>(value->get_int64());
  return static_cast<int64_t>(out) == value->get_int64();
}

bool ReadString(const json::object& object, std::string_view key, std::string& out) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return false;
  out = std::string(value->get_string());
  return true;
}

}  // namespace

fs::path StateFilePath(const fs::path& data_dir) { return data_dir / "run" / "mercato.json"; }

std::string ToJson(const RunState& state) {
  json::array processes;
  for (const auto& process : state.processes) {
    processes.push_back(json::object{
        {"name", process.name},
        {"pid", process.pid},
        {"port", process.port},
        {"ready", process.ready},
        {"restarts", process.restarts},
        {"started_at", process.started_at},
        {"ready_check", ToString(process.ready_check)},
        {"ready_path", process.ready_path},
        {"log_file", process.log_file},
    });
  }
  json::object root{
      {"supervisor_pid", state.supervisor_pid},
      {"base_port", state.base_port},
      {"phase", state.phase},
      {"processes", std::move(processes)},
  };
  return json::serialize(root) + "\n";
}

Result<RunState> ParseRunState(std::string_view json_text) {
  boost::system::error_code ec;
  json::value root = json::parse(json_text, ec);
  if (ec) return Invalid("invalid JSON: " + ec.message());
  if (!root.is_object()) return Invalid("not a JSON object");
  const json::object& object = root.get_object();

  RunState state;
  if (!ReadInt(object, "supervisor_pid", state.supervisor_pid))
    return Invalid("bad supervisor_pid");
  if (!ReadInt(object, "base_port", state.base_port)) return Invalid("bad base_port");
  if (!ReadString(object, "phase", state.phase)) return Invalid("bad phase");
  const json::value* processes = object.if_contains("processes");
  if (processes == nullptr || !processes->is_array()) return Invalid("bad processes");
  for (const auto& item : processes->get_array()) {
    if (!item.is_object()) return Invalid("bad process entry");
    const json::object& entry = item.get_object();
    ProcessState process;
    std::string check;
    const json::value* ready = entry.if_contains("ready");
    if (!ReadString(entry, "name", process.name) || !ReadInt(entry, "pid", process.pid) ||
        !ReadInt(entry, "port", process.port) || ready == nullptr || !ready->is_bool() ||
        !ReadInt(entry, "restarts", process.restarts) ||
        !ReadString(entry, "started_at", process.started_at) ||
        !ReadString(entry, "ready_check", check) ||
        !ReadString(entry, "ready_path", process.ready_path) ||
        !ReadString(entry, "log_file", process.log_file)) {
      return Invalid("bad process entry " + json::serialize(entry));
    }
    process.ready = ready->get_bool();
    process.ready_check = check == "tcp" ? ReadyCheck::kTcp : ReadyCheck::kHttp;
    state.processes.push_back(std::move(process));
  }
  return state;
}

Result<void> WriteRunState(const fs::path& file, const RunState& state) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return Error{ErrorCode::kUnavailable, file.parent_path().string() + ": " + ec.message()};

  // The pid in the name keeps two writers (a stale supervisor, a new one) off each other's temp.
  const fs::path temp = file.string() + ".tmp." + std::to_string(::getpid());
  const std::string text = ToJson(state);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{ErrorCode::kUnavailable, temp.string() + ": " + std::strerror(errno)};
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return Error{ErrorCode::kUnavailable, temp.string() + ": " + std::strerror(saved)};
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    return Error{ErrorCode::kUnavailable, file.string() + ": " + std::strerror(saved)};
  }
  return Ok();
}

Result<RunState> ReadRunState(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{ErrorCode::kNotFound, file.string() + ": no state file"};
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto state = ParseRunState(buffer.str());
  if (!state) return Error{state.error().code, file.string() + ": " + state.error().message};
  return state;
}

bool IsProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // /proc/<pid>/stat is "pid (comm) S ...": the state letter follows the last ')'.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream buffer;
  buffer << stat.rdbuf();
  const std::string text = buffer.str();
  size_t paren = text.rfind(')');
  if (paren != std::string::npos && paren + 2 < text.size()) {
    char status = text[paren + 2];
    if (status == 'Z' || status == 'X') return false;
  }
  return true;
}

}  // namespace mercato::runner
