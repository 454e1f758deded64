#include "commands.hpp"

#include "seed.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "mercato/core/clock.hpp"
#include "probe.hpp"
#include "supervisor.hpp"
#include "topology.hpp"

namespace mercato::runner {
namespace fs = std::filesystem;

const char kMainHelp[] = R"(usage: mercato <command> [options]

Runs Mercato locally: every process of deploy/local/topology.json, supervised.

commands:
  up      start every process in order, wait until each is ready, keep them running
  status  show what is running, whether each process is ready, restarts, memory, uptime
  down    stop a detached `mercato up`
  seed    load the demo shop (categories, ~1,000 products, stock) into a running platform

`mercato <command> --help` lists a command's options.
)";

const char kUpHelp[] = R"(usage: mercato up [options]

Starts the processes of the topology in order, waits for each to be ready, prints a table of
them (and each process' notice, e.g. where identity put the first admin's credentials) and
supervises them (restarts on crash with backoff) until Ctrl-C / SIGTERM.

options:
  --detach           supervise in the background; return once everything is ready
  --data-dir DIR     data, logs (DIR/logs) and run state (DIR/run) (default: ./data)
  --base-port N      each process listens on N + its port_offset (default: 8000)
  --topology FILE    the topology (default: deploy/local/topology.json of this checkout)
  --only A,B         start only the named processes
  --no-seed          with --detach: do not load the demo shop into an empty catalog
  --help             this text

With --detach, once everything is ready, a data directory not seeded yet gets the demo shop
(`mercato seed`: 20 categories, 1,000 products, stock in two warehouses).
)";

const char kStatusHelp[] = R"(usage: mercato status [options]

Shows each process of a running `mercato up`, probing readiness live.
Exit status: 0 all ready, 1 something not ready, 3 not running.

options:
  --data-dir DIR     the data directory `mercato up` used (default: ./data)
  --help             this text
)";

const char kDownHelp[] = R"(usage: mercato down [options]

Stops a running `mercato up`: its supervisor sends each process SIGTERM in reverse start order
and allows it 25 s to drain before SIGKILL.

options:
  --data-dir DIR     the data directory `mercato up` used (default: ./data)
  --help             this text
)";

namespace {

using SteadyClock = std::chrono::steady_clock;

Error Usage(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

// Walks `args`, handing each option and (for those that take one) its value to `on_option`.
// Accepts both "--name value" and "--name=value".
template <class OnOption>
Result<void> WalkOptions(const std::vector<std::string>& args,
                         const std::vector<std::string>& with_value, OnOption on_option) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (size_t equals = name.find('='); name.starts_with("--") && equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    const bool takes_value =
        std::find(with_value.begin(), with_value.end(), name) != with_value.end();
    if (takes_value && !value) {
      if (i + 1 >= args.size()) return Usage("option " + name + " needs a value");
      value = args[++i];
    } else if (!takes_value && value) {
      return Usage("option " + name + " takes no value");
    }
    auto handled = on_option(name, value.value_or(""));
    if (!handled) return handled;
  }
  return Ok();
}

Result<int> ParsePort(const std::string& text, const std::string& option) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > 65535) {
    return Usage(option + " must be a port number (1-65535), got \"" + text + "\"");
  }
  return value;
}

std::vector<std::string> SplitCommaList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::string DescribeProcessUrl(const ProcessState& process) {
  if (process.ready_check == ReadyCheck::kTcp)
    return "tcp://127.0.0.1:" + std::to_string(process.port);
  return "http://127.0.0.1:" + std::to_string(process.port) + "/";
}

void WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader went away; the supervisor keeps running regardless
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Start-up progress for `mercato up` in the foreground: straight to the terminal.
class ConsoleReporter final : public Reporter {
 public:
  ConsoleReporter(fs::path data_dir, std::string notices)
      : data_dir_(std::move(data_dir)), notices_(std::move(notices)) {}
  void Progress(std::string_view text, bool end_line) override {
    std::cout << text;
    if (end_line) std::cout << '\n';
    std::cout << std::flush;
  }
  void Ready(const RunState& state) override {
    std::cout << '\n'
              << FormatStartTable(state) << '\n'
              << notices_ << "mercato: supervising " << state.processes.size()
              << " process(es) with data in " << data_dir_.string() << "; Ctrl-C stops them all"
              << std::endl;
  }
  void Failed(std::string_view reason) override {
    std::cerr << "mercato: start-up failed: " << reason << std::endl;
  }

 private:
  fs::path data_dir_;
  std::string notices_;
};

// Start-up progress of a detached supervisor: to its own log (stdout) and, framed, through a pipe
// to the `mercato up` still waiting in the foreground. One frame per line: a type letter, then
// text without newlines. 'p' = progress fragment, 'l' = progress line, 'R' = ready, 'F' = failed.
class PipeReporter final : public Reporter {
 public:
  PipeReporter(int fd, std::string notices) : fd_(fd), notices_(std::move(notices)) {}
  ~PipeReporter() override { Close(); }
  void Progress(std::string_view text, bool end_line) override {
    std::cout << text;
    if (end_line) std::cout << '\n';
    std::cout << std::flush;
    Send(end_line ? 'l' : 'p', text);
  }
  void Ready(const RunState& state) override {
    std::cout << '\n' << FormatStartTable(state) << '\n' << notices_ << std::flush;
    Send('R', "");
    Close();
  }
  void Failed(std::string_view reason) override {
    std::cout << "mercato: start-up failed: " << reason << std::endl;
    Send('F', reason);
    Close();
  }

 private:
  void Send(char type, std::string_view text) {
    if (fd_ < 0) return;
    std::string frame(1, type);
    for (char c : text) frame += (c == '\n' ? ' ' : c);
    frame += '\n';
    WriteAll(fd_, frame);
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
  std::string notices_;
};

// Relays the detached supervisor's frames to the terminal; returns the exit code for `up`.
// `notices` (FormatNotices) are printed by this side once the supervisor reports ready.
int FollowDetachedStart(int fd, const fs::path& data_dir, const std::string& notices) {
  std::string buffer;
  char chunk[4096];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      std::string frame = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      if (frame.empty()) continue;
      std::string text = frame.substr(1);
      switch (frame[0]) {
        case 'p':
          std::cout << text << std::flush;
          break;
        case 'l':
          std::cout << text << std::endl;
          break;
        case 'R': {
          auto state = ReadRunState(StateFilePath(data_dir));
          if (!state) {
            std::cerr << "mercato: supervisor reported ready but " << state.error().message << "\n";
            return kExitFailure;
          }
          std::cout << '\n'
                    << FormatStartTable(*state) << '\n'
                    << notices << "mercato: supervisor pid " << state->supervisor_pid
                    << " runs in the background (log "
                    << (data_dir / "logs" / "mercato.log").string()
                    << "); stop it with: mercato down --data-dir " << data_dir.string()
                    << std::endl;
          return kExitOk;
        }
        case 'F':
          std::cerr << "mercato: start-up failed: " << text
                    << " (supervisor log: " << (data_dir / "logs" / "mercato.log").string() << ")"
                    << std::endl;
          return kExitFailure;
        default:
          break;
      }
    }
  }
  std::cerr << "mercato: the supervisor exited before everything was ready; see "
            << (data_dir / "logs" / "mercato.log").string() << std::endl;
  return kExitFailure;
}

// Held by the supervisor for its whole life (the lock belongs to the open file, which a detached
// supervisor inherits), so two `up`s racing on one data dir cannot both start.
int AcquireRunLock(const fs::path& data_dir) {
  const fs::path lock_file = data_dir / "run" / "mercato.lock";
  int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string AlreadyRunningMessage(const fs::path& data_dir, pid_t pid) {
  return "mercato: already running on " + data_dir.string() +
         (pid > 0 ? " (supervisor pid " + std::to_string(pid) + ")" : std::string()) +
         "; stop it first with: mercato down --data-dir " + data_dir.string();
}

// A state file can outlive its supervisor (SIGKILL, reboot) and the pid be reused by anything;
// `down` must not SIGTERM a stranger, so the pid also has to belong to a `mercato` process.
bool IsSupervisorAlive(pid_t pid) {
  if (!IsProcessAlive(pid)) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (!std::getline(comm, name)) return true;  // cannot tell; assume it is ours
  return name == "mercato";
}

double RssMiB(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  long total_pages = 0;
  long resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return static_cast<double>(resident_pages) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

// The run state of a live supervisor on `data_dir`, or nullopt (after saying why) if none runs.
std::optional<RunState> LiveState(const fs::path& data_dir) {
  auto state = ReadRunState(StateFilePath(data_dir));
  if (!state) {
    if (state.error().code == ErrorCode::kNotFound) {
      std::cout << "mercato: not running on " << data_dir.string() << std::endl;
    } else {
      std::cerr << "mercato: " << state.error().message << std::endl;
    }
    return std::nullopt;
  }
  if (!IsSupervisorAlive(state->supervisor_pid)) {
    std::cout << "mercato: not running on " << data_dir.string() << " (stale state from pid "
              << state->supervisor_pid << " removed)" << std::endl;
    std::error_code ec;
    fs::remove(StateFilePath(data_dir), ec);
    return std::nullopt;
  }
  return std::move(*state);
}

fs::path Absolute(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path) : absolute;
}

}  // namespace

Result<UpOptions> ParseUpOptions(const std::vector<std::string>& args) {
  UpOptions options;
  auto walked = WalkOptions(
      args, {"--data-dir", "--base-port", "--topology", "--only"},
      [&](const std::string& name, const std::string& value) -> Result<void> {
        if (name == "--help" || name == "-h") {
          options.help = true;
        } else if (name == "--detach") {
          options.detach = true;
        } else if (name == "--no-seed") {
          options.no_seed = true;
        } else if (name == "--data-dir") {
          if (value.empty()) return Usage("--data-dir needs a directory");
          options.data_dir = value;
        } else if (name == "--base-port") {
          auto port = ParsePort(value, "--base-port");
          if (!port) return port.error();
          options.base_port = *port;
        } else if (name == "--topology") {
          if (value.empty()) return Usage("--topology needs a file");
          options.topology = value;
        } else if (name == "--only") {
          options.only = SplitCommaList(value);
          if (options.only.empty())
            return Usage("--only needs process names (--only hello,orders)");
        } else {
          return Usage("unknown option \"" + name + "\" for mercato up (see mercato up --help)");
        }
        return Ok();
      });
  if (!walked) return walked.error();
  return options;
}

Result<DataDirOptions> ParseDataDirOptions(const std::vector<std::string>& args) {
  DataDirOptions options;
  auto walked = WalkOptions(args, {"--data-dir"},
                            [&](const std::string& name, const std::string& value) -> Result<void> {
                              if (name == "--help" || name == "-h") {
                                options.help = true;
                              } else if (name == "--data-dir") {
                                if (value.empty()) return Usage("--data-dir needs a directory");
                                options.data_dir = value;
                              } else {
                                return Usage("unknown option \"" + name + "\"");
                              }
                              return Ok();
                            });
  if (!walked) return walked.error();
  return options;
}

std::chrono::seconds DownTimeout(size_t process_count) {
  // Room for the supervisor itself to write its state and exit once its children are gone.
  constexpr std::chrono::seconds kMargin{5};
  return kDefaultStopTimeout * static_cast<long>(process_count) + kMargin;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string FormatUptime(std::chrono::seconds uptime) {
  const long long total = std::max<long long>(0, uptime.count());
  char buffer[32];
  if (total < 60) {
    std::snprintf(buffer, sizeof buffer, "%llds", total);
  } else if (total < 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", total / 60, total % 60);
  } else if (total < 86400) {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", total / 3600, total % 3600 / 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldd%02lldh", total / 86400, total % 86400 / 3600);
  }
  return buffer;
}

std::string FormatNotices(const std::vector<LaunchPlan>& plans) {
  std::string out;
  for (const auto& plan : plans) {
    if (!plan.notice.empty()) out += plan.name + ": " + plan.notice + "\n";
  }
  return out;
}

std::string FormatStartTable(const RunState& state) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "PID", "PORT", "URL", "LOG"}};
  for (const auto& process : state.processes) {
    rows.push_back({process.name, std::to_string(process.pid), std::to_string(process.port),
                    DescribeProcessUrl(process), process.log_file});
  }
  return FormatTable(rows);
}

int RunUp(const UpOptions& options, const fs::path& exe_dir) {
  const fs::path data_dir = Absolute(options.data_dir);

  std::optional<fs::path> topology_file = options.topology;
  if (!topology_file) topology_file = FindDefaultTopology(exe_dir, fs::current_path());
  if (!topology_file) {
    std::cerr << "mercato: no deploy/local/topology.json above " << exe_dir.string()
              << " or in the current directory; pass --topology FILE" << std::endl;
    return kExitFailure;
  }
  auto topology = LoadTopology(*topology_file);
  if (!topology) {
    std::cerr << "mercato: " << topology.error().message << std::endl;
    return kExitFailure;
  }
  auto selected = SelectProcesses(*topology, options.only);
  if (!selected) {
    std::cerr << "mercato: " << selected.error().message << std::endl;
    return kExitUsage;
  }

  std::error_code ec;
  fs::create_directories(data_dir / "logs", ec);
  if (!ec) fs::create_directories(data_dir / "run", ec);
  if (ec) {
    std::cerr << "mercato: cannot create " << data_dir.string() << ": " << ec.message()
              << std::endl;
    return kExitFailure;
  }

  auto previous = ReadRunState(StateFilePath(data_dir));
  // Deliberately never closed: the lock lives exactly as long as this (supervisor) process.
  const int lock_fd = AcquireRunLock(data_dir);
  if (lock_fd < 0 || (previous && IsSupervisorAlive(previous->supervisor_pid))) {
    std::cerr << AlreadyRunningMessage(data_dir, previous ? previous->supervisor_pid : 0)
              << std::endl;
    return kExitFailure;
  }

  const char* path_env = std::getenv("PATH");
  std::map<std::string, int> ports;  // of the whole topology, so --only still resolves {port:x}
  for (const auto& spec : topology->processes) ports[spec.name] = options.base_port + spec.port_offset;
  const LaunchContext context{.base_port = options.base_port,
                              .ports = ports,
                              .data_dir = data_dir,
                              .exe_dir = exe_dir,
                              .path_env = path_env != nullptr ? path_env : ""};
  std::vector<LaunchPlan> plans;
  for (const auto& spec : selected->processes) {
    auto plan = PlanLaunch(spec, context);
    if (!plan) {
      std::cerr << "mercato: " << plan.error().message << std::endl;
      return kExitFailure;
    }
    // Something already listening would answer our readiness probe for a process that is not
    // even ours; refuse instead of reporting a false "ready".
    if (CanConnect(plan->port, std::chrono::milliseconds(200))) {
      std::cerr << "mercato: port " << plan->port << " for " << plan->name
                << " is already in use; stop what listens there or pick another --base-port"
                << std::endl;
      return kExitFailure;
    }
    plans.push_back(std::move(*plan));
  }

  // Computed here, before the plans move into the supervisor: a detached `up` prints them from
  // this process, which never sees the plans again.
  const std::string notices = FormatNotices(plans);
  // The demo shop is loaded after a detached start when both services it fills are part of it
  // (`mercato seed` does nothing once the catalog has products).
  bool has_catalog = false, has_inventory = false;
  for (const auto& plan : plans) {
    has_catalog = has_catalog || plan.name == "catalog";
    has_inventory = has_inventory || plan.name == "inventory";
  }
  SupervisorOptions supervisor_options;
  supervisor_options.plans = std::move(plans);
  supervisor_options.data_dir = data_dir;
  supervisor_options.base_port = options.base_port;

  if (!options.detach) {
    BlockSupervisorSignals();
    ConsoleReporter reporter(data_dir, notices);
    return Supervisor(std::move(supervisor_options), reporter).Run();
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    std::cerr << "mercato: pipe: " << std::strerror(errno) << std::endl;
    return kExitFailure;
  }
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = ::fork();
  if (pid < 0) {
    std::cerr << "mercato: fork: " << std::strerror(errno) << std::endl;
    return kExitFailure;
  }
  if (pid > 0) {
    ::close(pipe_fds[1]);
    int code = FollowDetachedStart(pipe_fds[0], data_dir, notices);
    ::close(pipe_fds[0]);
    if (code == kExitOk && has_catalog && has_inventory && !options.no_seed) {
      SeedOptions seed;
      seed.data_dir = data_dir;
      seed.skip_if_done = true;
      code = RunSeed(seed);
    }
    return code;
  }

  // The supervisor: its own session, so closing the terminal or Ctrl-C there does not reach it.
  ::close(pipe_fds[0]);
  BlockSupervisorSignals();
  ::setsid();
  const fs::path log_file = data_dir / "logs" / "mercato.log";
  int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::close(log_fd);
  }
  if (null_fd >= 0) {
    ::dup2(null_fd, STDIN_FILENO);
    ::close(null_fd);
  }
  std::cout << "--- mercato supervisor pid " << ::getpid() << " starting at "
            << FormatRfc3339(std::chrono::system_clock::now()) << std::endl;
  PipeReporter reporter(pipe_fds[1], notices);
  return Supervisor(std::move(supervisor_options), reporter).Run();
}

int RunStatus(const DataDirOptions& options) {
  const fs::path data_dir = Absolute(options.data_dir);
  auto state = LiveState(data_dir);
  if (!state) return kExitNotRunning;

  std::vector<std::vector<std::string>> rows = {
      {"NAME", "PID", "PORT", "READY", "RESTARTS", "RSS", "UPTIME"}};
  bool all_ready = true;
  const auto now = std::chrono::system_clock::now();
  for (const auto& process : state->processes) {
    const bool alive = IsProcessAlive(process.pid);
    const bool ready = alive && ProbeReady(process.ready_check, process.port, process.ready_path);
    all_ready = all_ready && ready;
    char rss[32] = "-";
    if (alive) std::snprintf(rss, sizeof rss, "%.1f MiB", RssMiB(process.pid));
    std::string uptime = "-";
    WallTime started;
    if (alive && ParseRfc3339(process.started_at, started)) {
      uptime = FormatUptime(std::chrono::duration_cast<std::chrono::seconds>(now - started));
    }
    rows.push_back({process.name, alive ? std::to_string(process.pid) : "-",
                    std::to_string(process.port), ready ? "yes" : "no",
                    std::to_string(process.restarts), rss, uptime});
  }
  std::cout << "mercato: supervisor pid " << state->supervisor_pid << " (" << state->phase
            << "), data in " << data_dir.string() << "\n\n"
            << FormatTable(rows) << std::flush;
  return all_ready ? kExitOk : kExitFailure;
}

int RunDown(const DataDirOptions& options) {
  const fs::path data_dir = Absolute(options.data_dir);
  auto state = LiveState(data_dir);
  if (!state) {
    std::cout << "mercato: nothing to stop" << std::endl;
    return kExitOk;
  }
  const pid_t supervisor = state->supervisor_pid;
  const std::chrono::seconds timeout = DownTimeout(state->processes.size());
  const auto begin = SteadyClock::now();
  std::cout << "mercato: stopping supervisor pid " << supervisor << " ..." << std::endl;
  ::kill(supervisor, SIGTERM);
  while (IsProcessAlive(supervisor) && SteadyClock::now() - begin < timeout) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (IsProcessAlive(supervisor)) {
    // A wedged supervisor must not leave services running: kill it and each child's group.
    std::cerr << "mercato: supervisor did not stop within " << timeout.count()
              << " s; killing it and its processes" << std::endl;
    ::kill(supervisor, SIGKILL);
    for (const auto& process : state->processes) {
      if (process.pid > 0) ::kill(-process.pid, SIGKILL);
    }
    std::error_code ec;
    fs::remove(StateFilePath(data_dir), ec);
  }
  for (auto it = state->processes.rbegin(); it != state->processes.rend(); ++it) {
    if (it->pid > 0) std::cout << "stopped " << it->name << " (pid " << it->pid << ")\n";
  }
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f",
                std::chrono::duration<double>(SteadyClock::now() - begin).count());
  std::cout << "stopped supervisor (pid " << supervisor << ") in " << elapsed << " s" << std::endl;
  return kExitOk;
}

}  // namespace mercato::runner
