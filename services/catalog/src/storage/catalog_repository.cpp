#include "storage/catalog_repository.hpp"

#include <boost/json.hpp>
#include <unordered_map>

#include "mercato/messaging/outbox.hpp"

namespace mercato::catalog::storage {

// Defined by the build from migrations/*.sql (mercato_embed_migrations).
const std::vector<mercato::storage::Migration>& Migrations();

namespace json = boost::json;
using mercato::storage::Connection;
using mercato::storage::Row;
using mercato::storage::Value;

std::vector<mercato::storage::Migration> AllMigrations() {
  std::vector<mercato::storage::Migration> all = Migrations();
  const auto& outbox = messaging::Migrations();
  all.insert(all.end(), outbox.begin(), outbox.end());
  return all;
}

namespace {

constexpr std::string_view kProductColumns =
    "id, sku, name, description, price_amount, currency, categories, images, attributes, weight_g, "
    "rating_count, rating_sum, version, created_at, updated_at";

Error Corrupt(std::string what) {
  return Error{ErrorCode::kInternal, "catalog.products: " + std::move(what)};
}

Result<json::value> ParseStored(const std::string& text, std::string_view column) {
  std::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return Corrupt(std::string(column) + " is not JSON");
  return value;
}

Result<std::vector<std::string>> StringList(const std::string& text, std::string_view column) {
  auto value = ParseStored(text, column);
  if (!value) return value.error();
  if (!value->is_array()) return Corrupt(std::string(column) + " is not an array");
  std::vector<std::string> out;
  for (const auto& item : value->as_array()) {
    if (!item.is_string()) return Corrupt(std::string(column) + " holds a non-string");
    out.emplace_back(item.as_string());
  }
  return out;
}

std::string JsonList(const std::vector<std::string>& items) {
  json::array array;
  for (const auto& item : items) array.emplace_back(item);
  return json::serialize(array);
}

Result<WallTime> Time(const std::string& text) {
  WallTime t{};
  if (!ParseRfc3339(text, t)) return Corrupt("a timestamp does not parse");
  return t;
}

Result<domain::Product> ReadProduct(const Row& row) {
  domain::Product p;
  p.id = row.String(0);
  p.sku = row.String(1);
  p.name = row.String(2);
  p.description = row.String(3);
  p.price = domain::Price{row.Int(4), row.String(5)};
  auto categories = StringList(row.String(6), "categories");
  if (!categories) return categories.error();
  p.categories = std::move(*categories);
  auto images = StringList(row.String(7), "images");
  if (!images) return images.error();
  p.images = std::move(*images);
  auto attributes = ParseStored(row.String(8), "attributes");
  if (!attributes) return attributes.error();
  if (!attributes->is_object()) return Corrupt("attributes is not an object");
  p.attributes = std::move(attributes->as_object());
  p.weight_g = row.Int(9);
  p.rating = domain::Rating{row.Int(10), row.Int(11)};
  p.version = row.Int(12);
  auto created = Time(row.String(13));
  auto updated = Time(row.String(14));
  if (!created) return created.error();
  if (!updated) return updated.error();
  p.created_at = *created;
  p.updated_at = *updated;
  return p;
}

Result<void> LinkCategories(Connection& tx, const domain::Product& product) {
  auto cleared = tx.Execute("DELETE FROM product_categories WHERE product_id = $1", {product.id});
  if (!cleared) return cleared.error();
  for (const auto& category : product.categories) {
    auto linked =
        tx.Execute("INSERT INTO product_categories (product_id, category_id) VALUES ($1, $2)",
                   {product.id, category});
    if (!linked) return linked.error();
  }
  return Ok();
}

std::int64_t Offset(std::int64_t page, std::int64_t page_size) { return (page - 1) * page_size; }

}  // namespace

Result<std::optional<domain::Product>> FindProduct(Connection& c, std::string_view id) {
  auto rows = c.Query("SELECT " + std::string(kProductColumns) + " FROM products WHERE id = $1",
                      {std::string(id)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<domain::Product>{};
  auto product = ReadProduct(rows->rows[0]);
  if (!product) return product.error();
  return std::optional<domain::Product>(std::move(*product));
}

Result<std::vector<domain::Product>> FindProducts(Connection& c,
                                                  const std::vector<std::string>& ids) {
  std::vector<domain::Product> out;
  if (ids.empty()) return out;
  std::string sql = "SELECT " + std::string(kProductColumns) + " FROM products WHERE id IN (";
  std::vector<Value> params;
  params.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    sql += (i ? ", $" : "$") + std::to_string(i + 1);
    params.emplace_back(ids[i]);
  }
  sql += ")";
  auto rows = c.Query(sql, params);
  if (!rows) return rows.error();
  std::unordered_map<std::string, domain::Product> by_id;
  for (const auto& row : rows->rows) {
    auto product = ReadProduct(row);
    if (!product) return product.error();
    by_id.emplace(product->id, std::move(*product));
  }
  out.reserve(by_id.size());
  for (const auto& id : ids) {
    if (auto it = by_id.find(id); it != by_id.end()) out.push_back(std::move(it->second));
  }
  return out;
}

Result<void> InsertProduct(Connection& tx, const domain::Product& p) {
  auto inserted = tx.Execute(
      "INSERT INTO products (id, sku, name, description, price_amount, currency, categories, "
      "images, "
      "attributes, weight_g, rating_count, rating_sum, rating_average, version, created_at, "
      "updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
      {p.id, p.sku, p.name, p.description, p.price.amount, p.price.currency, JsonList(p.categories),
       JsonList(p.images), json::serialize(p.attributes), p.weight_g, p.rating.count, p.rating.sum,
       p.rating.count ? static_cast<double>(p.rating.sum) / static_cast<double>(p.rating.count)
                      : 0.0,
       p.version, FormatRfc3339(p.created_at), FormatRfc3339(p.updated_at)});
  if (!inserted) {
    if (inserted.error().code == ErrorCode::kAlreadyExists) {
      return Error{ErrorCode::kAlreadyExists, "a product with this sku exists", "sku"};
    }
    return inserted.error();
  }
  return LinkCategories(tx, p);
}

Result<void> UpdateProduct(Connection& tx, const domain::Product& p) {
  // The rating columns are left alone: AddReview owns them.
  auto updated = tx.Execute(
      "UPDATE products SET name = $2, description = $3, price_amount = $4, currency = $5, "
      "categories = $6, "
      "images = $7, attributes = $8, weight_g = $9, version = $10, updated_at = $11 WHERE id = $1",
      {p.id, p.name, p.description, p.price.amount, p.price.currency, JsonList(p.categories),
       JsonList(p.images), json::serialize(p.attributes), p.weight_g, p.version,
       FormatRfc3339(p.updated_at)});
  if (!updated) return updated.error();
  if (*updated == 0) return Error{ErrorCode::kNotFound, "no such product", "id"};
  return LinkCategories(tx, p);
}

Result<bool> DeleteProduct(Connection& tx, std::string_view id) {
  // Reviews and category links go with it (ON DELETE CASCADE).
  auto deleted = tx.Execute("DELETE FROM products WHERE id = $1", {std::string(id)});
  if (!deleted) return deleted.error();
  return *deleted > 0;
}

Result<void> RequireCategories(Connection& c, const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto exists = CategoryExists(c, ids[i]);
    if (!exists) return exists.error();
    if (!*exists) {
      const std::string field = "categories[" + std::to_string(i) + "]";
      return Error{ErrorCode::kInvalidArgument, "unknown category " + ids[i], field};
    }
  }
  return Ok();
}

Result<bool> CategoryExists(Connection& c, std::string_view id) {
  auto rows = c.Query("SELECT 1 FROM categories WHERE id = $1", {std::string(id)});
  if (!rows) return rows.error();
  return !rows->empty();
}

Result<void> InsertCategory(Connection& tx, const domain::Category& category) {
  auto inserted = tx.Execute(
      "INSERT INTO categories (id, name, description, created_at) VALUES ($1, $2, $3, $4)",
      {category.id, category.name, category.description, FormatRfc3339(category.created_at)});
  if (!inserted) {
    if (inserted.error().code == ErrorCode::kAlreadyExists) {
      return Error{ErrorCode::kAlreadyExists, "a category with this id exists", "id"};
    }
    return inserted.error();
  }
  return Ok();
}

Result<ListPage<domain::Category>> ListCategories(Connection& c, std::int64_t page,
                                                  std::int64_t page_size) {
  auto total = c.Query("SELECT count(*) FROM categories");
  if (!total) return total.error();
  auto rows = c.Query(
      "SELECT id, name, description, created_at FROM categories ORDER BY id LIMIT $1 OFFSET $2",
      {page_size, Offset(page, page_size)});
  if (!rows) return rows.error();
  ListPage<domain::Category> out;
  out.total = total->rows[0].Int(0);
  for (const auto& row : rows->rows) {
    auto created = Time(row.String(3));
    if (!created) return created.error();
    out.items.push_back(domain::Category{row.String(0), row.String(1), row.String(2), *created});
  }
  return out;
}

Result<domain::Rating> AddReview(Connection& tx, const domain::Review& review) {
  // The aggregate first: it proves the product exists (not_found otherwise), and the insert
  // after it may still fail on the one-review-per-user constraint, rolling both back. Both run
  // in one write transaction, so concurrent reviews are folded in one at a time, none lost.
  auto folded = tx.Query(
      "UPDATE products SET rating_count = rating_count + 1, rating_sum = rating_sum + $2, "
      "rating_average = CAST(rating_sum + $2 AS REAL) / (rating_count + 1), version = version + 1 "
      "WHERE id = $1 RETURNING rating_count, rating_sum",
      {review.product_id, std::int64_t{review.rating}});
  if (!folded) return folded.error();
  if (folded->empty()) return Error{ErrorCode::kNotFound, "no such product", "id"};
  auto inserted = tx.Execute(
      "INSERT INTO reviews (id, product_id, user_id, rating, title, body, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {review.id, review.product_id, review.user_id, std::int64_t{review.rating}, review.title,
       review.body, FormatRfc3339(review.created_at)});
  if (!inserted) {
    if (inserted.error().code == ErrorCode::kAlreadyExists) {
      return Error{ErrorCode::kAlreadyExists, "you have already reviewed this product"};
    }
    return inserted.error();
  }
  return domain::Rating{folded->rows[0].Int(0), folded->rows[0].Int(1)};
}

Result<ListPage<domain::Review>> ListReviews(Connection& c, std::string_view product_id,
                                             std::int64_t page, std::int64_t page_size) {
  auto total =
      c.Query("SELECT count(*) FROM reviews WHERE product_id = $1", {std::string(product_id)});
  if (!total) return total.error();
  auto rows = c.Query(
      "SELECT id, product_id, user_id, rating, title, body, created_at FROM reviews WHERE "
      "product_id = $1 "
      "ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
      {std::string(product_id), page_size, Offset(page, page_size)});
  if (!rows) return rows.error();
  ListPage<domain::Review> out;
  out.total = total->rows[0].Int(0);
  for (const auto& row : rows->rows) {
    auto created = Time(row.String(6));
    if (!created) return created.error();
    out.items.push_back(domain::Review{row.String(0), row.String(1), row.String(2),
                                       static_cast<int>(row.Int(3)), row.String(4), row.String(5),
                                       *created});
  }
  return out;
}

}  // namespace mercato::catalog::storage
