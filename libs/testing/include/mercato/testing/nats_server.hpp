// A real NATS server with JetStream for component tests: Debian's `nats-server`, bound to
// loopback on a free port, with its own temporary store. It can be stopped, killed and started
// again on the same port and store, so tests can simulate a broker outage.
//
//   testing::NatsServer nats;                    // started and accepting connections
//   auto broker = messaging::Broker::Connect({.url = nats.url()});
//   nats.Stop();  ...  nats.Start();             // outage and recovery
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "mercato/core/clock.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::testing {

class NatsServer {
 public:
  // Starts the server and waits (up to `start_timeout`) until it accepts TCP connections.
  // Throws, with the server's log, if `nats-server` is missing or does not come up.
  explicit NatsServer(Duration start_timeout = std::chrono::seconds(15));
  ~NatsServer();  // kills a server still running; the store goes with the temp dir
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const;  // "nats://127.0.0.1:<port>"
  const std::string& store_dir() const { return store_dir_; }

  // Starts it again on the same port and store (after Stop or Kill) and waits until accepting.
  void Start();
  // SIGTERM and wait for exit (SIGKILL if it does not exit in time). Idempotent.
  void Stop();
  // SIGKILL and reap: a crash, not a shutdown. Idempotent.
  void Kill();
  bool Running();
  std::string Logs() const;

 private:
  // Launches the process on port_; false if it exited or never accepted within the timeout.
  bool Launch();

  TempDir dir_;
  std::string binary_;
  std::string store_dir_;
  std::string log_path_;
  Duration start_timeout_;
  uint16_t port_ = 0;
  ChildProcess process_;
};

// The `nats-server` executable: $MERCATO_NATS_SERVER, else the first in PATH, else /usr/sbin or
// /usr/local/sbin (Debian installs it in /usr/sbin, which a non-root PATH often lacks).
// Throws if none is found.
std::string NatsServerBinary();

}  // namespace mercato::testing
