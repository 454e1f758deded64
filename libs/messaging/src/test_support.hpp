// Shared by the messaging tests: a Broker connected to a test nats-server, waiting until the
// connection is up (the runtime tests assume a live connection from the first line).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "mercato/messaging/broker.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::messaging {

inline std::unique_ptr<Broker> ConnectForTest(const testing::NatsServer& nats, const std::string& name) {
  using namespace std::chrono_literals;
  auto broker = Broker::Connect({.url = nats.url(),
                                 .name = name,
                                 .connect_timeout = 2s,
                                 .request_timeout = 2s,
                                 .reconnect_wait = 100ms});
  if (!broker) throw std::runtime_error("connect: " + broker.error().message);
  if (!testing::WaitFor([&] { return (*broker)->Connected(); }, 10s)) {
    throw std::runtime_error("broker never connected");
  }
  return std::move(*broker);
}

}  // namespace mercato::messaging
