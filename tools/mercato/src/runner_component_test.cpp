// Component test of the local runner: the real `mercato` binary starting real processes
// (fake_service, a raw-socket stand-in built for this test) on ephemeral ports. Every wait polls a
// condition against a deadline; every process started is stopped, also when an assertion fails.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "mercato/http/blocking_client.hpp"
#include "mercato/testing/testing.hpp"
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
  if (!mercato::testing::WaitFor([&] { return ::waitpid(pid, &status, WNOHANG) != 0; },
                                 deadline - Clock::now())) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "mercato timed out: " << result.output;
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Polls every 50 ms rather than the shared default: some conditions run `mercato status`.
bool WaitFor(const std::function<bool()>& condition, seconds timeout) {
  return mercato::testing::WaitFor(condition, timeout, std::chrono::milliseconds(50));
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
  const int base_port = mercato::testing::FreeTcpPortRange(2);
  WriteTopology(R"({"processes":[
    {"name":"steady","binary":"fake_service","port_offset":0,
     "notice":"credentials in {data_dir}/secrets/steady.json"},
    {"name":"crashy","binary":"fake_service","port_offset":1,"args":["--crash-after-ms","700"]}]})");

  CommandResult up = Up(base_port);

  ASSERT_EQ(up.exit_code, 0) << up.output;
  // The notice comes after the table, placeholders expanded; crashy has none.
  const size_t notice =
      up.output.find("\nsteady: credentials in " +
                     (fs::weakly_canonical(data_dir_) / "secrets/steady.json").string() + "\n");
  EXPECT_NE(notice, std::string::npos) << up.output;
  EXPECT_GT(notice, up.output.find("NAME")) << up.output;
  EXPECT_EQ(up.output.find("crashy: "), std::string::npos) << up.output;
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

// The real sample service under the runner, with the entry deploy/local/topology.json has for it
// (only the port offset differs, so the test can pick a free port).
TEST_F(RunnerComponentTest, RunsRestartsAndStopsTheHelloSample) {
  const int port = mercato::testing::FreeTcpPort();
  const int base_port = port - 3;  // the port_offset below
  WriteTopology(R"({"processes":[
    {"name":"hello","binary":"hello","port_offset":3,"args":[],"ready_path":"/health/ready"}]})");

  CommandResult up = Up(base_port);

  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_NE(RowOf(up.output, "hello").find(std::to_string(port)), std::string::npos) << up.output;
  http::BlockingCall call;
  call.url = "http://127.0.0.1:" + std::to_string(port) + "/hello/x";
  call.timeout = seconds(5);
  auto hello = http::BlockingRequest(call);
  ASSERT_TRUE(hello) << hello.error().message;
  EXPECT_EQ(hello->status, 200) << hello->body;
  CommandResult status = RunMercato({"status", "--data-dir", data_dir_.string()});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  auto started = ReadState();
  ASSERT_TRUE(started && started->processes.size() == 1);
  const pid_t first_pid = started->processes[0].pid;
  ASSERT_GT(first_pid, 0);

  // A crash (SIGKILL: no drain, no goodbye) is noticed, and hello is restarted and ready again.
  ASSERT_EQ(::kill(first_pid, SIGKILL), 0);
  pid_t second_pid = 0;
  bool recovered = WaitFor(
      [&] {
        auto state = ReadState();
        if (!state || state->processes.size() != 1) return false;
        const ProcessState& process = state->processes[0];
        if (process.restarts < 1 || !process.ready || process.pid == first_pid) return false;
        second_pid = process.pid;
        status = RunMercato({"status", "--data-dir", data_dir_.string()});
        return status.exit_code == 0;
      },
      seconds(30));
  ASSERT_TRUE(recovered) << status.output;
  EXPECT_NE(RowOf(status.output, "hello").find(" yes "), std::string::npos) << status.output;
  EXPECT_FALSE(IsProcessAlive(first_pid));

  CommandResult down = RunMercato({"down", "--data-dir", data_dir_.string()});

  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_NE(down.output.find("stopped hello"), std::string::npos) << down.output;
  EXPECT_TRUE(WaitFor([&] { return !IsProcessAlive(second_pid); }, seconds(10)));
  EXPECT_FALSE(fs::exists(StateFilePath(data_dir_)));
  // Both runs append to one file: the runner's banner line per start, then hello's JSON lines.
  const fs::path log_file = data_dir_ / "logs" / "hello.log";
  ASSERT_TRUE(fs::exists(log_file));
  std::ifstream log(log_file);
  int json_lines = 0;
  int starts = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.starts_with("--- mercato: starting hello")) continue;
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(line, ec);
    EXPECT_TRUE(!ec && parsed.is_object()) << "not a JSON log line: " << line;
    if (ec || !parsed.is_object()) continue;
    ++json_lines;
    const boost::json::value* msg = parsed.get_object().if_contains("msg");
    if (msg != nullptr && msg->is_string() && msg->get_string() == "starting") ++starts;
  }
  EXPECT_GT(json_lines, 0);
  EXPECT_EQ(starts, 2) << "the first run and the restart; log: " << log_file;
}

TEST_F(RunnerComponentTest, ReportsAProcessThatDiesWhileStarting) {
  const int base_port = mercato::testing::FreeTcpPort();
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
