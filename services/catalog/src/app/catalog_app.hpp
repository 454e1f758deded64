// The catalog service: products, categories, full-text search and reviews on the Mercato chassis
// (ARCHITECTURE.md §1, §6; services/catalog/README.md lists every endpoint). Owns the SQLite
// database <data-dir>/catalog.db; publishes catalog.* events through the outbox (stream CATALOG);
// verifies identity's tokens itself (JWKS) for the admin-only writes and for reviews.
//
//   auto config = config::Config::LoadOrExit("catalog", catalog::app::Schema(), argc, argv);
//   service::Service service("catalog", config);
//   catalog::app::CatalogApp app(service);   // storage, cache, search, bus, routes
//   return service.Run();
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/product_cache.hpp"
#include "app/product_search.hpp"
#include "mercato/config/config.hpp"
#include "mercato/messaging/bus.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/service/auth.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::catalog::app {

// The chassis' keys, the bus', the token verification's, and the catalog's own.
config::Schema Schema();
// api/openapi.yaml, embedded at build time.
const std::string& OpenApiDocument();

class CatalogApp {
 public:
  explicit CatalogApp(service::Service& service);
  ~CatalogApp();
  CatalogApp(const CatalogApp&) = delete;
  CatalogApp& operator=(const CatalogApp&) = delete;

 private:
  void AddRoutes(http::Router& router);
  void AddMetrics(obs::Registry& metrics);
  Task<void> WarmTokenKeys();

  // Handlers.
  Task<http::Response> ListProducts(http::RequestContext& ctx);
  Task<http::Response> GetProduct(http::RequestContext& ctx);
  Task<http::Response> CreateProduct(http::RequestContext& ctx);
  Task<http::Response> ReplaceProduct(http::RequestContext& ctx);
  Task<http::Response> PatchProduct(http::RequestContext& ctx);
  Task<http::Response> DeleteProduct(http::RequestContext& ctx);
  Task<http::Response> ListCategories(http::RequestContext& ctx);
  Task<http::Response> CreateCategory(http::RequestContext& ctx);
  Task<http::Response> ListReviews(http::RequestContext& ctx);
  Task<http::Response> AddReview(http::RequestContext& ctx);

  // PUT and PATCH: parse, then load, change and save in one write transaction (with the search
  // index and the events), then invalidate the cached document.
  Task<http::Response> UpdateProduct(http::RequestContext& ctx, bool replace);
  // The caller's verified token; with `admin`, permission_denied unless it has the admin role.
  Task<Result<security::VerifiedToken>> Authenticate(http::RequestContext& ctx, bool admin);
  // The query parameters of GET /products, validated (400 on anything out of range).
  Result<SearchQuery> ParseSearchQuery(const http::RequestContext& ctx) const;
  Result<std::int64_t> PageParam(const http::RequestContext& ctx, std::string_view name,
                                 std::int64_t fallback, std::int64_t max) const;

  std::int64_t default_page_size_;
  std::int64_t max_page_size_;
  // Shared so the start-up key fetch on the blocking pool keeps it alive through a quick shutdown.
  std::shared_ptr<service::RemoteAuth> auth_;
  std::unique_ptr<ProductCache> cache_;
  std::unique_ptr<ProductSearch> search_;
  std::unique_ptr<mercato::storage::Database> db_;  // before bus_: the bus stops first
  std::unique_ptr<messaging::Bus> bus_;

  obs::Family<obs::Counter>& product_writes_;
  obs::Family<obs::Counter>& reviews_;
  obs::Family<obs::Counter>& searches_;
};

}  // namespace mercato::catalog::app
