// Shared by the messaging tests: a Broker connected to a test nats-server, waiting until the
// connection is up (the runtime tests assume a live connection from the first line).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/storage/sqlite.hpp"
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

// A SQLite database in `path` with the messaging tables plus the test's own `schema`.
inline std::unique_ptr<storage::Database> OpenMigratedForTest(const std::string& path,
                                                              std::string_view schema) {
  auto db = storage::OpenSqlite({.path = path});
  if (!db) throw std::runtime_error("open " + path + ": " + db.error().message);
  if (auto applied = storage::ApplyMigrations(**db, Migrations()); !applied) {
    throw std::runtime_error("migrate " + path + ": " + applied.error().message);
  }
  auto created = (*db)->WriteBlocking([&](storage::Connection& c) { return c.ExecuteScript(schema); });
  if (!created) throw std::runtime_error("schema " + path + ": " + created.error().message);
  return std::move(*db);
}

}  // namespace mercato::messaging
