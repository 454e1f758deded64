// The inventory service (port 8103): warehouses, stock per product per warehouse, receipts, and
// the reservations the checkout saga takes, commits, releases and returns (ARCHITECTURE.md §4,
// §6; services/inventory/README.md lists every endpoint). Products become known from catalog's
// ProductCreated / ProductDeleted events. A sweeper expires reservations whose TTL passed.
//
//   inventory::InventoryApp app(service);   // opens data-dir/inventory.db, routes, consumer,
//   sweeper
#pragma once

#include <memory>
#include <set>
#include <span>
#include <string>

#include "mercato/config/config.hpp"
#include "mercato/messaging/bus.hpp"
#include "mercato/service/auth.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/database.hpp"
#include "stock_store.hpp"

namespace mercato::inventory {

config::Schema Schema();
const std::string& OpenApiDocument();
std::vector<storage::Migration> AllMigrations();

class InventoryApp {
 public:
  explicit InventoryApp(service::Service& service);
  ~InventoryApp();

 private:
  Task<http::Response> GetStock(http::RequestContext& ctx);
  Task<http::Response> Receive(http::RequestContext& ctx);
  Task<http::Response> SetThreshold(http::RequestContext& ctx);
  Task<http::Response> ListWarehouses(http::RequestContext& ctx);
  Task<http::Response> CreateWarehouse(http::RequestContext& ctx);
  Task<http::Response> Reserve(http::RequestContext& ctx);
  Task<http::Response> GetReservation(http::RequestContext& ctx);
  Task<http::Response> Transit(http::RequestContext& ctx, std::string_view action);
  Task<http::Response> Invariants(http::RequestContext& ctx);
  Task<void> Sweep(Duration every);

  // The verified caller when they hold one of `roles`; the problem to answer otherwise.
  // (A span of a named array: a braced list or initializer_list argument to a coroutine trips
  // GCC 12.)
  Task<Result<security::VerifiedToken>> Require(http::RequestContext& ctx,
                                                std::span<const std::string_view> roles);
  // An admin, or a service whose client id is in --reservation-clients (the orders service):
  // any other service's token may not take or settle reservations.
  Task<Result<security::VerifiedToken>> RequireReservationCaller(http::RequestContext& ctx);

  service::Service& service_;
  std::unique_ptr<service::RemoteAuth> auth_;
  std::unique_ptr<StockStore> store_;
  Duration default_ttl_;
  std::set<std::string, std::less<>> reservation_clients_;
  std::unique_ptr<storage::Database> db_;  // before bus_: the bus stops first
  std::unique_ptr<messaging::Bus> bus_;
  obs::Family<obs::Counter>& reservations_;
  obs::Counter& expired_;
};

}  // namespace mercato::inventory
