#include "app/catalog_app.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <functional>

#include "app/documents.hpp"
#include "domain/product.hpp"
#include "mercato/core/id.hpp"
#include "mercato/http/server.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/security/authz.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "storage/catalog_repository.hpp"
#include "storage/fts5_product_search.hpp"

namespace mercato::catalog::app {

namespace json = boost::json;
using mercato::storage::Connection;

config::Schema Schema() {
  auto schema = service::BaseSchema(8102);
  messaging::AddConfig(schema, "nats://127.0.0.1:4222");
  service::AddAuthConfig(schema);
  schema
      .Int("cache-size", 10000,
           "products kept in the in-process read cache (0: every read goes to SQLite)", 0, 10000000)
      .Duration("cache-ttl", "60s",
                "longest a cached product is served (0: until evicted); bounds staleness only for "
                "writes made "
                "by another catalog process, since this one invalidates on every write")
      .Int("default-page-size", 20, "page_size of list endpoints when none is given", 1, 1000)
      .Int("max-page-size", 100, "largest page_size accepted (a larger one is a 400)", 1, 1000);
  return schema;
}

namespace {

WallTime Now() { return Clock::Real().WallNow(); }

// Ids the catalog hands out are UUIDs; a path segment longer than any id cannot name a product,
// so it is a 404 without a database round trip.
bool CouldBeId(std::string_view id) { return !id.empty() && id.size() <= domain::kMaxIdLength; }

http::Response ProductResponse(int status, const domain::Product& product) {
  return http::RawJson(status, Serialize(ProductJson(product))).WithHeader("ETag", ETagOf(product));
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// If-None-Match (RFC 9110 §13.1.2): a list of entity tags compared weakly ("W/" ignored), or "*".
bool IfNoneMatchHits(std::optional<std::string_view> header, std::string_view etag) {
  if (!header) return false;
  std::string_view rest = *header;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view tag = TrimSpaces(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

// If-Match: "<version>" makes a write conditional on the version the client read.
Result<std::optional<std::int64_t>> IfMatchVersion(const http::RequestContext& ctx) {
  auto header = ctx.Header("If-Match");
  if (!header) return std::optional<std::int64_t>{};
  std::string text(TrimSpaces(*header));
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.substr(1, text.size() - 2);
  char* end = nullptr;
  const long long version = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || version < 1) {
    return Error{ErrorCode::kInvalidArgument,
                 "If-Match must be an ETag of this API (\"<version>\")", "If-Match"};
  }
  return std::optional<std::int64_t>(version);
}

// A non-negative decimal integer query parameter within [min, max]; nullopt when absent.
Result<std::optional<std::int64_t>> IntegerParam(const http::RequestContext& ctx,
                                                 std::string_view name, std::int64_t min,
                                                 std::int64_t max) {
  auto text = ctx.Query(name);
  if (!text) return std::optional<std::int64_t>{};
  const bool digits =
      !text->empty() && text->size() <= 18 &&
      std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; });
  const std::int64_t value = digits ? std::strtoll(text->c_str(), nullptr, 10) : -1;
  if (!digits || value < min || value > max) {
    return Error{ErrorCode::kInvalidArgument,
                 std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max),
                 std::string(name)};
  }
  return std::optional<std::int64_t>(value);
}

constexpr std::int64_t kMaxPage = 1'000'000;
constexpr std::size_t kMaxQueryLength = 200;
constexpr std::size_t kMaxQueryWords = 16;

}  // namespace

CatalogApp::CatalogApp(service::Service& service)
    : product_writes_(service.metrics().AddCounter("mercato_catalog_product_writes_total",
                                                   "Products created, updated or deleted",
                                                   {"operation"})),
      reviews_(service.metrics().AddCounter("mercato_catalog_reviews_total",
                                            "Review submissions by outcome (added, duplicate)",
                                            {"outcome"})),
      searches_(service.metrics().AddCounter(
          "mercato_catalog_searches_total",
          "GET /products requests, full-text (q given) or browsing", {"kind"})) {
  const auto& config = service.config();
  default_page_size_ = config.GetInt("default-page-size");
  max_page_size_ = config.GetInt("max-page-size");
  if (default_page_size_ > max_page_size_)
    throw std::runtime_error("default-page-size exceeds max-page-size");

  auth_ = std::make_shared<service::RemoteAuth>(config);
  cache_ = std::make_unique<LruProductCache>(
      LruProductCache::Options{.capacity = static_cast<std::size_t>(config.GetInt("cache-size")),
                               .ttl = config.GetDuration("cache-ttl")});
  search_ = std::make_unique<storage::Fts5ProductSearch>();

  auto db = mercato::storage::OpenSqlite({.path = service.data_dir() + "/catalog.db"});
  if (!db) throw std::runtime_error("cannot open catalog.db: " + db.error().message);
  db_ = std::move(*db);
  if (auto applied = mercato::storage::ApplyMigrations(*db_, storage::AllMigrations()); !applied) {
    throw std::runtime_error("cannot migrate catalog.db: " + applied.error().message);
  }
  bus_ = std::make_unique<messaging::Bus>(
      service, *db_, std::vector{messaging::StreamSpec::ForContext("CATALOG", "catalog")});
  service.health().Add("sqlite", [this] {
    auto ping = db_->Ping();
    return ping ? obs::CheckResult::Up() : obs::CheckResult::Down(ping.error().message);
  });
  bus_->Start();

  AddMetrics(service.metrics());
  AddRoutes(service.router());
  // The bus' operator endpoints (dead letters) take an admin token, like the catalog's writes.
  service.SetAdminGuard([this](http::RequestContext& ctx) -> Task<Result<void>> {
    auto caller = co_await Authenticate(ctx, true);
    if (!caller) co_return caller.error();
    co_return Ok();
  });
  service.server().Spawn(WarmTokenKeys());
}

CatalogApp::~CatalogApp() = default;

void CatalogApp::AddMetrics(obs::Registry& metrics) {
  struct Stat {
    const char* name;
    const char* help;
    std::uint64_t CacheStats::*field;
    bool counter;
  };
  static constexpr Stat kStats[] = {
      {"mercato_catalog_cache_hits_total", "GET /products/{id} answered from the product cache",
       &CacheStats::hits, true},
      {"mercato_catalog_cache_misses_total", "GET /products/{id} that went to SQLite",
       &CacheStats::misses, true},
      {"mercato_catalog_cache_evictions_total", "Cached products dropped to stay within cache-size",
       &CacheStats::evictions, true},
      {"mercato_catalog_cache_expirations_total",
       "Cached products dropped because their cache-ttl passed", &CacheStats::expirations, true},
      {"mercato_catalog_cache_invalidations_total",
       "Cache invalidations by product writes and reviews", &CacheStats::invalidations, true},
      {"mercato_catalog_cache_entries", "Products in the cache now", &CacheStats::entries, false},
  };
  for (const auto& stat : kStats) {
    auto field = stat.field;
    metrics.AddCallback(
        stat.name, stat.help, [this, field] { return static_cast<double>(cache_->Stats().*field); },
        stat.counter);
  }
}

void CatalogApp::AddRoutes(http::Router& r) {
  using M = http::Method;
  auto bind = [this](Task<http::Response> (CatalogApp::*handler)(http::RequestContext&)) {
    return [this, handler](http::RequestContext& ctx) { return (this->*handler)(ctx); };
  };
  r.Add(M::kGet, "/products", bind(&CatalogApp::ListProducts));
  r.Add(M::kPost, "/products", bind(&CatalogApp::CreateProduct));
  r.Add(M::kGet, "/products/{id}", bind(&CatalogApp::GetProduct));
  r.Add(M::kPut, "/products/{id}", bind(&CatalogApp::ReplaceProduct));
  r.Add(M::kPatch, "/products/{id}", bind(&CatalogApp::PatchProduct));
  r.Add(M::kDelete, "/products/{id}", bind(&CatalogApp::DeleteProduct));
  r.Add(M::kGet, "/categories", bind(&CatalogApp::ListCategories));
  r.Add(M::kPost, "/categories", bind(&CatalogApp::CreateCategory));
  r.Add(M::kGet, "/products/{id}/reviews", bind(&CatalogApp::ListReviews));
  r.Add(M::kPost, "/products/{id}/reviews", bind(&CatalogApp::AddReview));
}

// Fetches identity's keys once at start, off the event loop, so the first write does not wait
// for it. A failure is fine: the first token with an unknown key fetches them again.
Task<void> CatalogApp::WarmTokenKeys() {
  std::function<void()> warm = [auth = auth_] {
    if (auto warmed = auth->Warm(); !warmed) {
      obs::LogWarn("identity's token keys are not reachable yet",
                   {{"error", warmed.error().message}});
    }
  };
  co_await http::RunBlocking(std::move(warm));
}

Task<Result<security::VerifiedToken>> CatalogApp::Authenticate(http::RequestContext& ctx,
                                                               bool admin) {
  auto token = co_await auth_->authenticator().AuthenticateAsync(ctx);
  if (!token) co_return token.error();
  if (admin) {
    if (auto allowed = security::RequireRole(*token, "admin"); !allowed) co_return allowed.error();
  }
  co_return token;
}

Result<std::int64_t> CatalogApp::PageParam(const http::RequestContext& ctx, std::string_view name,
                                           std::int64_t fallback, std::int64_t max) const {
  auto value = IntegerParam(ctx, name, 1, max);
  if (!value) return value.error();
  return value->value_or(fallback);
}

Result<SearchQuery> CatalogApp::ParseSearchQuery(const http::RequestContext& ctx) const {
  SearchQuery query;
  if (auto q = ctx.Query("q")) {
    if (domain::CodePoints(*q) > kMaxQueryLength) {
      return Error{ErrorCode::kInvalidArgument, "q is longer than 200 characters", "q"};
    }
    if (SearchWords(*q).size() > kMaxQueryWords) {
      return Error{ErrorCode::kInvalidArgument, "q has more than 16 words", "q"};
    }
    query.text = std::move(*q);
  }
  if (auto category = ctx.Query("category"); category && !category->empty()) {
    if (!domain::IsCategoryId(*category)) {
      return Error{ErrorCode::kInvalidArgument, "category is not a category id", "category"};
    }
    query.category = std::move(*category);
  }
  auto min_price = IntegerParam(ctx, "min_price", 0, domain::kMaxPriceAmount);
  if (!min_price) return min_price.error();
  auto max_price = IntegerParam(ctx, "max_price", 0, domain::kMaxPriceAmount);
  if (!max_price) return max_price.error();
  if (*min_price && *max_price && **min_price > **max_price) {
    return Error{ErrorCode::kInvalidArgument, "min_price is above max_price", "min_price"};
  }
  query.min_price = *min_price;
  query.max_price = *max_price;
  const bool has_text = !SearchWords(query.text).empty();
  query.sort = has_text ? SearchSort::kRelevance : SearchSort::kNewest;
  if (auto sort = ctx.Query("sort"); sort && !sort->empty()) {
    auto parsed = ParseSearchSort(*sort);
    if (!parsed) {
      return Error{ErrorCode::kInvalidArgument,
                   "sort must be relevance, price_asc, price_desc, rating or newest", "sort"};
    }
    if (*parsed == SearchSort::kRelevance && !has_text) {
      return Error{ErrorCode::kInvalidArgument, "sort=relevance needs a q to be relevant to",
                   "sort"};
    }
    query.sort = *parsed;
  }
  auto page = PageParam(ctx, "page", 1, kMaxPage);
  if (!page) return page.error();
  auto page_size = PageParam(ctx, "page_size", default_page_size_, max_page_size_);
  if (!page_size) return page_size.error();
  query.page = *page;
  query.page_size = *page_size;
  return query;
}

// ---- products ---------------------------------------------------------------------------------

Task<http::Response> CatalogApp::ListProducts(http::RequestContext& ctx) {
  auto query = ParseSearchQuery(ctx);
  if (!query) co_return http::Problem(query.error());
  searches_.WithLabels({SearchWords(query->text).empty() ? "browse" : "fulltext"}).Inc();
  struct Found {
    std::vector<domain::Product> items;
    std::int64_t total = 0;
  };
  // One read transaction: the ids, the total and the rows come from the same snapshot.
  auto run = [this, &query](Connection& c) -> Result<Found> {
    auto snapshot = mercato::storage::Transaction::Begin(c, false);
    if (!snapshot) return snapshot.error();
    if (query->category) {
      auto exists = storage::CategoryExists(c, *query->category);
      if (!exists) return exists.error();
      if (!*exists)
        return Error{ErrorCode::kInvalidArgument, "unknown category " + *query->category,
                     "category"};
    }
    auto hits = search_->Search(c, *query);
    if (!hits) return hits.error();
    auto items = storage::FindProducts(c, hits->ids);
    if (!items) return items.error();
    return Found{std::move(*items), hits->total};
  };
  auto found = co_await db_->Read(std::move(run));
  if (!found) co_return http::Problem(found.error());
  json::array items;
  items.reserve(found->items.size());
  for (const auto& product : found->items) items.push_back(ProductJson(product));
  co_return http::RawJson(
      200, Serialize(ListJson(std::move(items), query->page, query->page_size, found->total)));
}

// Cache-aside: a hit answers from memory; a miss reads SQLite and fills the cache unless the
// product was written meanwhile (the stamp).
Task<http::Response> CatalogApp::GetProduct(http::RequestContext& ctx) {
  const std::string id = ctx.PathParam("id");
  if (!CouldBeId(id)) co_return http::Problem(ErrorCode::kNotFound, "no such product", "id");
  std::optional<CachedProduct> document = cache_->Get(id);
  if (!document) {
    const auto stamp = cache_->BeginRead(id);
    auto find = [&id](Connection& c) { return storage::FindProduct(c, id); };
    auto product = co_await db_->Read(std::move(find));
    if (!product) co_return http::Problem(product.error());
    if (!*product) co_return http::Problem(ErrorCode::kNotFound, "no such product", "id");
    CachedProduct fresh{Serialize(ProductJson(**product)), ETagOf(**product)};
    cache_->PutRead(id, fresh, stamp);
    document = std::move(fresh);
  }
  if (IfNoneMatchHits(ctx.Header("If-None-Match"), document->etag)) {
    co_return http::Empty(304)
        .WithHeader("ETag", std::move(document->etag))
        .WithHeader("Cache-Control", "no-cache");
  }
  // no-cache: clients and the gateway may store it but revalidate (cheap, with the ETag) before
  // each reuse, so nobody keeps showing a price after it changed.
  co_return http::RawJson(200, std::move(document->json))
      .WithHeader("ETag", std::move(document->etag))
      .WithHeader("Cache-Control", "no-cache");
}

Task<http::Response> CatalogApp::CreateProduct(http::RequestContext& ctx) {
  auto caller = co_await Authenticate(ctx, true);
  if (!caller) co_return service::AuthProblem(caller.error());
  auto body = ctx.JsonBody();
  if (!body) co_return http::Problem(body.error());
  auto fields = domain::ParseProductFields(*body, domain::FieldsMode::kCreate);
  if (!fields) co_return http::Problem(fields.error());
  auto product = domain::NewProduct(NewId(), *fields, Now());
  if (!product) co_return http::Problem(product.error());

  const bool publish = bus_->enabled();
  const std::optional<obs::TraceContext> trace = ctx.trace();
  auto create = [this, &product, publish, &trace](Connection& tx) -> Result<void> {
    if (auto known = storage::RequireCategories(tx, product->categories); !known) return known;
    if (auto inserted = storage::InsertProduct(tx, *product); !inserted) return inserted;
    if (auto indexed = search_->Index(tx, *product); !indexed) return indexed;
    if (publish) return messaging::Enqueue(tx, ProductCreatedEvent(*product, trace));
    return Ok();
  };
  auto saved = co_await db_->Transact(std::move(create));
  if (!saved) co_return http::Problem(saved.error());
  bus_->Notify();
  product_writes_.WithLabels({"create"}).Inc();
  ctx.Log().Info("product created",
                 {{"product_id", product->id}, {"sku", product->sku}, {"by", caller->subject}});
  co_return ProductResponse(201, *product).WithHeader("Location", "/products/" + product->id);
}

Task<http::Response> CatalogApp::ReplaceProduct(http::RequestContext& ctx) {
  return UpdateProduct(ctx, true);
}

Task<http::Response> CatalogApp::PatchProduct(http::RequestContext& ctx) {
  return UpdateProduct(ctx, false);
}

Task<http::Response> CatalogApp::UpdateProduct(http::RequestContext& ctx, bool replace) {
  auto caller = co_await Authenticate(ctx, true);
  if (!caller) co_return service::AuthProblem(caller.error());
  const std::string id = ctx.PathParam("id");
  if (!CouldBeId(id)) co_return http::Problem(ErrorCode::kNotFound, "no such product", "id");
  auto expected_version = IfMatchVersion(ctx);
  if (!expected_version) co_return http::Problem(expected_version.error());
  auto body = ctx.JsonBody();
  if (!body) co_return http::Problem(body.error());
  auto fields = domain::ParseProductFields(
      *body, replace ? domain::FieldsMode::kReplace : domain::FieldsMode::kPatch);
  if (!fields) co_return http::Problem(fields.error());

  const WallTime now = Now();
  const bool publish = bus_->enabled();
  const std::optional<obs::TraceContext> trace = ctx.trace();
  // Read, change and write in one write transaction: concurrent edits apply one after the other,
  // none is lost, and the price an event reports as old is the one that was replaced.
  auto update = [&](Connection& tx) -> Result<domain::Product> {
    auto current = storage::FindProduct(tx, id);
    if (!current) return current.error();
    if (!*current) return Error{ErrorCode::kNotFound, "no such product", "id"};
    if (*expected_version && **expected_version != (*current)->version) {
      return Error{ErrorCode::kAborted,
                   "the product is at version " + std::to_string((*current)->version) + ", not " +
                       std::to_string(**expected_version) + "; reload and retry"};
    }
    auto next = domain::ApplyFields(**current, *fields, now);
    if (!next) return next.error();
    if (auto known = storage::RequireCategories(tx, next->categories); !known) return known.error();
    if (auto written = storage::UpdateProduct(tx, *next); !written) return written.error();
    if (auto indexed = search_->Index(tx, *next); !indexed) return indexed.error();
    if (publish) {
      if (auto queued = messaging::Enqueue(tx, ProductUpdatedEvent(*next, trace)); !queued)
        return queued.error();
      if (next->price != (*current)->price) {
        if (auto queued = messaging::Enqueue(tx, PriceChangedEvent(**current, *next, trace));
            !queued) {
          return queued.error();
        }
      }
    }
    return next;
  };
  auto saved = co_await db_->Transact(std::move(update));
  if (!saved) co_return http::Problem(saved.error());
  cache_->Invalidate(id);  // committed: from here on no reader may be served the old document
  bus_->Notify();
  product_writes_.WithLabels({"update"}).Inc();
  ctx.Log().Info("product updated",
                 {{"product_id", id}, {"version", saved->version}, {"by", caller->subject}});
  co_return ProductResponse(200, *saved);
}

Task<http::Response> CatalogApp::DeleteProduct(http::RequestContext& ctx) {
  auto caller = co_await Authenticate(ctx, true);
  if (!caller) co_return service::AuthProblem(caller.error());
  const std::string id = ctx.PathParam("id");
  if (!CouldBeId(id)) co_return http::Problem(ErrorCode::kNotFound, "no such product", "id");
  const WallTime now = Now();
  const bool publish = bus_->enabled();
  const std::optional<obs::TraceContext> trace = ctx.trace();
  auto remove = [this, &id, now, publish, &trace](Connection& tx) -> Result<void> {
    // The index entry first: it is found through the product's row.
    if (auto unindexed = search_->Remove(tx, id); !unindexed) return unindexed;
    auto deleted = storage::DeleteProduct(tx, id);
    if (!deleted) return deleted.error();
    if (!*deleted) return Error{ErrorCode::kNotFound, "no such product", "id"};
    if (publish) return messaging::Enqueue(tx, ProductDeletedEvent(id, now, trace));
    return Ok();
  };
  auto removed = co_await db_->Transact(std::move(remove));
  if (!removed) co_return http::Problem(removed.error());
  cache_->Invalidate(id);
  bus_->Notify();
  product_writes_.WithLabels({"delete"}).Inc();
  ctx.Log().Info("product deleted", {{"product_id", id}, {"by", caller->subject}});
  co_return http::Empty(204);
}

// ---- categories -------------------------------------------------------------------------------

Task<http::Response> CatalogApp::ListCategories(http::RequestContext& ctx) {
  auto page = PageParam(ctx, "page", 1, kMaxPage);
  if (!page) co_return http::Problem(page.error());
  auto page_size = PageParam(ctx, "page_size", default_page_size_, max_page_size_);
  if (!page_size) co_return http::Problem(page_size.error());
  auto list = [&page, &page_size](Connection& c) -> Result<storage::ListPage<domain::Category>> {
    auto snapshot = mercato::storage::Transaction::Begin(c, false);
    if (!snapshot) return snapshot.error();
    return storage::ListCategories(c, *page, *page_size);
  };
  auto categories = co_await db_->Read(std::move(list));
  if (!categories) co_return http::Problem(categories.error());
  json::array items;
  for (const auto& category : categories->items) items.push_back(CategoryJson(category));
  co_return http::Json(200, ListJson(std::move(items), *page, *page_size, categories->total));
}

Task<http::Response> CatalogApp::CreateCategory(http::RequestContext& ctx) {
  auto caller = co_await Authenticate(ctx, true);
  if (!caller) co_return service::AuthProblem(caller.error());
  auto body = ctx.JsonBody();
  if (!body) co_return http::Problem(body.error());
  auto category = domain::ParseCategory(*body, Now());
  if (!category) co_return http::Problem(category.error());
  auto insert = [&category](Connection& tx) { return storage::InsertCategory(tx, *category); };
  auto saved = co_await db_->Transact(std::move(insert));
  if (!saved) co_return http::Problem(saved.error());
  ctx.Log().Info("category created", {{"category_id", category->id}, {"by", caller->subject}});
  co_return http::Json(201, CategoryJson(*category));
}

// ---- reviews ----------------------------------------------------------------------------------

Task<http::Response> CatalogApp::ListReviews(http::RequestContext& ctx) {
  const std::string id = ctx.PathParam("id");
  if (!CouldBeId(id)) co_return http::Problem(ErrorCode::kNotFound, "no such product", "id");
  auto page = PageParam(ctx, "page", 1, kMaxPage);
  if (!page) co_return http::Problem(page.error());
  auto page_size = PageParam(ctx, "page_size", default_page_size_, max_page_size_);
  if (!page_size) co_return http::Problem(page_size.error());
  auto list = [&id, &page, &page_size](Connection& c) -> Result<storage::ListPage<domain::Review>> {
    auto snapshot = mercato::storage::Transaction::Begin(c, false);
    if (!snapshot) return snapshot.error();
    auto product = storage::FindProduct(c, id);
    if (!product) return product.error();
    if (!*product) return Error{ErrorCode::kNotFound, "no such product", "id"};
    return storage::ListReviews(c, id, *page, *page_size);
  };
  auto reviews = co_await db_->Read(std::move(list));
  if (!reviews) co_return http::Problem(reviews.error());
  json::array items;
  for (const auto& review : reviews->items) items.push_back(ReviewJson(review));
  co_return http::Json(200, ListJson(std::move(items), *page, *page_size, reviews->total));
}

// Any signed-in user may review a product once. The review and the product's rating aggregate
// are written in one transaction, so concurrent reviews never lose an update.
Task<http::Response> CatalogApp::AddReview(http::RequestContext& ctx) {
  auto caller = co_await Authenticate(ctx, false);
  if (!caller) co_return service::AuthProblem(caller.error());
  if (security::HasRole(*caller, "service")) {
    co_return http::Problem(ErrorCode::kPermissionDenied,
                            "reviews are written by users, not services");
  }
  const std::string id = ctx.PathParam("id");
  if (!CouldBeId(id)) co_return http::Problem(ErrorCode::kNotFound, "no such product", "id");
  auto body = ctx.JsonBody();
  if (!body) co_return http::Problem(body.error());
  auto review = domain::ParseReview(*body, NewId(), id, caller->subject, Now());
  if (!review) co_return http::Problem(review.error());

  const bool publish = bus_->enabled();
  const std::optional<obs::TraceContext> trace = ctx.trace();
  auto add = [&review, publish, &trace](Connection& tx) -> Result<domain::Rating> {
    auto rating = storage::AddReview(tx, *review);
    if (!rating) return rating.error();
    if (publish) {
      if (auto queued = messaging::Enqueue(tx, ReviewAddedEvent(*review, *rating, trace));
          !queued) {
        return queued.error();
      }
    }
    return rating;
  };
  auto rating = co_await db_->Transact(std::move(add));
  if (!rating) {
    if (rating.error().code == ErrorCode::kAlreadyExists) reviews_.WithLabels({"duplicate"}).Inc();
    co_return http::Problem(rating.error());
  }
  cache_->Invalidate(id);  // the document's rating changed
  bus_->Notify();
  reviews_.WithLabels({"added"}).Inc();
  ctx.Log().Info("review added",
                 {{"product_id", id}, {"review_id", review->id}, {"rating", review->rating}});
  co_return http::Json(201, ReviewJson(*review));
}

}  // namespace mercato::catalog::app
