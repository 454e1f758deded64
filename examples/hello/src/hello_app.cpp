#include "hello_app.hpp"

#include <boost/json/object.hpp>
#include <mutex>

#include "item.hpp"
#include "mercato/core/clock.hpp"
#include "mercato/http/client.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"

namespace mercato::hello {

// Declared here, defined by the build from migrations/*.sql (mercato_embed_migrations).
const std::vector<storage::Migration>& Migrations();

config::Schema Schema() {
  auto schema = service::BaseSchema(8190);
  schema.Duration("max-slow", "30s", "longest delay GET /slow accepts");
  messaging::AddConfig(schema, "");  // the sample runs without a broker unless given one
  return schema;
}

namespace {

Result<std::unique_ptr<storage::Database>> OpenDatabase(const std::string& data_dir) {
  auto db = storage::OpenSqlite({.path = data_dir + "/hello.db"});
  if (!db) return db;
  // The sample's own tables plus the outbox and inbox of the messaging library (9001+).
  std::vector<storage::Migration> migrations = Migrations();
  const auto& messaging_tables = messaging::Migrations();
  migrations.insert(migrations.end(), messaging_tables.begin(), messaging_tables.end());
  if (auto applied = storage::ApplyMigrations(**db, migrations); !applied) return applied.error();
  return db;
}

constexpr std::string_view kItemUpdated = "hello.ItemUpdated";

}  // namespace

HelloApp::HelloApp(service::Service& service)
    : greetings_(service.metrics()
                     .AddCounter("mercato_hello_greetings_total", "Greetings sent")
                     .WithLabels({})),
      item_writes_(service.metrics()
                       .AddCounter("mercato_hello_item_writes_total", "Items created or replaced")
                       .WithLabels({})),
      max_slow_(service.config().GetDuration("max-slow")) {
  auto db = OpenDatabase(service.data_dir());
  if (!db) throw std::runtime_error("hello: cannot open database: " + db.error().message);
  db_ = std::move(*db);
  LoadItems();

  service.health().Add("sqlite", [this] {
    auto ping = db_->Ping();
    return ping ? obs::CheckResult::Up() : obs::CheckResult::Down(ping.error().message);
  });

  bus_ = std::make_unique<messaging::Bus>(service, *db_,
                                          std::vector{messaging::StreamSpec::ForContext("HELLO", "hello")});
  if (bus_->enabled()) {
    messaging::ConsumerOptions consumer;
    consumer.stream = "HELLO";
    consumer.filter_subject = "hello.>";
    bus_->Consume(consumer).On(std::string(kItemUpdated), &HelloApp::ApplyItemUpdated);
  }
  bus_->Start();

  auto& r = service.router();
  r.Add(http::Method::kGet, "/hello/{name}", [this](http::RequestContext& ctx) { return Greet(ctx); });
  r.Add(http::Method::kGet, "/items/{id}", [this](http::RequestContext& ctx) { return GetItem(ctx); });
  r.Add(http::Method::kPut, "/items/{id}", [this](http::RequestContext& ctx) { return PutItem(ctx); });
  r.Add(http::Method::kGet, "/slow", [this](http::RequestContext& ctx) { return Slow(ctx); });
  r.Add(http::Method::kGet, "/items/{id}/stats",
        [this](http::RequestContext& ctx) { return GetItemStats(ctx); });
}

void HelloApp::LoadItems() {
  auto rows = db_->ReadBlocking([](storage::Connection& c) {
    return c.Query("SELECT id, sku, name, description, price_minor, currency, weight_g, updated_at "
                   "FROM items");
  });
  if (!rows) throw std::runtime_error("hello: cannot load items: " + rows.error().message);
  std::unique_lock lock(items_mutex_);
  for (const auto& row : rows->rows) {
    Item item{row.String(0), row.String(1), row.String(2), row.String(3),
              row.Int(4),    row.String(5), row.Int(6),    row.String(7)};
    items_[item.id] = ToJson(item);
  }
}

Task<http::Response> HelloApp::Greet(http::RequestContext& ctx) {
  auto name = ctx.PathParam("name");
  if (name.empty() || name.size() > 100) {
    co_return http::Problem(ErrorCode::kInvalidArgument, "name must be 1-100 characters", "name");
  }
  greetings_.Inc();
  co_return http::Json(http::Status::kOk, boost::json::object{{"message", "Hello, " + name + "!"}});
}

Task<http::Response> HelloApp::GetItem(http::RequestContext& ctx) {
  auto id = ctx.PathParam("id");
  std::shared_lock lock(items_mutex_);
  auto it = items_.find(id);
  if (it == items_.end()) co_return http::Problem(ErrorCode::kNotFound, "no item " + id, "id");
  co_return http::RawJson(200, it->second);
}

Task<http::Response> HelloApp::PutItem(http::RequestContext& ctx) {
  auto body = ctx.JsonBody();
  if (!body) co_return http::Problem(body.error());
  auto item = ParseItem(ctx.PathParam("id"), *body);
  if (!item) co_return http::Problem(item.error());
  if (item->id.empty() || item->id.size() > 64) {
    co_return http::Problem(ErrorCode::kInvalidArgument, "id must be 1-64 characters", "id");
  }
  item->updated_at = FormatRfc3339(Clock::Real().WallNow());

  // The business row and its event commit together (the transactional outbox).
  std::optional<messaging::Event> event;
  if (bus_->enabled()) {
    boost::json::object data{{"item_id", item->id},
                             {"name", item->name},
                             {"price", {{"amount", item->price_minor}, {"currency", item->currency}}},
                             {"updated_at", item->updated_at}};
    event = messaging::MakeEvent("hello", "ItemUpdated", item->id, std::move(data), ctx.trace());
  }
  auto write = [&item, &event](storage::Connection& c) -> Result<void> {
    auto upserted = c.Execute(
        "INSERT INTO items (id, sku, name, description, price_minor, currency, weight_g, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (id) DO UPDATE SET name = $3, description = $4, price_minor = $5, "
        "currency = $6, weight_g = $7, updated_at = $8",
        {item->id, item->sku, item->name, item->description, item->price_minor, item->currency,
         item->weight_g, item->updated_at});
    if (!upserted) return upserted.error();
    if (event) return messaging::Enqueue(c, *event);
    return Ok();
  };
  auto written = co_await db_->Transact(std::move(write));
  if (!written) co_return http::Problem(written.error());
  bus_->Notify();

  std::string doc = ToJson(*item);
  bool created;
  {
    std::unique_lock lock(items_mutex_);
    created = items_.insert_or_assign(item->id, doc).second;
  }
  item_writes_.Inc();
  ctx.Log().Info("item stored", {{"item_id", item->id}, {"created", created}});
  co_return http::RawJson(created ? 201 : 200, std::move(doc));
}

// The read model's effect. A permanent problem (malformed data) dead-letters at once; an item
// named "poison" fails transiently on purpose, so the sample can show retries and dead letters.
Result<void> HelloApp::ApplyItemUpdated(storage::Connection& tx, const messaging::Event& event) {
  const auto* data = event.data.if_object();
  const auto* item_id = data ? data->if_contains("item_id") : nullptr;
  const auto* price = data ? data->if_contains("price") : nullptr;
  if (!item_id || !item_id->is_string() || !price || !price->is_object() ||
      !price->as_object().contains("amount") || !price->as_object().at("amount").is_int64()) {
    return Error{ErrorCode::kInvalidArgument, "hello.ItemUpdated without item_id or price.amount"};
  }
  if (const auto* name = data->if_contains("name"); name && name->is_string() && name->as_string() == "poison") {
    return Error{ErrorCode::kUnavailable, "poison item: this consumer always fails on it"};
  }
  std::string id(item_id->as_string());
  int64_t amount = price->as_object().at("amount").as_int64();
  std::string currency = price->as_object().contains("currency") && price->as_object().at("currency").is_string()
                             ? std::string(price->as_object().at("currency").as_string())
                             : "USD";
  auto stats = tx.Execute(
      "INSERT INTO item_stats (item_id, updates, last_price, currency) VALUES ($1, 1, $2, $3) "
      "ON CONFLICT (item_id) DO UPDATE SET updates = updates + 1, last_price = $2, currency = $3",
      {id, amount, currency});
  if (!stats) return stats.error();
  auto history = tx.Execute("INSERT INTO item_history (item_id, event_id, price_minor) VALUES ($1, $2, $3)",
                            {id, event.id, amount});
  if (!history) return history.error();
  return Ok();
}

// GET /items/{id}/stats: the read model the consumer built from hello.ItemUpdated events.
Task<http::Response> HelloApp::GetItemStats(http::RequestContext& ctx) {
  auto id = ctx.PathParam("id");
  auto read = [&id](storage::Connection& c) -> Result<std::pair<storage::Rows, storage::Rows>> {
    auto stats = c.Query("SELECT updates, last_price, currency FROM item_stats WHERE item_id = $1", {id});
    if (!stats) return stats.error();
    auto history = c.Query("SELECT price_minor FROM item_history WHERE item_id = $1 ORDER BY seq", {id});
    if (!history) return history.error();
    return std::pair{std::move(*stats), std::move(*history)};
  };
  auto rows = co_await db_->Read(std::move(read));
  if (!rows) co_return http::Problem(rows.error());
  auto& [stats, history] = *rows;
  if (stats.empty()) co_return http::Problem(ErrorCode::kNotFound, "no events applied for item " + id, "id");
  boost::json::array prices;
  for (const auto& row : history.rows) prices.push_back(row.Int(0));
  co_return http::Json(http::Status::kOk,
                       boost::json::object{{"item_id", id},
                                           {"updates", stats.rows[0].Int(0)},
                                           {"last_price", {{"amount", stats.rows[0].Int(1)},
                                                           {"currency", stats.rows[0].String(2)}}},
                                           {"price_history", std::move(prices)}});
}

// GET /slow?ms=N: answers after N ms, or 504 when the request's deadline comes first. Used to
// show deadlines and the graceful drain.
Task<http::Response> HelloApp::Slow(http::RequestContext& ctx) {
  auto ms_text = ctx.Query("ms").value_or("100");
  char* end = nullptr;
  long long ms = std::strtoll(ms_text.c_str(), &end, 10);
  long long max_ms = std::chrono::duration_cast<std::chrono::milliseconds>(max_slow_).count();
  if (ms_text.empty() || *end != '\0' || ms < 0 || ms > max_ms) {
    co_return http::Problem(ErrorCode::kInvalidArgument,
                            "ms must be an integer in 0.." + std::to_string(max_ms), "ms");
  }
  Duration wanted = std::chrono::milliseconds(ms);
  Duration left = ctx.deadline().Remaining(Clock::Real());
  if (left < wanted) {
    co_await http::SleepFor(left);
    co_return http::Problem(ErrorCode::kDeadlineExceeded, "deadline reached before the work was done");
  }
  co_await http::SleepFor(wanted);
  co_return http::Json(http::Status::kOk, boost::json::object{{"slept_ms", ms}});
}

}  // namespace mercato::hello
