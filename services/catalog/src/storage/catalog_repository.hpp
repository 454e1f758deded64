// The catalog's tables (migrations/001_catalog.sql): products, categories, product-category links
// and reviews. Every function runs on a storage connection inside the caller's Database::Read or
// Transact, so a write, its search-index update and its outbox events commit together.
//
//   auto product = storage::FindProduct(c, id);                 // Result<optional<Product>>
//   co_await db.Transact([&](mercato::storage::Connection& tx) { return storage::InsertProduct(tx,
//   p); });
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/product.hpp"
#include "mercato/core/result.hpp"
#include "mercato/storage/database.hpp"
#include "mercato/storage/migrations.hpp"

namespace mercato::catalog::storage {

// migrations/*.sql (embedded at build time) plus the messaging library's outbox and inbox.
std::vector<mercato::storage::Migration> AllMigrations();

// One page of a list, with the total over all pages.
template <class T>
struct ListPage {
  std::vector<T> items;
  std::int64_t total = 0;
};

// ---- products ----------------------------------------------------------------------------------

Result<std::optional<domain::Product>> FindProduct(mercato::storage::Connection& c,
                                                   std::string_view id);
// The products with these ids, in the order of `ids`; ids that do not exist are skipped.
Result<std::vector<domain::Product>> FindProducts(mercato::storage::Connection& c,
                                                  const std::vector<std::string>& ids);
// already_exists (field "sku") when the SKU is taken.
Result<void> InsertProduct(mercato::storage::Connection& tx, const domain::Product& product);
// Replaces every column of the product's row (and its category links); not_found if it is gone.
Result<void> UpdateProduct(mercato::storage::Connection& tx, const domain::Product& product);
// Deletes the product with its reviews and category links; false when there was none.
Result<bool> DeleteProduct(mercato::storage::Connection& tx, std::string_view id);

// ---- categories --------------------------------------------------------------------------------

// invalid_argument naming the first id in `ids` that is not a category ("categories[1]").
Result<void> RequireCategories(mercato::storage::Connection& c,
                               const std::vector<std::string>& ids);
Result<bool> CategoryExists(mercato::storage::Connection& c, std::string_view id);
// already_exists (field "id") when the id is taken.
Result<void> InsertCategory(mercato::storage::Connection& tx, const domain::Category& category);
// Ordered by id.
Result<ListPage<domain::Category>> ListCategories(mercato::storage::Connection& c,
                                                  std::int64_t page, std::int64_t page_size);

// ---- reviews -----------------------------------------------------------------------------------

// Inserts the review and folds its rating into the product's aggregate (and version), in the
// caller's transaction; returns the aggregate after it. not_found: no such product;
// already_exists: this user already reviewed this product (nothing is changed).
Result<domain::Rating> AddReview(mercato::storage::Connection& tx, const domain::Review& review);
// Newest first (ties by id).
Result<ListPage<domain::Review>> ListReviews(mercato::storage::Connection& c,
                                             std::string_view product_id, std::int64_t page,
                                             std::int64_t page_size);

}  // namespace mercato::catalog::storage
