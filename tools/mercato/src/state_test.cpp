#include "state.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "mercato/testing/testing.hpp"

namespace mercato::runner {
namespace {

namespace fs = std::filesystem;

RunState SampleState() {
  RunState state;
  state.supervisor_pid = 4242;
  state.base_port = 8000;
  state.phase = "running";
  state.processes.push_back(ProcessState{.name = "nats",
                                         .pid = 100,
                                         .port = 8000,
                                         .ready = true,
                                         .restarts = 0,
                                         .started_at = "2026-01-01T00:00:00.000Z",
                                         .ready_check = ReadyCheck::kTcp,
                                         .ready_path = "/health/ready",
                                         .log_file = "/d/logs/nats.log"});
  state.processes.push_back(ProcessState{.name = "hello",
                                         .pid = 101,
                                         .port = 8190,
                                         .ready = false,
                                         .restarts = 3,
                                         .started_at = "2026-01-01T00:00:05.250Z",
                                         .ready_check = ReadyCheck::kHttp,
                                         .ready_path = "/health/ready",
                                         .log_file = "/d/logs/hello.log"});
  return state;
}

void ExpectSameState(const RunState& actual, const RunState& expected) {
  EXPECT_EQ(actual.supervisor_pid, expected.supervisor_pid);
  EXPECT_EQ(actual.base_port, expected.base_port);
  EXPECT_EQ(actual.phase, expected.phase);
  ASSERT_EQ(actual.processes.size(), expected.processes.size());
  for (size_t i = 0; i < actual.processes.size(); ++i) {
    const auto& a = actual.processes[i];
    const auto& e = expected.processes[i];
    EXPECT_EQ(a.name, e.name);
    EXPECT_EQ(a.pid, e.pid);
    EXPECT_EQ(a.port, e.port);
    EXPECT_EQ(a.ready, e.ready);
    EXPECT_EQ(a.restarts, e.restarts);
    EXPECT_EQ(a.started_at, e.started_at);
    EXPECT_EQ(a.ready_check, e.ready_check);
    EXPECT_EQ(a.ready_path, e.ready_path);
    EXPECT_EQ(a.log_file, e.log_file);
  }
}

TEST(RunState, RoundTripsThroughJson) {
  auto parsed = ParseRunState(ToJson(SampleState()));

  ASSERT_TRUE(parsed) << parsed.error().message;
  ExpectSameState(*parsed, SampleState());
}

TEST(RunState, RoundTripsThroughTheFile) {
  std::string pattern = (fs::temp_directory_path() / "mercato_state_XXXXXX").string();
  const fs::path dir = ::mkdtemp(pattern.data());
  const fs::path file = StateFilePath(dir);

  ASSERT_TRUE(WriteRunState(file, SampleState()));
  auto first = ReadRunState(file);
  RunState changed = SampleState();
  changed.processes[1].restarts = 4;
  ASSERT_TRUE(WriteRunState(file, changed));
  auto second = ReadRunState(file);

  ASSERT_TRUE(first);
  ExpectSameState(*first, SampleState());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->processes[1].restarts, 4);
  // Only the state file remains: the temporary was renamed over it.
  EXPECT_EQ(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator{}), 1);
  fs::remove_all(dir);
}

TEST(RunState, MissingFileIsNotFound) {
  auto state = ReadRunState("/nonexistent/run/mercato.json");

  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kNotFound);
}

TEST(RunState, GarbageIsInvalidArgument) {
  auto bad_json = ParseRunState("{not json");
  auto wrong_shape = ParseRunState(R"({"supervisor_pid":"x"})");

  ASSERT_FALSE(bad_json);
  EXPECT_EQ(bad_json.error().code, ErrorCode::kInvalidArgument);
  ASSERT_FALSE(wrong_shape);
  EXPECT_EQ(wrong_shape.error().code, ErrorCode::kInvalidArgument);
}

TEST(IsProcessAlive, SeesItselfAndNotAReapedOrZombieChild) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Poll (not sleep) until the child is a zombie: alive no more, though not yet reaped.
  mercato::testing::WaitFor([&] { return !IsProcessAlive(child); }, std::chrono::seconds(5));

  EXPECT_TRUE(IsProcessAlive(::getpid()));
  EXPECT_FALSE(IsProcessAlive(child));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(IsProcessAlive(child));
  EXPECT_FALSE(IsProcessAlive(0));
}

}  // namespace
}  // namespace mercato::runner
