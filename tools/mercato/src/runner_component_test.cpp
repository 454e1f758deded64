// Component test of the local runner: the real `mercato` binary starting real processes
// (fake_service, a raw-socket stand-in built for this test) on ephemeral ports. Every wait polls a
// condition against a deadline; every process started is stopped, also when an assertion fails.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "state.hpp"

namespace mercato::runner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

fs::path BinDir() {
  if (const char* dir = std::getenv("MERCATO_BIN_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "bin";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs `mercato args...` and collects its output until it exits (or the deadline passes, which
// kills it and fails the test). A detached supervisor lets go of our pipe once it has its log.
CommandResult RunMercato(const std::vector<std::string>& args, seconds timeout = seconds(60)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  std::vector<std::string> strings = {(BinDir() / "mercato").string()};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandResult result;
  const auto deadline = Clock::now() + timeout;
  char buffer[4096];
  while (Clock::now() < deadline) {
    pollfd readable{.fd = fds[0], .events = POLLIN, .revents = 0};
    if (::poll(&readable, 1, 100) != 1) continue;
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "mercato timed out: " << result.output;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool WaitFor(const std::function<bool()>& condition, seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// Binds port 0 to let the kernel pick, reads it back, and releases it.
std::optional<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  std::optional<int> port;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

bool PortIsFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

// A base port whose next `count` ports are all free right now.
int FreePortRange(int count) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto base = FreePort();
    if (!base || *base + count > 65535) continue;
    bool all_free = true;
    for (int i = 1; i < count && all_free; ++i) all_free = PortIsFree(*base + i);
    if (all_free) return *base;
  }
  ADD_FAILURE() << "no free port range";
  return 0;
}

// The line of a table whose first column is `name`.
std::string RowOf(const std::string& table, const std::string& name) {
  size_t start = 0;
  while (start < table.size()) {
    size_t end = table.find('\n', start);
    if (end == std::string::npos) end = table.size();
    std::string line = table.substr(start, end - start);
    if (line.rfind(name + " ", 0) == 0) return line;
    start = end + 1;
  }
  return {};
}

class RunnerComponentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mercato_runner_XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    data_dir_ = root_ / "data";
    topology_ = root_ / "topology.json";
  }

  void TearDown() override {
    // Whatever happened above, nothing may outlive the test.
    if (fs::exists(StateFilePath(data_dir_))) {
      RunMercato({"down", "--data-dir", data_dir_.string()});
    }
    for (pid_t pid : pids_) {
      if (IsProcessAlive(pid)) ::kill(pid, SIGKILL);
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void WriteTopology(const std::string& json) { std::ofstream(topology_) << json; }

  CommandResult Up(int base_port) {
    return RunMercato({"up", "--detach", "--data-dir", data_dir_.string(), "--base-port",
                       std::to_string(base_port), "--topology", topology_.string()});
  }

  // Remembers every pid the state file names, for the "all gone" check and for TearDown.
  std::optional<RunState> ReadState() {
    auto state = ReadRunState(StateFilePath(data_dir_));
    if (!state) return std::nullopt;
    pids_.push_back(state->supervisor_pid);
    for (const auto& process : state->processes) {
      if (process.pid > 0) pids_.push_back(process.pid);
    }
    return std::move(*state);
  }

  fs::path root_;
  fs::path data_dir_;
  fs::path topology_;
  std::vector<pid_t> pids_;
};

TEST_F(RunnerComponentTest, StartsSupervisesRestartsAndStops) {
  const int base_port = FreePortRange(2);
  WriteTopology(R"({"processes":[
    {"name":"steady","binary":"fake_service","port_offset":0},
    {"name":"crashy","binary":"fake_service","port_offset":1,"args":["--crash-after-ms","700"]}]})");

  CommandResult up = Up(base_port);

  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_NE(up.output.find("NAME"), std::string::npos) << up.output;
  EXPECT_NE(up.output.find("URL"), std::string::npos) << up.output;
  EXPECT_NE(RowOf(up.output, "steady").find(std::to_string(base_port)), std::string::npos)
      << up.output;
  EXPECT_NE(RowOf(up.output, "crashy").find(std::to_string(base_port + 1)), std::string::npos)
      << up.output;

  // crashy exits once after 700 ms; the supervisor restarts it and it becomes ready again.
  CommandResult status;
  bool recovered = WaitFor(
      [&] {
        auto state = ReadState();
        if (!state || state->processes.size() != 2 || state->processes[1].restarts < 1)
          return false;
        status = RunMercato({"status", "--data-dir", data_dir_.string()});
        return status.exit_code == 0;
      },
      seconds(30));
  ASSERT_TRUE(recovered) << status.output;
  const std::string steady_row = RowOf(status.output, "steady");
  const std::string crashy_row = RowOf(status.output, "crashy");
  EXPECT_NE(steady_row.find(" yes "), std::string::npos) << status.output;
  EXPECT_NE(crashy_row.find(" yes "), std::string::npos) << status.output;
  auto state = ReadState();
  ASSERT_TRUE(state);
  EXPECT_GE(state->processes[1].restarts, 1);
  EXPECT_EQ(state->processes[0].restarts, 0);
  EXPECT_TRUE(fs::exists(data_dir_ / "logs" / "steady.log"));
  EXPECT_TRUE(fs::exists(data_dir_ / "logs" / "crashy.log"));
  EXPECT_TRUE(fs::exists(data_dir_ / "logs" / "mercato.log"));

  // One supervisor per data dir.
  CommandResult second = Up(base_port);
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find("already running"), std::string::npos) << second.output;

  CommandResult down = RunMercato({"down", "--data-dir", data_dir_.string()});

  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_NE(down.output.find("stopped steady"), std::string::npos) << down.output;
  EXPECT_NE(down.output.find("stopped crashy"), std::string::npos) << down.output;
  EXPECT_TRUE(WaitFor(
      [&] {
        for (pid_t pid : pids_) {
          if (IsProcessAlive(pid)) return false;
        }
        return true;
      },
      seconds(10)));
  EXPECT_FALSE(fs::exists(StateFilePath(data_dir_)));
  EXPECT_EQ(RunMercato({"status", "--data-dir", data_dir_.string()}).exit_code, 3);
  EXPECT_EQ(RunMercato({"down", "--data-dir", data_dir_.string()}).exit_code, 0);
}

TEST_F(RunnerComponentTest, ReportsAProcessThatDiesWhileStarting) {
  const int base_port = FreePortRange(1);
  WriteTopology(R"({"processes":[
    {"name":"broken","binary":"fake_service","port_offset":0,"args":["--no-such-flag","1"]}]})");

  CommandResult up = Up(base_port);

  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_NE(up.output.find("broken: exited with status 2 before it was ready"), std::string::npos)
      << up.output;
  EXPECT_NE(up.output.find("bad flag --no-such-flag"), std::string::npos) << up.output;  // log tail
  EXPECT_FALSE(fs::exists(StateFilePath(data_dir_)));
}

TEST_F(RunnerComponentTest, RejectsUnknownOptionsWithUsageExit) {
  CommandResult up = RunMercato({"up", "--detatch"});
  CommandResult command = RunMercato({"upp"});
  CommandResult help = RunMercato({"up", "--help"});

  EXPECT_EQ(up.exit_code, 2);
  EXPECT_NE(up.output.find("--detatch"), std::string::npos) << up.output;
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--base-port"), std::string::npos) << help.output;
}

TEST_F(RunnerComponentTest, StatusOfNothingIsNotRunning) {
  EXPECT_EQ(RunMercato({"status", "--data-dir", data_dir_.string()}).exit_code, 3);
}

}  // namespace
}  // namespace mercato::runner
