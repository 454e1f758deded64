// Inventory's stock and reservations on a storage connection: every function runs inside the
// caller's transaction (Database::Transact / Read), so a stock change, its reservation rows and
// its outbox events commit together. The database enforces available + reserved + sold =
// received on every stock row; these functions keep reservations consistent with the rows.
//
//   auto outcome = store.Reserve(tx, {.order_id = "o1", .items = {{"p1", 2}}, .ttl = 15min}, now,
//   trace); if (outcome->kind == ReserveOutcome::kShort) → 409 naming outcome->shortages
//   store.Commit(tx, outcome->reservation.id, now, trace);      // RESERVED → COMMITTED
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/observability/trace.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::inventory {

using storage::Connection;

struct Item {
  std::string product_id;
  std::int64_t quantity = 0;
};

struct Allocation {
  std::string product_id;
  std::string warehouse_id;
  std::int64_t quantity = 0;
};

enum class Status { kReserved, kCommitted, kReleased, kExpired, kReturned };
std::string_view ToString(Status status);

struct Reservation {
  std::string id;
  std::string order_id;
  Status status = Status::kReserved;
  std::vector<Allocation> allocations;  // ordered by product, then warehouse
  WallTime expires_at{};
  WallTime created_at{};
  WallTime updated_at{};

  // Requested quantities per product (the sum of its allocations), ordered by product.
  std::vector<Item> Items() const;
};
boost::json::object ToJson(const Reservation& reservation);

struct Shortage {
  std::string product_id;
  std::int64_t requested = 0;
  std::int64_t available = 0;
};

struct ReserveRequest {
  std::string order_id;
  std::vector<Item> items;  // distinct products, quantities > 0 (checked by ValidateReserve)
  std::chrono::seconds ttl{900};
};

struct ReserveOutcome {
  enum Kind {
    kCreated,   // a new reservation
    kExisting,  // this order already has a reservation for the same request: returned as is
    kShort,     // not enough stock: nothing reserved; `shortages` names every short item
    kMismatch,  // this order already has a reservation for a different request
  };
  Kind kind = kCreated;
  Reservation reservation;
  std::vector<Shortage> shortages;
};

// A state change asked of a reservation. `refused` holds why it was not legal (conflict),
// which the caller answers without rolling back: an expiry noticed on the way is kept.
struct Transition {
  Reservation reservation;
  bool applied = false;  // false: already in the target state (idempotent repeat) or refused
  std::optional<Error> refused;
};

struct WarehouseStock {
  std::string warehouse_id;
  std::int64_t received = 0, available = 0, reserved = 0, sold = 0;
};
struct StockLevel {
  std::string product_id;
  std::int64_t received = 0, available = 0, reserved = 0, sold = 0;
  std::vector<WarehouseStock> warehouses;
};
boost::json::object ToJson(const StockLevel& level);

struct Warehouse {
  std::string id;
  std::string name;
  WallTime created_at{};
};

// A product whose numbers disagree (there must be none): the stock rows against themselves,
// against the receipts, and against the reservations that hold or sold its units.
struct Violation {
  std::string product_id;
  std::string problem;
};

// Checks a reservation request's shape: order id, 1-100 distinct products, quantities
// 1..1,000,000, ttl 1 s..24 h. invalid_argument naming the field. The idempotency of a
// reservation is its order id and items; the ttl is not part of it (a retry that leaves the ttl
// to the default still finds its reservation).
Result<void> ValidateReserve(const ReserveRequest& request);

class StockStore {
 public:
  struct Options {
    std::int64_t default_low_stock_threshold = 5;
    bool publish = false;  // write integration events to the outbox
  };
  explicit StockStore(Options options) : options_(options) {}

  // Products, as catalog announces them (idempotent).
  Result<void> UpsertProduct(Connection& tx, std::string_view id, std::string_view sku,
                             std::string_view name, WallTime now);
  Result<void> DeleteProduct(Connection& tx, std::string_view id, WallTime now);
  // not_found for an unknown or deleted product.
  Result<void> RequireProduct(Connection& c, std::string_view id);
  Result<void> SetLowStockThreshold(Connection& tx, std::string_view product_id,
                                    std::int64_t threshold);

  // already_exists for a taken id.
  Result<Warehouse> CreateWarehouse(Connection& tx, std::string_view id, std::string_view name,
                                    WallTime now);
  Result<std::vector<Warehouse>> ListWarehouses(Connection& c);

  // Adds received units to a product in a warehouse (both must exist: not_found otherwise).
  // With an idempotency key, a repeat of the same receipt changes nothing and answers the current
  // level with `repeated` set; the same key for a different receipt is failed_precondition.
  struct Received {
    StockLevel level;
    bool repeated = false;
  };
  Result<Received> Receive(Connection& tx, std::string_view product_id,
                           std::string_view warehouse_id, std::int64_t quantity, WallTime now,
                           const std::optional<obs::TraceContext>& trace,
                           std::string_view idempotency_key = {});
  // not_found for an unknown product.
  Result<StockLevel> GetStock(Connection& c, std::string_view product_id);

  Result<ReserveOutcome> Reserve(Connection& tx, const ReserveRequest& request, WallTime now,
                                 const std::optional<obs::TraceContext>& trace);
  // RESERVED → COMMITTED (reserved → sold). A reservation past its expiry is expired instead
  // and the commit refused.
  Result<Transition> Commit(Connection& tx, std::string_view id, WallTime now,
                            const std::optional<obs::TraceContext>& trace);
  // RESERVED → RELEASED (reserved → available). Already released or expired: unchanged.
  Result<Transition> Release(Connection& tx, std::string_view id, WallTime now,
                             const std::optional<obs::TraceContext>& trace);
  // COMMITTED → RETURNED (sold → available), after a refund.
  Result<Transition> Return(Connection& tx, std::string_view id, WallTime now,
                            const std::optional<obs::TraceContext>& trace);
  // Expires up to `limit` reservations whose time has come. Returns how many.
  Result<int> ExpireDue(Connection& tx, WallTime now, int limit);
  // not_found for an unknown id.
  Result<Reservation> GetReservation(Connection& c, std::string_view id);

  Result<std::vector<Violation>> CheckInvariants(Connection& c);

 private:
  Result<Reservation> Load(Connection& c, std::string_view id);
  Result<void> Move(Connection& tx, const Reservation& r, std::string_view from_column,
                    std::string_view to_column);
  Result<void> SetStatus(Connection& tx, Reservation& r, Status status, WallTime now);
  // One transition: the units move between two columns, the status changes, the event is queued.
  Result<void> Settle(Connection& tx, Reservation& r, std::string_view from_column,
                      std::string_view to_column, Status status, std::string_view event_type,
                      WallTime now, const std::optional<obs::TraceContext>& trace);
  Result<void> Publish(Connection& tx, std::string_view type, std::string subject,
                       boost::json::object data, const std::optional<obs::TraceContext>& trace);
  Result<std::int64_t> Available(Connection& c, std::string_view product_id);
  Result<void> MaybeStockLow(Connection& tx, std::string_view product_id, std::int64_t before,
                             const std::optional<obs::TraceContext>& trace);

  Options options_;
};

}  // namespace mercato::inventory
