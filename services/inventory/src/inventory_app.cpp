#include "inventory_app.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "mercato/core/id.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/json_fields.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/security/authz.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"

namespace mercato::inventory {

// Generated from migrations/*.sql by mercato_embed_migrations.
const std::vector<storage::Migration>& Migrations();

namespace json = boost::json;
using namespace std::chrono_literals;

config::Schema Schema() {
  auto schema = service::BaseSchema(8103);
  messaging::AddConfig(schema, "nats://127.0.0.1:4222");
  service::AddAuthConfig(schema);
  schema
      .String("reservation-clients", "orders",
              "service clients (token sub) allowed to take and settle reservations, "
              "comma-separated; admins always may")
      .Int("low-stock-threshold", 5,
           "StockLow is published when a product's availability drops below this", 0, 1000000)
      .Duration("default-ttl", "15m",
                "a reservation's lifetime when the request gives no ttl_seconds")
      .Duration("sweep-interval", "500ms", "how often expired reservations are released");
  return schema;
}

std::vector<storage::Migration> AllMigrations() {
  std::vector<storage::Migration> all = Migrations();
  const auto& outbox = messaging::Migrations();
  all.insert(all.end(), outbox.begin(), outbox.end());
  return all;
}

namespace {

WallTime Now() { return Clock::Real().WallNow(); }

constexpr std::string_view kAdmin[] = {"admin"};
// Reservations are taken by the orders service (client credentials) and by operators.
constexpr std::string_view kServiceOrAdmin[] = {"service", "admin"};

// 409 naming each short item and what is available (the saga cancels with out_of_stock).
http::Response ShortProblem(const std::vector<Shortage>& shortages) {
  auto response =
      http::Problem(ErrorCode::kFailedPrecondition, "not enough stock for every item", "items");
  json::array items;
  for (const auto& s : shortages) {
    items.push_back(json::object{
        {"product_id", s.product_id}, {"requested", s.requested}, {"available", s.available}});
  }
  std::error_code ec;
  auto body = json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    body.as_object()["short_items"] = std::move(items);
    response.body = json::serialize(body);
  }
  return response;
}

}  // namespace

InventoryApp::InventoryApp(service::Service& service)
    : service_(service),
      reservations_(service.metrics().AddCounter("mercato_inventory_reservations_total",
                                                 "Reservation requests by outcome", {"outcome"})),
      expired_(service.metrics()
                   .AddCounter("mercato_inventory_reservations_expired_total",
                               "Reservations released by the sweeper")
                   .WithLabels({})) {
  const auto& config = service.config();
  default_ttl_ = config.GetDuration("default-ttl");
  if (default_ttl_ < 1s || default_ttl_ > 24h)
    throw std::runtime_error("--default-ttl must be between 1s and 24h");
  if (config.GetDuration("sweep-interval") < 10ms)
    throw std::runtime_error("--sweep-interval must be at least 10ms");
  {
    const std::string list = config.GetString("reservation-clients");
    std::size_t start = 0;
    while (start <= list.size()) {
      auto comma = list.find(',', start);
      std::string name =
          list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) reservation_clients_.insert(std::move(name));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  auth_ = std::make_unique<service::RemoteAuth>(config);
  if (auto warmed = auth_->Warm(); !warmed) {
    obs::Logger().Warn("identity's JWKS not reachable yet; the first authenticated request retries",
                       {{"error", warmed.error().message}});
  }

  // Stock is as good as money: a committed reservation must survive a power loss (FULL fsyncs).
  auto db =
      storage::OpenSqlite({.path = service.data_dir() + "/inventory.db", .synchronous_full = true});
  if (!db) throw std::runtime_error("cannot open inventory.db: " + db.error().message);
  db_ = std::move(*db);
  if (auto applied = storage::ApplyMigrations(*db_, AllMigrations()); !applied) {
    throw std::runtime_error("cannot migrate inventory.db: " + applied.error().message);
  }
  service.health().Add("sqlite", [this] {
    auto ping = db_->Ping();
    return ping ? obs::CheckResult::Up() : obs::CheckResult::Down(ping.error().message);
  });

  bus_ = std::make_unique<messaging::Bus>(
      service, *db_, std::vector{messaging::StreamSpec::ForContext("INVENTORY", "inventory")});
  store_ = std::make_unique<StockStore>(
      StockStore::Options{.default_low_stock_threshold = config.GetInt("low-stock-threshold"),
                          .publish = bus_->enabled()});
  if (bus_->enabled()) {
    messaging::ConsumerOptions consumer;
    consumer.stream = "CATALOG";
    consumer.filter_subject = "catalog.>";
    StockStore* store = store_.get();
    auto& products = bus_->Consume(consumer);
    products.On("catalog.ProductCreated",
                [store](storage::Connection& tx, const messaging::Event& event) -> Result<void> {
                  const auto* data = event.data.if_object();
                  const auto* id = data ? data->if_contains("product_id") : nullptr;
                  if (!id || !id->is_string() || id->as_string().empty()) {
                    return Error{ErrorCode::kInvalidArgument, "ProductCreated without product_id"};
                  }
                  auto text = [&](std::string_view key) {
                    const auto* v = data->if_contains(key);
                    return v && v->is_string() ? std::string(v->as_string()) : std::string();
                  };
                  return store->UpsertProduct(tx, id->as_string(), text("sku"), text("name"),
                                              Now());
                });
    products.On("catalog.ProductDeleted",
                [store](storage::Connection& tx, const messaging::Event& event) -> Result<void> {
                  const auto* data = event.data.if_object();
                  const auto* id = data ? data->if_contains("product_id") : nullptr;
                  if (!id || !id->is_string())
                    return Error{ErrorCode::kInvalidArgument, "ProductDeleted without product_id"};
                  return store->DeleteProduct(tx, id->as_string(), Now());
                });
  }
  bus_->Start();
  service.SetAdminGuard([this](http::RequestContext& ctx) -> Task<Result<void>> {
    auto token = co_await Require(ctx, kAdmin);
    if (!token) co_return token.error();
    co_return Ok();
  });

  using M = http::Method;
  auto& r = service.router();
  r.Add(M::kGet, "/stock/{product_id}",
        [this](http::RequestContext& ctx) { return GetStock(ctx); });
  r.Add(M::kPost, "/stock/{product_id}/receipts",
        [this](http::RequestContext& ctx) { return Receive(ctx); });
  r.Add(M::kPut, "/stock/{product_id}/threshold",
        [this](http::RequestContext& ctx) { return SetThreshold(ctx); });
  r.Add(M::kGet, "/warehouses", [this](http::RequestContext& ctx) { return ListWarehouses(ctx); });
  r.Add(M::kPost, "/warehouses",
        [this](http::RequestContext& ctx) { return CreateWarehouse(ctx); });
  r.Add(M::kPost, "/reservations", [this](http::RequestContext& ctx) { return Reserve(ctx); });
  r.Add(M::kGet, "/reservations/{id}",
        [this](http::RequestContext& ctx) { return GetReservation(ctx); });
  r.Add(M::kPost, "/reservations/{id}/commit",
        [this](http::RequestContext& ctx) { return Transit(ctx, "commit"); });
  r.Add(M::kDelete, "/reservations/{id}",
        [this](http::RequestContext& ctx) { return Transit(ctx, "release"); });
  r.Add(M::kPost, "/reservations/{id}/return",
        [this](http::RequestContext& ctx) { return Transit(ctx, "return"); });
  r.Add(M::kGet, "/admin/invariants",
        [this](http::RequestContext& ctx) { return Invariants(ctx); });
  service.server().Spawn(Sweep(config.GetDuration("sweep-interval")));
}

InventoryApp::~InventoryApp() = default;

Task<Result<security::VerifiedToken>> InventoryApp::Require(
    http::RequestContext& ctx, std::span<const std::string_view> roles) {
  auto token = co_await auth_->authenticator().AuthenticateAsync(ctx);
  if (!token) co_return token.error();
  for (auto role : roles) {
    if (security::HasRole(*token, role)) co_return token;
  }
  std::string names;
  for (auto role : roles) names += (names.empty() ? "" : " or ") + std::string(role);
  co_return Error{ErrorCode::kPermissionDenied, "this needs the " + names + " role"};
}

Task<Result<security::VerifiedToken>> InventoryApp::RequireReservationCaller(
    http::RequestContext& ctx) {
  auto token = co_await Require(ctx, kServiceOrAdmin);
  if (!token) co_return token;
  if (!security::HasRole(*token, "admin") && !reservation_clients_.contains(token->subject)) {
    co_return Error{ErrorCode::kPermissionDenied,
                    "service " + token->subject + " may not manage reservations"};
  }
  co_return token;
}

Task<void> InventoryApp::Sweep(Duration every) {
  for (;;) {
    co_await http::SleepFor(every);
    auto expire = [this](storage::Connection& tx) { return store_->ExpireDue(tx, Now(), 100); };
    auto expired = co_await db_->Transact(std::move(expire));
    if (!expired) {
      obs::Logger().Error("reservation sweep failed", {{"error", expired.error().message}});
    } else if (*expired > 0) {
      expired_.Inc(static_cast<double>(*expired));
      bus_->Notify();
      obs::Logger().Info("reservations expired", {{"count", int64_t{*expired}}});
    }
  }
}

Task<http::Response> InventoryApp::GetStock(http::RequestContext& ctx) {
  std::string id = ctx.PathParam("product_id");
  auto read = [this, &id](storage::Connection& c) { return store_->GetStock(c, id); };
  auto level = co_await db_->Read(std::move(read));
  if (!level) co_return http::Problem(level.error());
  co_return http::Json(200, ToJson(*level));
}

Task<http::Response> InventoryApp::Receive(http::RequestContext& ctx) {
  auto token = co_await Require(ctx, kAdmin);
  if (!token) co_return service::AuthProblem(token.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  auto warehouse = http::StringMember(*body, "warehouse_id");
  if (!warehouse) co_return http::Problem(warehouse.error());
  auto quantity = http::IntMember(*body, "quantity");
  if (!quantity) co_return http::Problem(quantity.error());
  std::string id = ctx.PathParam("product_id");
  auto trace = std::optional<obs::TraceContext>(ctx.trace());
  const std::string key(ctx.Header("Idempotency-Key").value_or(""));
  if (key.size() > 200)
    co_return http::Problem(ErrorCode::kInvalidArgument, "Idempotency-Key is too long",
                            "Idempotency-Key");
  auto write = [&](storage::Connection& tx) {
    return store_->Receive(tx, id, *warehouse, *quantity, Now(), trace, key);
  };
  auto received = co_await db_->Transact(std::move(write));
  if (!received && received.error().code == ErrorCode::kFailedPrecondition) {
    co_return http::TransportProblem(422, "unprocessable-content", received.error().message);
  }
  if (!received) co_return http::Problem(received.error());
  if (received->repeated) co_return http::Json(200, ToJson(received->level));
  bus_->Notify();
  co_return http::Json(201, ToJson(received->level));
}

Task<http::Response> InventoryApp::SetThreshold(http::RequestContext& ctx) {
  auto token = co_await Require(ctx, kAdmin);
  if (!token) co_return service::AuthProblem(token.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  auto threshold = http::IntMember(*body, "low_stock_threshold");
  if (!threshold) co_return http::Problem(threshold.error());
  if (*threshold < 0)
    co_return http::Problem(ErrorCode::kInvalidArgument, "low_stock_threshold must be >= 0",
                            "low_stock_threshold");
  std::string id = ctx.PathParam("product_id");
  auto write = [&](storage::Connection& tx) {
    return store_->SetLowStockThreshold(tx, id, *threshold);
  };
  auto done = co_await db_->Transact(std::move(write));
  if (!done) co_return http::Problem(done.error());
  co_return http::Json(200, json::object{{"product_id", id}, {"low_stock_threshold", *threshold}});
}

Task<http::Response> InventoryApp::ListWarehouses(http::RequestContext&) {
  auto read = [this](storage::Connection& c) { return store_->ListWarehouses(c); };
  auto list = co_await db_->Read(std::move(read));
  if (!list) co_return http::Problem(list.error());
  json::array items;
  for (const auto& w : *list) {
    items.push_back(
        json::object{{"id", w.id}, {"name", w.name}, {"created_at", FormatRfc3339(w.created_at)}});
  }
  const auto total = static_cast<std::int64_t>(items.size());
  // Warehouses are few: one page holds them all.
  co_return http::Json(200, json::object{{"items", std::move(items)},
                                         {"page", 1},
                                         {"page_size", std::max<std::int64_t>(total, 1)},
                                         {"total", total}});
}

Task<http::Response> InventoryApp::CreateWarehouse(http::RequestContext& ctx) {
  auto token = co_await Require(ctx, kAdmin);
  if (!token) co_return service::AuthProblem(token.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  auto name = http::StringMember(*body, "name");
  if (!name) co_return http::Problem(name.error());
  auto id = http::StringMember(*body, "id", false);
  if (!id) co_return http::Problem(id.error());
  if (id->empty()) *id = NewId();
  const bool id_ok = id->size() <= 64 && std::all_of(id->begin(), id->end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '-' || c == '_' || c == '.';
                     });
  if (!id_ok)
    co_return http::Problem(ErrorCode::kInvalidArgument, "id must be 1-64 of [A-Za-z0-9._-]", "id");
  if (name->empty() || name->size() > 200)
    co_return http::Problem(ErrorCode::kInvalidArgument, "name must be 1-200 bytes", "name");
  auto write = [&](storage::Connection& tx) {
    return store_->CreateWarehouse(tx, *id, *name, Now());
  };
  auto created = co_await db_->Transact(std::move(write));
  if (!created) co_return http::Problem(created.error());
  co_return http::Json(201, json::object{{"id", created->id},
                                         {"name", created->name},
                                         {"created_at", FormatRfc3339(created->created_at)}});
}

Task<http::Response> InventoryApp::Reserve(http::RequestContext& ctx) {
  auto token = co_await RequireReservationCaller(ctx);
  if (!token) co_return service::AuthProblem(token.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  ReserveRequest request;
  auto order = http::StringMember(*body, "order_id");
  if (!order) co_return http::Problem(order.error());
  request.order_id = std::move(*order);
  auto ttl = http::IntMember(
      *body, "ttl_seconds", std::chrono::duration_cast<std::chrono::seconds>(default_ttl_).count());
  if (!ttl) co_return http::Problem(ttl.error());
  request.ttl = std::chrono::seconds(*ttl);
  const auto* items = body->if_contains("items");
  if (!items || !items->is_array())
    co_return http::Problem(ErrorCode::kInvalidArgument, "items must be an array", "items");
  for (std::size_t i = 0; i < items->as_array().size(); ++i) {
    const auto* item = items->as_array()[i].if_object();
    const std::string field = "items[" + std::to_string(i) + "]";
    if (!item)
      co_return http::Problem(ErrorCode::kInvalidArgument, "each item must be an object", field);
    auto product = http::StringMember(*item, "product_id");
    if (!product)
      co_return http::Problem(ErrorCode::kInvalidArgument, product.error().message,
                              field + ".product_id");
    auto quantity = http::IntMember(*item, "quantity");
    if (!quantity)
      co_return http::Problem(ErrorCode::kInvalidArgument, quantity.error().message,
                              field + ".quantity");
    request.items.push_back(Item{std::move(*product), *quantity});
  }
  if (auto valid = ValidateReserve(request); !valid) co_return http::Problem(valid.error());
  auto trace = std::optional<obs::TraceContext>(ctx.trace());
  auto write = [&](storage::Connection& tx) { return store_->Reserve(tx, request, Now(), trace); };
  auto outcome = co_await db_->Transact(std::move(write));
  if (!outcome) {
    reservations_.WithLabels({"error"}).Inc();
    co_return http::Problem(outcome.error());
  }
  switch (outcome->kind) {
    case ReserveOutcome::kShort:
      reservations_.WithLabels({"short"}).Inc();
      co_return ShortProblem(outcome->shortages);
    case ReserveOutcome::kMismatch:
      reservations_.WithLabels({"mismatch"}).Inc();
      co_return http::TransportProblem(
          422, "unprocessable-content",
          "order " + request.order_id + " already holds a reservation for a different request");
    case ReserveOutcome::kExisting:
      reservations_.WithLabels({"repeated"}).Inc();
      co_return http::Json(200, ToJson(outcome->reservation))
          .WithHeader("Location", "/reservations/" + outcome->reservation.id);
    case ReserveOutcome::kCreated:
      break;
  }
  bus_->Notify();
  reservations_.WithLabels({"reserved"}).Inc();
  co_return http::Json(201, ToJson(outcome->reservation))
      .WithHeader("Location", "/reservations/" + outcome->reservation.id);
}

Task<http::Response> InventoryApp::GetReservation(http::RequestContext& ctx) {
  auto token = co_await RequireReservationCaller(ctx);
  if (!token) co_return service::AuthProblem(token.error());
  std::string id = ctx.PathParam("id");
  auto read = [this, &id](storage::Connection& c) { return store_->GetReservation(c, id); };
  auto r = co_await db_->Read(std::move(read));
  if (!r) co_return http::Problem(r.error());
  co_return http::Json(200, ToJson(*r));
}

Task<http::Response> InventoryApp::Transit(http::RequestContext& ctx, std::string_view action) {
  auto token = co_await RequireReservationCaller(ctx);
  if (!token) co_return service::AuthProblem(token.error());
  std::string id = ctx.PathParam("id");
  auto trace = std::optional<obs::TraceContext>(ctx.trace());
  const std::string which(action);
  auto write = [&](storage::Connection& tx) -> Result<Transition> {
    if (which == "commit") return store_->Commit(tx, id, Now(), trace);
    if (which == "release") return store_->Release(tx, id, Now(), trace);
    return store_->Return(tx, id, Now(), trace);
  };
  auto t = co_await db_->Transact(std::move(write));
  if (!t) co_return http::Problem(t.error());
  bus_->Notify();  // a refused commit may still have expired the reservation
  if (t->refused) co_return http::Problem(*t->refused);
  co_return http::Json(200, ToJson(t->reservation));
}

Task<http::Response> InventoryApp::Invariants(http::RequestContext& ctx) {
  auto token = co_await Require(ctx, kAdmin);
  if (!token) co_return service::AuthProblem(token.error());
  auto read = [this](storage::Connection& c) { return store_->CheckInvariants(c); };
  auto violations = co_await db_->Read(std::move(read));
  if (!violations) co_return http::Problem(violations.error());
  json::array items;
  for (const auto& v : *violations)
    items.push_back(json::object{{"product_id", v.product_id}, {"problem", v.problem}});
  const bool ok = items.empty();
  co_return http::Json(200, json::object{{"ok", ok}, {"violations", std::move(items)}});
}

}  // namespace mercato::inventory
