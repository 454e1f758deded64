#include "stock_store.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "mercato/core/id.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/security/secrets.hpp"

namespace mercato::inventory {

namespace json = boost::json;

std::string_view ToString(Status status) {
  switch (status) {
    case Status::kReserved:
      return "RESERVED";
    case Status::kCommitted:
      return "COMMITTED";
    case Status::kReleased:
      return "RELEASED";
    case Status::kExpired:
      return "EXPIRED";
    case Status::kReturned:
      return "RETURNED";
  }
  return "RESERVED";
}

namespace {

Result<Status> ParseStatus(std::string_view text) {
  for (auto s : {Status::kReserved, Status::kCommitted, Status::kReleased, Status::kExpired,
                 Status::kReturned}) {
    if (ToString(s) == text) return s;
  }
  return Error{ErrorCode::kInternal, "unknown reservation status in storage"};
}

WallTime ParseTime(const std::string& text) {
  WallTime t{};
  ParseRfc3339(text, t);
  return t;
}

// The request's identity for idempotency: order id and the items in product order.
std::string RequestHash(const ReserveRequest& request) {
  std::vector<Item> items = request.items;
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.product_id < b.product_id; });
  // A JSON array: unambiguous whatever characters the ids contain.
  json::array canonical{request.order_id};
  for (const auto& i : items) canonical.push_back(json::array{i.product_id, i.quantity});
  return security::Sha256Hex(json::serialize(canonical));
}

json::array ItemsJson(const Reservation& r) {
  json::array items;
  for (const auto& i : r.Items())
    items.push_back(json::object{{"product_id", i.product_id}, {"quantity", i.quantity}});
  return items;
}

}  // namespace

std::vector<Item> Reservation::Items() const {
  std::map<std::string, std::int64_t> totals;
  for (const auto& a : allocations) totals[a.product_id] += a.quantity;
  std::vector<Item> out;
  for (auto& [product, quantity] : totals) out.push_back(Item{product, quantity});
  return out;
}

json::object ToJson(const Reservation& r) {
  json::array items;
  for (const auto& item : r.Items()) {
    json::array allocations;
    for (const auto& a : r.allocations) {
      if (a.product_id == item.product_id) {
        allocations.push_back(
            json::object{{"warehouse_id", a.warehouse_id}, {"quantity", a.quantity}});
      }
    }
    items.push_back(json::object{{"product_id", item.product_id},
                                 {"quantity", item.quantity},
                                 {"allocations", std::move(allocations)}});
  }
  return json::object{{"id", r.id},
                      {"order_id", r.order_id},
                      {"status", ToString(r.status)},
                      {"items", std::move(items)},
                      {"expires_at", FormatRfc3339(r.expires_at)},
                      {"created_at", FormatRfc3339(r.created_at)},
                      {"updated_at", FormatRfc3339(r.updated_at)}};
}

json::object ToJson(const StockLevel& level) {
  json::array warehouses;
  for (const auto& w : level.warehouses) {
    warehouses.push_back(json::object{{"warehouse_id", w.warehouse_id},
                                      {"received", w.received},
                                      {"available", w.available},
                                      {"reserved", w.reserved},
                                      {"sold", w.sold}});
  }
  return json::object{{"product_id", level.product_id},
                      {"received", level.received},
                      {"available", level.available},
                      {"reserved", level.reserved},
                      {"sold", level.sold},
                      {"warehouses", std::move(warehouses)}};
}

Result<void> ValidateReserve(const ReserveRequest& request) {
  if (request.order_id.empty() || request.order_id.size() > 64) {
    return Error{ErrorCode::kInvalidArgument, "order_id must be 1-64 characters", "order_id"};
  }
  if (request.items.empty() || request.items.size() > 100) {
    return Error{ErrorCode::kInvalidArgument, "items must hold 1-100 products", "items"};
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const auto& item = request.items[i];
    const std::string field = "items[" + std::to_string(i) + "]";
    if (item.product_id.empty() || item.product_id.size() > 64) {
      return Error{ErrorCode::kInvalidArgument, "product_id must be 1-64 characters",
                   field + ".product_id"};
    }
    if (item.quantity < 1 || item.quantity > 1'000'000) {
      return Error{ErrorCode::kInvalidArgument, "quantity must be 1..1000000", field + ".quantity"};
    }
    if (!seen.insert(item.product_id).second) {
      return Error{ErrorCode::kInvalidArgument, "product " + item.product_id + " is listed twice",
                   field + ".product_id"};
    }
  }
  if (request.ttl < std::chrono::seconds(1) || request.ttl > std::chrono::hours(24)) {
    return Error{ErrorCode::kInvalidArgument, "ttl_seconds must be 1..86400", "ttl_seconds"};
  }
  return Ok();
}

// ---- products and warehouses -----------------------------------------------------------------

Result<void> StockStore::UpsertProduct(Connection& tx, std::string_view id, std::string_view sku,
                                       std::string_view name, WallTime now) {
  auto done = tx.Execute(
      "INSERT INTO products (id, sku, name, low_stock_threshold, deleted, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, 0, $5, $5) "
      // `deleted` is left alone: catalog never reuses ids, so a ProductCreated replayed after its
      // ProductDeleted (a dead letter replayed late) must not bring the product back.
      "ON CONFLICT (id) DO UPDATE SET sku = $2, name = $3, updated_at = $5",
      {std::string(id), std::string(sku), std::string(name), options_.default_low_stock_threshold,
       FormatRfc3339(now)});
  if (!done) return done.error();
  return Ok();
}

Result<void> StockStore::DeleteProduct(Connection& tx, std::string_view id, WallTime now) {
  // Kept (stock rows and reservations refer to it), only marked: no new receipts or reservations.
  // Recorded even for a product not seen yet, so its ProductCreated arriving later (out of order,
  // or replayed from the dead letters) finds it deleted.
  auto done = tx.Execute(
      "INSERT INTO products (id, sku, name, low_stock_threshold, deleted, created_at, updated_at) "
      "VALUES ($1, '', '', $3, 1, $2, $2) ON CONFLICT (id) DO UPDATE SET deleted = 1, updated_at = "
      "$2",
      {std::string(id), FormatRfc3339(now), options_.default_low_stock_threshold});
  if (!done) return done.error();
  return Ok();
}

Result<void> StockStore::RequireProduct(Connection& c, std::string_view id) {
  auto rows = c.Query("SELECT 1 FROM products WHERE id = $1 AND deleted = 0", {std::string(id)});
  if (!rows) return rows.error();
  if (rows->empty())
    return Error{ErrorCode::kNotFound, "unknown product " + std::string(id), "product_id"};
  return Ok();
}

Result<void> StockStore::SetLowStockThreshold(Connection& tx, std::string_view product_id,
                                              std::int64_t threshold) {
  if (auto known = RequireProduct(tx, product_id); !known) return known;
  auto done = tx.Execute("UPDATE products SET low_stock_threshold = $2 WHERE id = $1",
                         {std::string(product_id), threshold});
  if (!done) return done.error();
  return Ok();
}

Result<Warehouse> StockStore::CreateWarehouse(Connection& tx, std::string_view id,
                                              std::string_view name, WallTime now) {
  auto done = tx.Execute("INSERT INTO warehouses (id, name, created_at) VALUES ($1, $2, $3)",
                         {std::string(id), std::string(name), FormatRfc3339(now)});
  if (!done) {
    if (done.error().code == ErrorCode::kAlreadyExists) {
      return Error{ErrorCode::kAlreadyExists, "warehouse " + std::string(id) + " exists", "id"};
    }
    return done.error();
  }
  return Warehouse{std::string(id), std::string(name), now};
}

Result<std::vector<Warehouse>> StockStore::ListWarehouses(Connection& c) {
  auto rows = c.Query("SELECT id, name, created_at FROM warehouses ORDER BY id");
  if (!rows) return rows.error();
  std::vector<Warehouse> out;
  for (const auto& row : rows->rows)
    out.push_back(Warehouse{row.String(0), row.String(1), ParseTime(row.String(2))});
  return out;
}

// ---- stock ------------------------------------------------------------------------------------

Result<StockLevel> StockStore::GetStock(Connection& c, std::string_view product_id) {
  if (auto known = RequireProduct(c, product_id); !known) return known.error();
  auto rows = c.Query(
      "SELECT warehouse_id, received, available, reserved, sold FROM stock WHERE product_id = $1 "
      "ORDER BY warehouse_id",
      {std::string(product_id)});
  if (!rows) return rows.error();
  StockLevel level;
  level.product_id = std::string(product_id);
  for (const auto& row : rows->rows) {
    WarehouseStock w{row.String(0), row.Int(1), row.Int(2), row.Int(3), row.Int(4)};
    level.received += w.received;
    level.available += w.available;
    level.reserved += w.reserved;
    level.sold += w.sold;
    level.warehouses.push_back(std::move(w));
  }
  return level;
}

Result<std::int64_t> StockStore::Available(Connection& c, std::string_view product_id) {
  auto rows = c.Query("SELECT COALESCE(SUM(available), 0) FROM stock WHERE product_id = $1",
                      {std::string(product_id)});
  if (!rows) return rows.error();
  return rows->rows[0].Int(0);
}

Result<StockStore::Received> StockStore::Receive(Connection& tx, std::string_view product_id,
                                                 std::string_view warehouse_id,
                                                 std::int64_t quantity, WallTime now,
                                                 const std::optional<obs::TraceContext>& trace,
                                                 std::string_view idempotency_key) {
  if (quantity < 1 || quantity > 1'000'000'000) {
    return Error{ErrorCode::kInvalidArgument, "quantity must be 1..1000000000", "quantity"};
  }
  if (auto known = RequireProduct(tx, product_id); !known) return known.error();
  if (!idempotency_key.empty()) {
    auto earlier = tx.Query(
        "SELECT product_id, warehouse_id, quantity FROM receipts WHERE idempotency_key = $1",
        {std::string(idempotency_key)});
    if (!earlier) return earlier.error();
    if (!earlier->empty()) {
      const auto& row = earlier->rows[0];
      if (row.String(0) != product_id || row.String(1) != warehouse_id || row.Int(2) != quantity) {
        return Error{ErrorCode::kFailedPrecondition,
                     "this Idempotency-Key was used for a different receipt", "Idempotency-Key"};
      }
      auto level = GetStock(tx, product_id);
      if (!level) return level.error();
      return Received{std::move(*level), true};
    }
  }
  auto warehouse = tx.Query("SELECT 1 FROM warehouses WHERE id = $1", {std::string(warehouse_id)});
  if (!warehouse) return warehouse.error();
  if (warehouse->empty())
    return Error{ErrorCode::kNotFound, "unknown warehouse " + std::string(warehouse_id),
                 "warehouse_id"};
  auto added = tx.Execute(
      "INSERT INTO stock (product_id, warehouse_id, received, available) VALUES ($1, $2, $3, $3) "
      "ON CONFLICT (product_id, warehouse_id) DO UPDATE SET received = received + $3, available = "
      "available + $3",
      {std::string(product_id), std::string(warehouse_id), quantity});
  if (!added) return added.error();
  storage::Value key =
      idempotency_key.empty() ? storage::Value{} : storage::Value{std::string(idempotency_key)};
  auto receipt = tx.Execute(
      "INSERT INTO receipts (id, product_id, warehouse_id, quantity, received_at, idempotency_key) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      {NewId(), std::string(product_id), std::string(warehouse_id), quantity, FormatRfc3339(now),
       key});
  if (!receipt) return receipt.error();
  auto level = GetStock(tx, product_id);
  if (!level) return level.error();
  auto published = Publish(tx, "StockReceived", std::string(product_id),
                           json::object{{"product_id", product_id},
                                        {"warehouse_id", warehouse_id},
                                        {"quantity", quantity},
                                        {"available", level->available},
                                        {"received_at", FormatRfc3339(now)}},
                           trace);
  if (!published) return published.error();
  return Received{std::move(*level), false};
}

// ---- reservations -----------------------------------------------------------------------------

Result<ReserveOutcome> StockStore::Reserve(Connection& tx, const ReserveRequest& request,
                                           WallTime now,
                                           const std::optional<obs::TraceContext>& trace) {
  if (auto valid = ValidateReserve(request); !valid) return valid.error();
  ReserveOutcome out;
  const std::string hash = RequestHash(request);
  auto existing =
      tx.Query("SELECT id, request_hash FROM reservations WHERE order_id = $1", {request.order_id});
  if (!existing) return existing.error();
  if (!existing->empty()) {
    auto r = Load(tx, existing->rows[0].String(0));
    if (!r) return r.error();
    out.kind =
        existing->rows[0].String(1) == hash ? ReserveOutcome::kExisting : ReserveOutcome::kMismatch;
    out.reservation = std::move(*r);
    return out;
  }

  // Allocate every item first (fullest warehouse first); reserve only if all fit.
  std::vector<Allocation> allocations;
  std::vector<std::pair<std::string, std::int64_t>> available_before;
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const Item& item = request.items[i];
    if (auto known = RequireProduct(tx, item.product_id); !known) {
      Error error = known.error();
      if (error.code == ErrorCode::kNotFound)
        error.field = "items[" + std::to_string(i) + "].product_id";
      return error;
    }
    auto rows = tx.Query(
        "SELECT warehouse_id, available FROM stock WHERE product_id = $1 AND available > 0 "
        "ORDER BY available DESC, warehouse_id",
        {item.product_id});
    if (!rows) return rows.error();
    std::int64_t total = 0;
    for (const auto& row : rows->rows) total += row.Int(1);
    available_before.emplace_back(item.product_id, total);
    if (total < item.quantity) {
      out.shortages.push_back(Shortage{item.product_id, item.quantity, total});
      continue;
    }
    std::int64_t left = item.quantity;
    for (const auto& row : rows->rows) {
      if (left == 0) break;
      std::int64_t take = std::min(left, row.Int(1));
      allocations.push_back(Allocation{item.product_id, row.String(0), take});
      left -= take;
    }
  }
  if (!out.shortages.empty()) {
    out.kind = ReserveOutcome::kShort;
    return out;
  }

  Reservation& r = out.reservation;
  r.id = NewId();
  r.order_id = request.order_id;
  r.status = Status::kReserved;
  r.expires_at = now + std::chrono::duration_cast<WallTime::duration>(request.ttl);
  r.created_at = r.updated_at = now;
  std::sort(allocations.begin(), allocations.end(), [](const Allocation& a, const Allocation& b) {
    return std::tie(a.product_id, a.warehouse_id) < std::tie(b.product_id, b.warehouse_id);
  });
  r.allocations = std::move(allocations);
  auto inserted = tx.Execute(
      "INSERT INTO reservations (id, order_id, status, request_hash, expires_at, created_at, "
      "updated_at) "
      "VALUES ($1, $2, 'RESERVED', $3, $4, $5, $5)",
      {r.id, r.order_id, hash, FormatRfc3339(r.expires_at), FormatRfc3339(now)});
  if (!inserted) return inserted.error();
  for (const auto& a : r.allocations) {
    auto line = tx.Execute(
        "INSERT INTO reservation_lines (reservation_id, product_id, warehouse_id, quantity) VALUES "
        "($1, $2, $3, $4)",
        {r.id, a.product_id, a.warehouse_id, a.quantity});
    if (!line) return line.error();
  }
  if (auto moved = Move(tx, r, "available", "reserved"); !moved) return moved.error();
  auto published = Publish(tx, "StockReserved", r.id,
                           json::object{{"reservation_id", r.id},
                                        {"order_id", r.order_id},
                                        {"items", ItemsJson(r)},
                                        {"expires_at", FormatRfc3339(r.expires_at)}},
                           trace);
  if (!published) return published.error();
  for (const auto& [product, before] : available_before) {
    if (auto low = MaybeStockLow(tx, product, before, trace); !low) return low.error();
  }
  out.kind = ReserveOutcome::kCreated;
  return out;
}

namespace {

Transition Unchanged(Reservation r) { return Transition{std::move(r), false, std::nullopt}; }

Transition Refused(Reservation r, std::string why) {
  Error error{ErrorCode::kFailedPrecondition,
              "reservation is " + std::string(ToString(r.status)) + "; " + std::move(why)};
  return Transition{std::move(r), false, std::move(error)};
}

}  // namespace

Result<void> StockStore::Settle(Connection& tx, Reservation& r, std::string_view from_column,
                                std::string_view to_column, Status status,
                                std::string_view event_type, WallTime now,
                                const std::optional<obs::TraceContext>& trace) {
  if (auto moved = Move(tx, r, from_column, to_column); !moved) return moved;
  if (auto set = SetStatus(tx, r, status, now); !set) return set;
  return Publish(
      tx, event_type, r.id,
      json::object{{"reservation_id", r.id}, {"order_id", r.order_id}, {"items", ItemsJson(r)}},
      trace);
}

Result<Transition> StockStore::Commit(Connection& tx, std::string_view id, WallTime now,
                                      const std::optional<obs::TraceContext>& trace) {
  auto r = Load(tx, id);
  if (!r) return r.error();
  if (r->status == Status::kReserved && r->expires_at <= now) {
    // Its time is up: expire it here (kept, not rolled back) rather than race the sweeper.
    auto expired =
        Settle(tx, *r, "reserved", "available", Status::kExpired, "ReservationExpired", now, trace);
    if (!expired) return expired.error();
  }
  if (r->status == Status::kCommitted)
    return Unchanged(std::move(*r));  // a repeated commit: same answer
  if (r->status != Status::kReserved)
    return Refused(std::move(*r), "only RESERVED can be committed");
  auto done =
      Settle(tx, *r, "reserved", "sold", Status::kCommitted, "ReservationCommitted", now, trace);
  if (!done) return done.error();
  return Transition{std::move(*r), true, std::nullopt};
}

Result<Transition> StockStore::Release(Connection& tx, std::string_view id, WallTime now,
                                       const std::optional<obs::TraceContext>& trace) {
  auto r = Load(tx, id);
  if (!r) return r.error();
  if (r->status == Status::kReleased || r->status == Status::kExpired)
    return Unchanged(std::move(*r));
  if (r->status != Status::kReserved)
    return Refused(std::move(*r), "a sold reservation is returned, not released");
  auto done =
      Settle(tx, *r, "reserved", "available", Status::kReleased, "ReservationReleased", now, trace);
  if (!done) return done.error();
  return Transition{std::move(*r), true, std::nullopt};
}

Result<Transition> StockStore::Return(Connection& tx, std::string_view id, WallTime now,
                                      const std::optional<obs::TraceContext>& trace) {
  auto r = Load(tx, id);
  if (!r) return r.error();
  if (r->status == Status::kReturned) return Unchanged(std::move(*r));
  if (r->status != Status::kCommitted)
    return Refused(std::move(*r), "only COMMITTED stock is returned");
  auto done = Settle(tx, *r, "sold", "available", Status::kReturned, "StockReturned", now, trace);
  if (!done) return done.error();
  return Transition{std::move(*r), true, std::nullopt};
}

Result<int> StockStore::ExpireDue(Connection& tx, WallTime now, int limit) {
  auto due = tx.Query(
      "SELECT id FROM reservations WHERE status = 'RESERVED' AND expires_at <= $1 ORDER BY "
      "expires_at LIMIT $2",
      {FormatRfc3339(now), std::int64_t{limit}});
  if (!due) return due.error();
  int expired = 0;
  for (const auto& row : due->rows) {
    auto r = Load(tx, row.String(0));
    if (!r) return r.error();
    auto done = Settle(tx, *r, "reserved", "available", Status::kExpired, "ReservationExpired", now,
                       std::nullopt);
    if (!done) return done.error();
    ++expired;
  }
  return expired;
}

Result<Reservation> StockStore::GetReservation(Connection& c, std::string_view id) {
  return Load(c, id);
}

Result<Reservation> StockStore::Load(Connection& c, std::string_view id) {
  auto rows = c.Query(
      "SELECT id, order_id, status, expires_at, created_at, updated_at FROM reservations WHERE id "
      "= $1",
      {std::string(id)});
  if (!rows) return rows.error();
  if (rows->empty()) return Error{ErrorCode::kNotFound, "no such reservation", "id"};
  const auto& row = rows->rows[0];
  Reservation r;
  r.id = row.String(0);
  r.order_id = row.String(1);
  auto status = ParseStatus(row.String(2));
  if (!status) return status.error();
  r.status = *status;
  r.expires_at = ParseTime(row.String(3));
  r.created_at = ParseTime(row.String(4));
  r.updated_at = ParseTime(row.String(5));
  auto lines = c.Query(
      "SELECT product_id, warehouse_id, quantity FROM reservation_lines WHERE reservation_id = $1 "
      "ORDER BY product_id, warehouse_id",
      {r.id});
  if (!lines) return lines.error();
  for (const auto& line : lines->rows)
    r.allocations.push_back(Allocation{line.String(0), line.String(1), line.Int(2)});
  return r;
}

// Moves each allocation's units between two stock columns. The row's CHECK constraints make an
// impossible move (more than the column holds) fail the statement instead of going negative.
Result<void> StockStore::Move(Connection& tx, const Reservation& r, std::string_view from,
                              std::string_view to) {
  const std::string sql = "UPDATE stock SET " + std::string(from) + " = " + std::string(from) +
                          " - $3, " + std::string(to) + " = " + std::string(to) +
                          " + $3 WHERE product_id = $1 AND warehouse_id = $2";
  for (const auto& a : r.allocations) {
    auto moved = tx.Execute(sql, {a.product_id, a.warehouse_id, a.quantity});
    if (!moved) return moved.error();
    if (*moved != 1) return Error{ErrorCode::kInternal, "a reservation line has no stock row"};
  }
  return Ok();
}

Result<void> StockStore::SetStatus(Connection& tx, Reservation& r, Status status, WallTime now) {
  auto done = tx.Execute("UPDATE reservations SET status = $2, updated_at = $3 WHERE id = $1",
                         {r.id, std::string(ToString(status)), FormatRfc3339(now)});
  if (!done) return done.error();
  r.status = status;
  r.updated_at = now;
  return Ok();
}

Result<void> StockStore::Publish(Connection& tx, std::string_view type, std::string subject,
                                 json::object data, const std::optional<obs::TraceContext>& trace) {
  if (!options_.publish) return Ok();
  auto event = messaging::MakeEvent("inventory", type, std::move(subject), std::move(data), trace);
  return messaging::Enqueue(tx, event);
}

// StockLow when a product's availability crosses below its threshold (once per crossing).
Result<void> StockStore::MaybeStockLow(Connection& tx, std::string_view product_id,
                                       std::int64_t before,
                                       const std::optional<obs::TraceContext>& trace) {
  auto threshold =
      tx.Query("SELECT low_stock_threshold FROM products WHERE id = $1", {std::string(product_id)});
  if (!threshold) return threshold.error();
  if (threshold->empty()) return Ok();
  const std::int64_t limit = threshold->rows[0].Int(0);
  auto after = Available(tx, product_id);
  if (!after) return after.error();
  if (before >= limit && *after < limit) {
    return Publish(
        tx, "StockLow", std::string(product_id),
        json::object{{"product_id", product_id}, {"available", *after}, {"threshold", limit}},
        trace);
  }
  return Ok();
}

Result<std::vector<Violation>> StockStore::CheckInvariants(Connection& c) {
  auto rows = c.Query(R"sql(
    SELECT p.id,
      COALESCE((SELECT SUM(received) FROM stock s WHERE s.product_id = p.id), 0),
      COALESCE((SELECT SUM(available) FROM stock s WHERE s.product_id = p.id), 0),
      COALESCE((SELECT SUM(reserved) FROM stock s WHERE s.product_id = p.id), 0),
      COALESCE((SELECT SUM(sold) FROM stock s WHERE s.product_id = p.id), 0),
      COALESCE((SELECT SUM(quantity) FROM receipts r WHERE r.product_id = p.id), 0),
      COALESCE((SELECT SUM(l.quantity) FROM reservation_lines l JOIN reservations v ON v.id = l.reservation_id
                WHERE l.product_id = p.id AND v.status = 'RESERVED'), 0),
      COALESCE((SELECT SUM(l.quantity) FROM reservation_lines l JOIN reservations v ON v.id = l.reservation_id
                WHERE l.product_id = p.id AND v.status = 'COMMITTED'), 0),
      (SELECT COUNT(*) FROM stock s WHERE s.product_id = p.id
         AND (s.available < 0 OR s.reserved < 0 OR s.sold < 0 OR s.available + s.reserved + s.sold <> s.received))
    FROM products p ORDER BY p.id)sql");
  if (!rows) return rows.error();
  std::vector<Violation> out;
  for (const auto& row : rows->rows) {
    const std::string id = row.String(0);
    const std::int64_t received = row.Int(1), available = row.Int(2), reserved = row.Int(3),
                       sold = row.Int(4);
    auto add = [&](std::string problem) { out.push_back(Violation{id, std::move(problem)}); };
    if (available + reserved + sold != received) {
      add("available " + std::to_string(available) + " + reserved " + std::to_string(reserved) +
          " + sold " + std::to_string(sold) + " != received " + std::to_string(received));
    }
    if (row.Int(5) != received)
      add("receipts total " + std::to_string(row.Int(5)) + " != received " +
          std::to_string(received));
    if (row.Int(6) != reserved)
      add("RESERVED reservations hold " + std::to_string(row.Int(6)) + " != reserved " +
          std::to_string(reserved));
    if (row.Int(7) != sold)
      add("COMMITTED reservations hold " + std::to_string(row.Int(7)) + " != sold " +
          std::to_string(sold));
    if (row.Int(8) != 0)
      add(std::to_string(row.Int(8)) +
          " warehouse row(s) break available + reserved + sold = received");
  }
  return out;
}

}  // namespace mercato::inventory
