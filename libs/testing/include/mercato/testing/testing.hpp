// Helpers for Mercato's component tests: start a real binary on an ephemeral port with its own
// temporary data directory, wait for it to be ready, talk HTTP (or raw bytes) to it, signal it,
// and clean up. Every process a test starts is stopped when its handle goes out of scope.
//
//   auto hello = testing::ServiceProcess::Start("hello");
//   auto r = testing::Get(hello.port(), "/hello/bob");
//   EXPECT_EQ(r->status, 200);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/http/blocking_client.hpp"
#include "mercato/http/server.hpp"

namespace mercato::testing {

// A built binary: $MERCATO_BIN_DIR/<name> (ctest sets it), else build/bin next to the tests.
std::string BinaryPath(std::string_view name);

// Polls `condition` every `poll` until it holds or `timeout` passes; true if it held.
bool WaitFor(const std::function<bool()>& condition, Duration timeout,
             Duration poll = std::chrono::milliseconds(10));

// A loopback TCP port that was free a moment ago (bound to 127.0.0.1:0, read back, released),
// for a process the test is about to start. Another process could take it in between; a child
// that fails to bind then fails loudly, never silently.
uint16_t FreeTcpPort();

// A base port whose `count` consecutive ports (base .. base+count-1) were all free a moment ago,
// for a topology that places processes at base + offset. Throws if none is found.
uint16_t FreeTcpPortRange(int count);

// A loopback port where nothing listens, so a connect is refused: for "upstream down" tests.
// The port stays bound (never listening) until the test process exits, so unlike a released
// FreeTcpPort() nothing else can start listening there mid-test.
uint16_t ClosedTcpPort();

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ChildProcess {
 public:
  // stdout and stderr go to `log_file` (appended) when given, else are inherited.
  static ChildProcess Start(const std::string& binary, const std::vector<std::string>& args,
                            const std::vector<std::pair<std::string, std::string>>& env = {},
                            const std::string& log_file = {});
  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();  // SIGKILLs and reaps a process still running

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  // Waits for exit; returns the exit code (128+N for a signal), or -1 on timeout.
  int Wait(Duration timeout);

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

class ServiceProcess {
 public:
  // Starts BinaryPath(name) with --port 0 --data-dir <temp> --port-file <temp>/port plus `args`,
  // waits (up to `timeout`) for the port file and GET /health/ready == 200. Throws with the
  // process' log on failure.
  static ServiceProcess Start(const std::string& name, const std::vector<std::string>& args = {},
                              Duration timeout = std::chrono::seconds(20),
                              const std::vector<std::pair<std::string, std::string>>& env = {});

  // Starts the binary again on the same data directory (after it exited or was killed), with
  // new arguments and environment; waits for readiness like Start(). The port may change.
  void Restart(const std::vector<std::string>& args = {},
               const std::vector<std::pair<std::string, std::string>>& env = {},
               Duration timeout = std::chrono::seconds(20));

  uint16_t port() const { return port_; }
  ChildProcess& process() { return process_; }
  const std::string& data_dir() const { return dir_.path(); }
  std::string log_path() const { return dir_.path() + "/service.log"; }
  std::string Logs() const;

 private:
  ServiceProcess(TempDir dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}
  void Launch(const std::vector<std::string>& args,
              const std::vector<std::pair<std::string, std::string>>& env, Duration timeout);
  TempDir dir_;
  std::string name_;
  ChildProcess process_;
  uint16_t port_ = 0;
};

// A chassis HTTP server running in the test process on an ephemeral port, on its own thread(s),
// for testing handlers and routers without a separate binary. Stops (gracefully) on destruction.
//
//   http::Router router;  router.Add(http::Method::kGet, "/x", handler);
//   testing::InProcessServer server(router);
//   auto r = testing::Get(server.port(), "/x");
class InProcessServer {
 public:
  explicit InProcessServer(http::Router& router, http::ServerOptions options = {},
                           obs::Registry& metrics = obs::Registry::Default());
  ~InProcessServer();
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  uint16_t port() const { return server_->port(); }
  http::Server& server() { return *server_; }
  // Drains and joins the serving thread; idempotent.
  void Stop();

 private:
  std::unique_ptr<http::Server> server_;
  std::thread runner_;
};

// Blocking HTTP to 127.0.0.1:<port>.
Result<http::BlockingResponse> Request(
    uint16_t port, std::string method, std::string path, std::string body = {},
    std::vector<std::pair<std::string, std::string>> headers = {},
    Duration timeout = std::chrono::seconds(10));
inline Result<http::BlockingResponse> Get(
    uint16_t port, std::string path,
    std::vector<std::pair<std::string, std::string>> headers = {}) {
  return Request(port, "GET", std::move(path), {}, std::move(headers));
}

// A raw TCP connection for sending malformed or slow requests byte by byte.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);  // throws if it cannot connect
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  // False once the peer has closed or reset.
  bool Send(std::string_view bytes);
  // Reads until the peer closes or `timeout` passes; returns what arrived.
  std::string ReadUntilClosed(Duration timeout);
  // Reads until `marker` has arrived (or close/timeout).
  std::string ReadUntil(std::string_view marker, Duration timeout);
  bool PeerClosed(Duration timeout);

 private:
  int fd_ = -1;
  std::string pending_;
};

// A tiny HTTP sink on 127.0.0.1:<ephemeral>: records every request (method, path, body) and
// answers 200 "{}". Stands in for collectors and webhooks (e.g. an OTLP endpoint) in tests.
class CaptureServer {
 public:
  struct Captured {
    std::string method;
    std::string path;
    std::string body;
  };
  CaptureServer();
  ~CaptureServer();
  CaptureServer(const CaptureServer&) = delete;
  CaptureServer& operator=(const CaptureServer&) = delete;
  uint16_t port() const { return port_; }
  std::vector<Captured> Requests() const;

 private:
  void Loop();
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<Captured> requests_;
  std::thread thread_;
};

// The status code of the first response in raw bytes ("HTTP/1.1 404 ..." → 404), 0 if none.
int StatusOf(std::string_view raw_response);

}  // namespace mercato::testing
