// The local topology: which processes `mercato up` starts, in what order, on which ports, and how
// each one proves it is ready. Parsed from deploy/local/topology.json and turned into concrete
// launch plans (absolute executable, argv, env, port) before anything is forked.
//
//   auto topology = runner::LoadTopology("deploy/local/topology.json");
//   auto plan = runner::PlanLaunch(topology->processes[0], {.base_port = 8000, .data_dir =
//   "/abs/data"});
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"

namespace mercato::runner {

enum class ReadyCheck {
  kHttp,  // GET http://127.0.0.1:<port><ready_path> answers 200
  kTcp,   // something accepts a TCP connection on the port (NATS, databases)
};

std::string_view ToString(ReadyCheck check);

struct ProcessSpec {
  std::string name;
  std::string binary;  // a bare name resolved next to `mercato`, then on PATH; or a path
  // An external tool's full command line ("nats-server -p {port} -sd {data_dir}/nats"); words
  // are split on whitespace before placeholders expand, so paths with spaces survive.
  std::optional<std::string> command;
  int port_offset = 0;
  std::vector<std::string> args;
  std::string ready_path = "/health/ready";
  ReadyCheck ready = ReadyCheck::kHttp;
  std::map<std::string, std::string> env;
  // Mercato's own services take --port/--data-dir; external tools (those given a `command`)
  // do not, so the default follows whether `command` is present.
  bool own_flags = true;
  // One line `mercato up` prints (as "<name>: <notice>") once everything is ready, for what a
  // person must know to use the process, e.g. "first admin's credentials: {data_dir}/secrets/
  // admin.json". Same placeholders as args. Empty: nothing to say.
  std::string notice;
};

struct Topology {
  std::vector<ProcessSpec> processes;
  // Names in start order, for --only validation and messages.
  std::vector<std::string> Names() const;
};

// invalid_argument naming the problem (JSON syntax with its position, or the offending field as
// "processes[1].port_offset") when the document is not a valid topology.
Result<Topology> ParseTopology(std::string_view json_text);
// As ParseTopology; not_found when the file cannot be read. Messages start with the path.
Result<Topology> LoadTopology(const std::filesystem::path& file);

// Keeps only the named processes, in topology order; invalid_argument names unknown ones.
Result<Topology> SelectProcesses(const Topology& topology, const std::vector<std::string>& only);

struct PlaceholderValues {
  int port = 0;
  std::string data_dir;
  std::string name;
  int base_port = 0;
  // Every process' port by name, for {port:<name>} (e.g. a service's --nats-url).
  std::map<std::string, int> ports;
};

// Replaces {port}, {data_dir}, {name}, {base_port} and {port:<process>}; invalid_argument for
// any other {...} or an unclosed brace, so a typo fails at start-up instead of reaching the child.
Result<std::string> ExpandPlaceholders(std::string_view text, const PlaceholderValues& values);

// A name containing '/' is a path (relative to the working directory); a bare name is looked up
// in `exe_dir` first (our own freshly built binaries win over anything installed), then in each
// directory of `path_env`. not_found names everything that was tried.
Result<std::filesystem::path> ResolveBinary(std::string_view binary,
                                            const std::filesystem::path& exe_dir,
                                            std::string_view path_env);

struct LaunchContext {
  int base_port = 8000;
  std::map<std::string, int> ports;  // every process' port by name ({port:<name>})
  std::filesystem::path data_dir;  // absolute: children may change directory
  std::filesystem::path exe_dir;   // where `mercato` itself lives
  std::string path_env;            // $PATH
};

// Everything needed to fork/exec one process, computed up front so nothing can fail (or
// allocate) between fork and exec.
struct LaunchPlan {
  std::string name;
  std::filesystem::path executable;
  std::vector<std::string> argv;           // argv[0] included
  std::map<std::string, std::string> env;  // added to (and overriding) the runner's environment
  int port = 0;
  ReadyCheck ready = ReadyCheck::kHttp;
  std::string ready_path;
  std::filesystem::path log_file;
  std::string notice;  // placeholders expanded; empty when the process has none
};

Result<LaunchPlan> PlanLaunch(const ProcessSpec& spec, const LaunchContext& context);

// deploy/local/topology.json found by walking up from `exe_dir` (the binary lives in the repo's
// build tree), then under `cwd`; nullopt if neither has one.
std::optional<std::filesystem::path> FindDefaultTopology(const std::filesystem::path& exe_dir,
                                                         const std::filesystem::path& cwd);

}  // namespace mercato::runner
