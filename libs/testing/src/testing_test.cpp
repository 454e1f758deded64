// The shared test helpers themselves: ports, and the environment a ChildProcess starts with.
#include "mercato/testing/testing.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

namespace mercato::testing {
namespace {

using std::chrono::seconds;

// 0 if a listener could be bound to 127.0.0.1:`port`, else the errno.
int ListenError(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  int error = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 1) != 0) {
    error = errno;
  }
  close(fd);
  return error;
}

int ConnectError(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  int error = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  close(fd);
  return error;
}

TEST(FreeTcpPort, IsFreeToListenOn) {
  const uint16_t port = FreeTcpPort();

  EXPECT_GT(port, 0);
  EXPECT_EQ(ListenError(port), 0);
}

TEST(FreeTcpPortRange, EveryPortOfTheRangeIsFree) {
  const uint16_t base = FreeTcpPortRange(3);

  for (int i = 0; i < 3; ++i) EXPECT_EQ(ListenError(static_cast<uint16_t>(base + i)), 0) << i;
}

TEST(ClosedTcpPort, RefusesConnectionsAndCannotBeTaken) {
  const uint16_t port = ClosedTcpPort();

  EXPECT_EQ(ConnectError(port), ECONNREFUSED);
  EXPECT_EQ(ListenError(port), EADDRINUSE);
}

TEST(ChildProcess, GetsTheParentEnvironmentWithOverrides) {
  TempDir dir;
  const std::string out = dir.path() + "/out";
  setenv("MERCATO_TESTING_KEPT", "kept", 1);
  setenv("MERCATO_TESTING_REPLACED", "old", 1);

  auto child = ChildProcess::Start(
      "/bin/sh",
      {"-c", "echo \"$MERCATO_TESTING_KEPT $MERCATO_TESTING_REPLACED $MERCATO_TESTING_ADDED\""},
      {{"MERCATO_TESTING_REPLACED", "first"},
       {"MERCATO_TESTING_ADDED", "added"},
       {"MERCATO_TESTING_REPLACED", "new"}},
      out);
  const int exit_code = child.Wait(seconds(10));

  EXPECT_EQ(exit_code, 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "kept new added");
  unsetenv("MERCATO_TESTING_KEPT");
  unsetenv("MERCATO_TESTING_REPLACED");
}

TEST(ChildProcess, ReportsExitCodeAndSignal) {
  auto exits = ChildProcess::Start("/bin/sh", {"-c", "exit 3"});
  auto sleeps = ChildProcess::Start("/bin/sh", {"-c", "exec sleep 30"});

  sleeps.Signal(SIGKILL);

  EXPECT_EQ(exits.Wait(seconds(10)), 3);
  EXPECT_EQ(sleeps.Wait(seconds(10)), 128 + SIGKILL);
}

}  // namespace
}  // namespace mercato::testing
