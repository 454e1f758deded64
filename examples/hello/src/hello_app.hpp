// The hello sample: a small service on the Mercato chassis, the way userver ships samples. It
// shows a route with a path parameter, a document served from memory, a write that goes through
// SQLite off the network thread, a deadline-aware slow endpoint, a health check and a business
// metric; with --nats-url, the transactional outbox (PUT /items publishes hello.ItemUpdated in
// the same transaction) and an idempotent consumer that builds a read model from those events.
// The chassis' component tests and the HTTP benchmark run against it.
//
//   hello::HelloApp app(service);   // opens data-dir/hello.db, migrates, registers routes
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "mercato/config/config.hpp"
#include "mercato/messaging/bus.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::hello {

// The service's own config keys on top of the base ones.
config::Schema Schema();
// api/openapi.yaml, embedded at build time.
const std::string& OpenApiDocument();

class HelloApp {
 public:
  explicit HelloApp(service::Service& service);

 private:
  Task<http::Response> Greet(http::RequestContext& ctx);
  Task<http::Response> GetItem(http::RequestContext& ctx);
  Task<http::Response> PutItem(http::RequestContext& ctx);
  Task<http::Response> Slow(http::RequestContext& ctx);
  Task<http::Response> GetItemStats(http::RequestContext& ctx);
  void LoadItems();
  // The consumer's effect for hello.ItemUpdated (runs on a consumer thread, in its transaction).
  static Result<void> ApplyItemUpdated(storage::Connection& tx, const messaging::Event& event);

  std::unique_ptr<storage::Database> db_;  // declared before bus_: the bus stops first
  std::unique_ptr<messaging::Bus> bus_;
  // Serialised item documents by id: reads never touch the database.
  std::shared_mutex items_mutex_;
  std::unordered_map<std::string, std::string> items_;
  obs::Counter& greetings_;
  obs::Counter& item_writes_;
  Duration max_slow_;
};

}  // namespace mercato::hello
