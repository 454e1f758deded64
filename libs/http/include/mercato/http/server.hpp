// The chassis HTTP/1.1 server (Boost.Beast + Asio C++20 coroutines, Beast confined to
// server.cpp). Keep-alive; limits against abusive clients (header size → 431, body size → 413,
// slow headers or body → 408, connection cap → 503); problem+json for every error; per-route RED
// metrics keyed by route template; trace context and correlation ids; graceful drain on Stop()
// (stop accepting, finish in-flight requests, close idle connections).
//
//   http::Server server(options, router);
//   server.Listen();               // binds; server.port() is known from here on
//   server.Run();                  // until Stop() (e.g. from a SIGTERM handler) has drained
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mercato/core/clock.hpp"
#include "mercato/core/task.hpp"
#include "mercato/http/router.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::http {

struct ServerOptions {
  std::string service_name = "service";
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port
  int threads = 1;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  Duration header_timeout = std::chrono::seconds(10);  // also the keep-alive idle timeout
  Duration body_timeout = std::chrono::seconds(30);
  Duration request_timeout = std::chrono::seconds(30);  // default deadline of a request
  Duration drain_timeout = std::chrono::seconds(20);
  int max_connections = 10000;
  bool handle_signals = true;  // SIGTERM/SIGINT start a graceful drain
  bool access_log = false;     // one log line per request (errors and 5xx are always logged)
};

class Server {
 public:
  Server(ServerOptions options, Router& router, obs::Registry& metrics = obs::Registry::Default());
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; throws std::system_error if the address is taken.
  void Listen();
  uint16_t port() const;
  // Serves on `threads` threads (the caller's among them) until Stop() has drained.
  void Run();
  // Begins the graceful drain. Thread-safe; callable before or during Run().
  void Stop();
  bool stopping() const;

  // Runs `fn` after the listener is up and before serving (e.g. write a port file).
  void OnListening(std::function<void(uint16_t)> fn);
  // Runs a background coroutine on the server's event loop (relays, sweepers, timers). It is
  // abandoned when the drain completes; a failure is logged.
  void Spawn(Task<void> task);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs blocking `fn` on the process' shared blocking pool and resumes the awaiting coroutine on
// its own executor. Exceptions thrown by `fn` are rethrown to the awaiter.
Task<void> RunBlocking(std::function<void()> fn);

}  // namespace mercato::http
