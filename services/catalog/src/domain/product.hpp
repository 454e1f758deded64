// The catalog's domain: products, categories and reviews as plain values, the rules their fields
// obey, and the parsing of API input into them. No I/O and no clock: callers pass ids and `now`.
// Every rejection is invalid_argument naming the offending field ("price.amount",
// "categories[2]"), so handlers turn it into a 400 problem as is.
//
//   auto fields = domain::ParseProductFields(body, domain::FieldsMode::kCreate);
//   auto product = domain::NewProduct(NewId(), *fields, now);
//   auto changed = domain::ApplyFields(*product, *patch, later);   // version + 1
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"

namespace mercato::catalog::domain {

// Limits, in code points for text. The event contracts (contracts/events/catalog.*.json) repeat
// the ones that travel on the bus; change both together.
inline constexpr std::size_t kMaxIdLength = 64;
inline constexpr std::size_t kMaxSkuLength = 64;
inline constexpr std::size_t kMaxNameLength = 200;
inline constexpr std::size_t kMaxDescriptionLength = 5000;
inline constexpr std::size_t kMaxCategories = 20;
inline constexpr std::size_t kMaxImages = 20;
inline constexpr std::size_t kMaxImageUrlLength = 2048;
inline constexpr std::size_t kMaxAttributes = 50;
inline constexpr std::size_t kMaxAttributeKeyLength = 64;
inline constexpr std::size_t kMaxAttributeValueLength = 500;
inline constexpr std::int64_t kMaxPriceAmount = 1'000'000'000'000;  // minor units
inline constexpr std::int64_t kMaxWeightGrams = 1'000'000'000;
inline constexpr std::size_t kMaxCategoryNameLength = 100;
inline constexpr std::size_t kMaxCategoryDescriptionLength = 1000;
inline constexpr std::size_t kMaxReviewTitleLength = 200;
inline constexpr std::size_t kMaxReviewBodyLength = 5000;

// An amount in integer minor units of an ISO 4217 currency; never a float.
struct Price {
  std::int64_t amount = 0;
  std::string currency;
  friend bool operator==(const Price&, const Price&) = default;
};

// The aggregate of a product's reviews. The sum is kept, not the average, so the aggregate stays
// exact however many reviews arrive.
struct Rating {
  std::int64_t count = 0;
  std::int64_t sum = 0;
  // sum / count rounded to two decimals (0 without reviews).
  double Average() const;
};

struct Product {
  std::string id;
  std::string sku;
  std::string name;
  std::string description;
  Price price;
  std::vector<std::string> categories;  // category ids, in the order given, without duplicates
  std::vector<std::string> images;      // URLs
  boost::json::object attributes;       // key -> string, number or boolean
  std::int64_t weight_g = 0;
  Rating rating;
  std::int64_t version = 0;  // +1 on every change of the document (edits and reviews): the ETag
  WallTime created_at{};
  WallTime updated_at{};  // the last edit (a review changes the rating, not this)
};

struct Category {
  std::string id;  // a slug chosen by the admin: "running-shoes"
  std::string name;
  std::string description;
  WallTime created_at{};
};

struct Review {
  std::string id;
  std::string product_id;
  std::string user_id;
  int rating = 0;  // 1..5
  std::string title;
  std::string body;
  WallTime created_at{};
};

// The writable fields of a product; a field left empty is not being set.
struct ProductFields {
  std::optional<std::string> sku;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<Price> price;
  std::optional<std::vector<std::string>> categories;
  std::optional<std::vector<std::string>> images;
  std::optional<boost::json::object> attributes;
  std::optional<std::int64_t> weight_g;
};

enum class FieldsMode {
  kCreate,   // POST: sku, name and price required; the other fields default (empty, 0)
  kReplace,  // PUT: name and price required, sku optional (it cannot change); others default
  kPatch,    // PATCH: any non-empty subset
};

// Parses and validates a request body (a JSON object) into product fields. Unknown members are
// rejected, so a typo ("prise") is an error rather than a silent no-op.
Result<ProductFields> ParseProductFields(const boost::json::value& body, FieldsMode mode);

// A new product (version 1, no reviews) from complete fields (kCreate).
Result<Product> NewProduct(std::string id, const ProductFields& fields, WallTime now);
// `current` with `fields` applied, version + 1 and updated_at = now. invalid_argument when the
// sku would change (it identifies the product to other services).
Result<Product> ApplyFields(const Product& current, const ProductFields& fields, WallTime now);

Result<Category> ParseCategory(const boost::json::value& body, WallTime now);

// A review's input: {rating, title?, body?}. The ids and time come from the caller.
Result<Review> ParseReview(const boost::json::value& body, std::string id, std::string product_id,
                           std::string user_id, WallTime now);

// A category id: 1-64 of [a-z0-9-], starting with a letter or digit.
bool IsCategoryId(std::string_view text);
// A SKU: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.
bool IsSku(std::string_view text);
// UTF-8 code points in `text` (the JSON parser has already rejected invalid UTF-8).
std::size_t CodePoints(std::string_view text);

}  // namespace mercato::catalog::domain
