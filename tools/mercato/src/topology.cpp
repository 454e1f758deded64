#include "topology.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>

namespace mercato::runner {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kTopologyRelativePath = "deploy/local/topology.json";

Error Invalid(std::string message, std::string field) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

// "line 3, column 14": where a JSON syntax error sits, so the user can jump to it.
std::string Position(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Result<std::string> RequireString(const json::object& object, std::string_view key,
                                  const std::string& field) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return Invalid(field + "." + std::string(key) + " is required", field);
  if (!value->is_string()) {
    return Invalid(field + "." + std::string(key) + " must be a string",
                   field + "." + std::string(key));
  }
  return std::string(value->get_string());
}

Result<void> ParseStringList(const json::value& value, const std::string& field,
                             std::vector<std::string>& out) {
  if (!value.is_array()) return Invalid(field + " must be an array of strings", field);
  const json::array& array = value.get_array();
  for (size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string()) {
      return Invalid(field + "[" + std::to_string(i) + "] must be a string",
                     field + "[" + std::to_string(i) + "]");
    }
    out.emplace_back(array[i].get_string());
  }
  return Ok();
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

Result<ProcessSpec> ParseProcess(const json::value& value, size_t index) {
  const std::string field = "processes[" + std::to_string(index) + "]";
  if (!value.is_object()) return Invalid(field + " must be an object", field);
  const json::object& object = value.get_object();

  static const std::set<std::string_view> kKnownKeys = {
      "name",       "binary", "command", "port_offset", "args",
      "ready_path", "ready",  "env",     "own_flags",   "notice"};
  for (const auto& entry : object) {
    if (!kKnownKeys.contains(entry.key())) {
      // Unknown keys are almost always typos ("ready-path"); silently ignoring them hides bugs.
      return Invalid(field + " has unknown key \"" + std::string(entry.key()) + "\"",
                     field + "." + std::string(entry.key()));
    }
  }

  ProcessSpec spec;
  auto name = RequireString(object, "name", field);
  if (!name) return name.error();
  spec.name = *name;
  if (spec.name.empty() || !std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    // The name becomes a log file name, so keep it to a safe alphabet.
    return Invalid(field + ".name must be non-empty and use only letters, digits, '-' and '_'",
                   field + ".name");
  }

  if (const json::value* command = object.if_contains("command")) {
    if (!command->is_string())
      return Invalid(field + ".command must be a string", field + ".command");
    spec.command = std::string(command->get_string());
    auto words = SplitWords(*spec.command);
    if (words.empty()) return Invalid(field + ".command is empty", field + ".command");
    if (object.contains("args")) {
      return Invalid(field + " has both \"command\" and \"args\"; use one", field + ".args");
    }
    if (const json::value* binary = object.if_contains("binary")) {
      if (!binary->is_string())
        return Invalid(field + ".binary must be a string", field + ".binary");
      spec.binary = std::string(binary->get_string());
      if (words.front() != spec.binary) {
        return Invalid(field + ".command must start with the binary \"" + spec.binary + "\"",
                       field + ".command");
      }
    } else {
      spec.binary = words.front();
    }
    spec.own_flags = false;
  } else {
    auto binary = RequireString(object, "binary", field);
    if (!binary) return binary.error();
    spec.binary = *binary;
    if (spec.binary.empty()) return Invalid(field + ".binary is empty", field + ".binary");
  }

  const json::value* offset = object.if_contains("port_offset");
  if (offset == nullptr) return Invalid(field + ".port_offset is required", field + ".port_offset");
  // Negative offsets let a process keep a conventional port below the base (NATS on 4222 with
  // the default base 8000); the resulting port is range-checked when the launch is planned.
  if (!offset->is_int64() || offset->get_int64() < -65535 || offset->get_int64() > 65535) {
    return Invalid(field + ".port_offset must be an integer in -65535..65535", field + ".port_offset");
  }
  spec.port_offset = static_cast<int>(offset->get_int64());

  if (const json::value* args = object.if_contains("args")) {
    auto parsed = ParseStringList(*args, field + ".args", spec.args);
    if (!parsed) return parsed.error();
  }

  if (const json::value* ready = object.if_contains("ready")) {
    if (!ready->is_string() || (ready->get_string() != "http" && ready->get_string() != "tcp")) {
      return Invalid(field + ".ready must be \"http\" or \"tcp\"", field + ".ready");
    }
    spec.ready = ready->get_string() == "tcp" ? ReadyCheck::kTcp : ReadyCheck::kHttp;
  }

  if (const json::value* path = object.if_contains("ready_path")) {
    if (!path->is_string() || !path->get_string().starts_with("/")) {
      return Invalid(field + ".ready_path must be a string starting with '/'",
                     field + ".ready_path");
    }
    spec.ready_path = std::string(path->get_string());
  }

  if (const json::value* env = object.if_contains("env")) {
    if (!env->is_object())
      return Invalid(field + ".env must be an object of strings", field + ".env");
    for (const auto& entry : env->get_object()) {
      if (!entry.value().is_string()) {
        return Invalid(field + ".env." + std::string(entry.key()) + " must be a string",
                       field + ".env." + std::string(entry.key()));
      }
      spec.env.emplace(std::string(entry.key()), std::string(entry.value().get_string()));
    }
  }

  if (const json::value* own_flags = object.if_contains("own_flags")) {
    if (!own_flags->is_bool())
      return Invalid(field + ".own_flags must be true or false", field + ".own_flags");
    spec.own_flags = own_flags->get_bool();
  }

  if (const json::value* notice = object.if_contains("notice")) {
    // Printed as one line of the start-up report (and framed line by line through the --detach
    // pipe), so it must be one line of text.
    if (!notice->is_string() || notice->get_string().empty() ||
        std::any_of(notice->get_string().begin(), notice->get_string().end(),
                    [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); })) {
      return Invalid(field + ".notice must be a non-empty string of one line", field + ".notice");
    }
    spec.notice = std::string(notice->get_string());
  }
  return spec;
}

bool IsExecutableFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string_view ToString(ReadyCheck check) { return check == ReadyCheck::kTcp ? "tcp" : "http"; }

std::vector<std::string> Topology::Names() const {
  std::vector<std::string> names;
  for (const auto& process : processes) names.push_back(process.name);
  return names;
}

Result<Topology> ParseTopology(std::string_view json_text) {
  json::stream_parser parser;
  boost::system::error_code ec;
  size_t consumed = parser.write(json_text.data(), json_text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    return Invalid("invalid JSON at " + Position(json_text, consumed) + ": " + ec.message(), "");
  }
  json::value root = parser.release();

  if (!root.is_object()) return Invalid("the topology must be a JSON object", "");
  const json::value* processes = root.get_object().if_contains("processes");
  if (processes == nullptr) return Invalid("\"processes\" is required", "processes");
  if (!processes->is_array()) return Invalid("\"processes\" must be an array", "processes");

  Topology topology;
  std::set<std::string> names;
  std::set<int> offsets;
  const json::array& array = processes->get_array();
  for (size_t i = 0; i < array.size(); ++i) {
    auto spec = ParseProcess(array[i], i);
    if (!spec) return spec.error();
    const std::string field = "processes[" + std::to_string(i) + "]";
    if (!names.insert(spec->name).second) {
      return Invalid(field + ".name \"" + spec->name + "\" is used twice", field + ".name");
    }
    if (!offsets.insert(spec->port_offset).second) {
      return Invalid(field + ".port_offset " + std::to_string(spec->port_offset) +
                         " is already taken by another process",
                     field + ".port_offset");
    }
    topology.processes.push_back(std::move(*spec));
  }
  return topology;
}

Result<Topology> LoadTopology(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{ErrorCode::kNotFound, file.string() + ": cannot read the topology file"};
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto topology = ParseTopology(buffer.str());
  if (!topology) {
    Error error = topology.error();
    error.message = file.string() + ": " + error.message;
    return error;
  }
  return topology;
}

Result<Topology> SelectProcesses(const Topology& topology, const std::vector<std::string>& only) {
  if (only.empty()) return topology;
  std::set<std::string> wanted(only.begin(), only.end());
  Topology selected;
  for (const auto& process : topology.processes) {
    if (wanted.erase(process.name) > 0) selected.processes.push_back(process);
  }
  if (!wanted.empty()) {
    std::string known;
    for (const auto& name : topology.Names()) known += (known.empty() ? "" : ", ") + name;
    return Invalid(
        "--only names unknown process \"" + *wanted.begin() + "\" (known: " + known + ")", "only");
  }
  return selected;
}

Result<std::string> ExpandPlaceholders(std::string_view text, const PlaceholderValues& values) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find('{', pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    size_t close = text.find('}', open);
    if (close == std::string_view::npos) {
      return Invalid("unclosed '{' in \"" + std::string(text) + "\"", "");
    }
    std::string_view key = text.substr(open + 1, close - open - 1);
    if (key == "port") {
      out += std::to_string(values.port);
    } else if (key == "data_dir") {
      out += values.data_dir;
    } else if (key == "name") {
      out += values.name;
    } else if (key == "base_port") {
      out += std::to_string(values.base_port);
    } else if (key.starts_with("port:")) {
      auto it = values.ports.find(std::string(key.substr(5)));
      if (it == values.ports.end()) {
        return Invalid("{" + std::string(key) + "} names no process of the topology", "");
      }
      out += std::to_string(it->second);
    } else {
      return Invalid("unknown placeholder {" + std::string(key) + "} in \"" + std::string(text) +
                         "\" (known: {port} {data_dir} {name} {base_port} {port:<process>})",
                     "");
    }
    pos = close + 1;
  }
  return out;
}

Result<fs::path> ResolveBinary(std::string_view binary, const fs::path& exe_dir,
                               std::string_view path_env) {
  if (binary.find('/') != std::string_view::npos) {
    fs::path path(binary);
    if (IsExecutableFile(path)) return fs::absolute(path);
    return Error{ErrorCode::kNotFound, std::string(binary) + " is not an executable file"};
  }
  std::vector<fs::path> tried;
  if (!exe_dir.empty()) {
    tried.push_back(exe_dir / binary);
    if (IsExecutableFile(tried.back())) return tried.back();
  }
  // Debian installs daemons such as nats-server in sbin, which a non-root PATH often lacks.
  std::string search(path_env);
  search += ":/usr/local/sbin:/usr/sbin:/sbin";
  path_env = search;
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string_view::npos) end = path_env.size();
    std::string_view dir = path_env.substr(start, end - start);
    if (!dir.empty()) {  // an empty PATH entry means "." to a shell; we deliberately do not
      tried.push_back(fs::path(dir) / binary);
      if (IsExecutableFile(tried.back())) return tried.back();
    }
    start = end + 1;
  }
  std::string message = "binary \"" + std::string(binary) + "\" not found next to mercato (" +
                        exe_dir.string() + ") or on PATH; build it first";
  return Error{ErrorCode::kNotFound, message};
}

Result<LaunchPlan> PlanLaunch(const ProcessSpec& spec, const LaunchContext& context) {
  LaunchPlan plan;
  plan.name = spec.name;
  plan.port = context.base_port + spec.port_offset;
  if (plan.port <= 0 || plan.port > 65535) {
    return Invalid(spec.name + ": port " + std::to_string(plan.port) +
                       " (base port + port_offset) is out of range",
                   "base_port");
  }
  plan.ready = spec.ready;
  plan.ready_path = spec.ready_path;
  plan.log_file = context.data_dir / "logs" / (spec.name + ".log");

  auto executable = ResolveBinary(spec.binary, context.exe_dir, context.path_env);
  if (!executable)
    return Error{executable.error().code, spec.name + ": " + executable.error().message};
  plan.executable = *executable;

  const PlaceholderValues values{.port = plan.port,
                                 .data_dir = context.data_dir.string(),
                                 .name = spec.name,
                                 .base_port = context.base_port,
                                 .ports = context.ports};
  std::vector<std::string> templates = spec.args;
  if (spec.command) {
    templates = SplitWords(*spec.command);
    templates.erase(templates.begin());  // the program itself, already resolved above
  }
  plan.argv.push_back(plan.executable.string());
  for (const auto& word : templates) {
    auto expanded = ExpandPlaceholders(word, values);
    if (!expanded) return Invalid(spec.name + ": " + expanded.error().message, "args");
    plan.argv.push_back(std::move(*expanded));
  }
  if (spec.own_flags) {
    plan.argv.insert(plan.argv.end(), {"--port", std::to_string(plan.port), "--data-dir",
                                       context.data_dir.string()});
  }
  for (const auto& [key, value] : spec.env) {
    auto expanded = ExpandPlaceholders(value, values);
    if (!expanded)
      return Invalid(spec.name + ": env " + key + ": " + expanded.error().message, "env");
    plan.env[key] = std::move(*expanded);
  }
  if (!spec.notice.empty()) {
    auto expanded = ExpandPlaceholders(spec.notice, values);
    if (!expanded) return Invalid(spec.name + ": notice: " + expanded.error().message, "notice");
    plan.notice = std::move(*expanded);
  }
  return plan;
}

std::optional<fs::path> FindDefaultTopology(const fs::path& exe_dir, const fs::path& cwd) {
  std::error_code ec;
  for (fs::path dir = exe_dir; !dir.empty(); dir = dir.parent_path()) {
    fs::path candidate = dir / kTopologyRelativePath;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    if (dir == dir.parent_path()) break;
  }
  fs::path candidate = cwd / kTopologyRelativePath;
  if (fs::is_regular_file(candidate, ec)) return candidate;
  return std::nullopt;
}

}  // namespace mercato::runner
