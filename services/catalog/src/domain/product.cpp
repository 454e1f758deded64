#include "domain/product.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace mercato::catalog::domain {

namespace json = boost::json;

namespace {

Error Invalid(std::string message, std::string field) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool IsControl(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7F;
}

bool HasControl(std::string_view text, bool allow_line_breaks) {
  return std::any_of(text.begin(), text.end(), [allow_line_breaks](char c) {
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) return false;
    return IsControl(c);
  });
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// Rejects members other than `allowed`.
Result<void> OnlyFields(const json::object& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& member : body) {
    if (std::find(allowed.begin(), allowed.end(), member.key()) == allowed.end()) {
      return Invalid("unknown field " + std::string(member.key()), std::string(member.key()));
    }
  }
  return Ok();
}

// An integral JSON number (int64, or uint64 within range); nullopt for anything else, including
// 4.0: amounts and counts are integers on the wire, never floats.
std::optional<std::int64_t> IntegerOf(const json::value& value) {
  if (value.is_int64()) return value.as_int64();
  if (value.is_uint64() && value.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(value.as_uint64());
  }
  return std::nullopt;
}

// A text field: a string, trimmed, at most `max_length` code points, no control characters
// (line breaks allowed in long texts), non-empty when `required`.
Result<std::string> Text(const json::value& value, const std::string& field, std::size_t max_length,
                         bool required, bool allow_line_breaks = false) {
  if (!value.is_string()) return Invalid(field + " must be a string", field);
  const auto trimmed = Trim(value.as_string());
  if (required && trimmed.empty()) return Invalid(field + " must not be empty", field);
  if (CodePoints(trimmed) > max_length) {
    return Invalid(field + " is longer than " + std::to_string(max_length) + " characters", field);
  }
  if (HasControl(trimmed, allow_line_breaks))
    return Invalid(field + " contains control characters", field);
  return std::string(trimmed);
}

Result<Price> ParsePrice(const json::value& value) {
  const auto* object = value.if_object();
  if (!object) return Invalid("price must be an object {amount, currency}", "price");
  if (auto only = OnlyFields(*object, {"amount", "currency"}); !only) {
    return Invalid("unknown field price." + only.error().field, "price." + only.error().field);
  }
  const auto* amount = object->if_contains("amount");
  if (!amount) return Invalid("price.amount is required", "price.amount");
  auto minor = IntegerOf(*amount);
  if (!minor)
    return Invalid("price.amount must be an integer number of minor units", "price.amount");
  if (*minor < 0) return Invalid("price.amount must not be negative", "price.amount");
  if (*minor > kMaxPriceAmount) return Invalid("price.amount is too large", "price.amount");
  const auto* currency = object->if_contains("currency");
  if (!currency) return Invalid("price.currency is required", "price.currency");
  const auto* code = currency->if_string();
  const bool iso = code && code->size() == 3 && std::all_of(code->begin(), code->end(), [](char c) {
                     return c >= 'A' && c <= 'Z';
                   });
  if (!iso) return Invalid("price.currency must be an ISO 4217 code such as USD", "price.currency");
  return Price{*minor, std::string(*code)};
}

Result<std::vector<std::string>> ParseCategoryIds(const json::value& value) {
  const auto* array = value.if_array();
  if (!array) return Invalid("categories must be an array of category ids", "categories");
  if (array->size() > kMaxCategories) {
    return Invalid("at most " + std::to_string(kMaxCategories) + " categories", "categories");
  }
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto* id = (*array)[i].if_string();
    const std::string field = "categories[" + std::to_string(i) + "]";
    if (!id || !IsCategoryId(*id)) return Invalid(field + " is not a category id", field);
    if (std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.emplace_back(*id);
  }
  return ids;
}

Result<std::vector<std::string>> ParseImages(const json::value& value) {
  const auto* array = value.if_array();
  if (!array) return Invalid("images must be an array of URLs", "images");
  if (array->size() > kMaxImages)
    return Invalid("at most " + std::to_string(kMaxImages) + " images", "images");
  std::vector<std::string> urls;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const std::string field = "images[" + std::to_string(i) + "]";
    const auto* url = (*array)[i].if_string();
    const bool ok =
        url && !url->empty() && url->size() <= kMaxImageUrlLength &&
        (url->starts_with("https://") || url->starts_with("http://") || url->starts_with("/")) &&
        std::none_of(url->begin(), url->end(), [](char c) { return IsControl(c) || c == ' '; });
    if (!ok) return Invalid(field + " must be an http(s) URL or an absolute path", field);
    urls.emplace_back(*url);
  }
  return urls;
}

Result<json::object> ParseAttributes(const json::value& value) {
  const auto* object = value.if_object();
  if (!object) return Invalid("attributes must be an object", "attributes");
  if (object->size() > kMaxAttributes) {
    return Invalid("at most " + std::to_string(kMaxAttributes) + " attributes", "attributes");
  }
  json::object out;
  for (const auto& member : *object) {
    const std::string key(member.key());
    const std::string field = "attributes." + key;
    const auto trimmed_key = Trim(key);
    if (trimmed_key.empty() || trimmed_key.size() != key.size() ||
        CodePoints(key) > kMaxAttributeKeyLength || HasControl(key, false)) {
      return Invalid("attribute names are 1-64 characters without surrounding spaces",
                     "attributes");
    }
    const auto& v = member.value();
    if (v.is_string()) {
      auto text = Text(v, field, kMaxAttributeValueLength, false);
      if (!text) return text.error();
      out[key] = *text;
    } else if (v.is_double() && !std::isfinite(v.get_double())) {
      // 1e400 parses to infinity, which JSON cannot represent: refuse it rather than store text
      // that no longer parses.
      return Invalid(field + " must be a finite number", field);
    } else if (v.is_bool() || v.is_number()) {
      out[key] = v;
    } else {
      return Invalid(field + " must be a string, a number or a boolean", field);
    }
  }
  return out;
}

}  // namespace

std::size_t CodePoints(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool IsCategoryId(std::string_view text) {
  return !text.empty() && text.size() <= kMaxIdLength && IsLowerAlnum(text.front()) &&
         std::all_of(text.begin(), text.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool IsSku(std::string_view text) {
  return !text.empty() && text.size() <= kMaxSkuLength && IsAlnum(text.front()) &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '-'; });
}

double Rating::Average() const {
  if (count <= 0) return 0.0;
  return std::round(static_cast<double>(sum) * 100.0 / static_cast<double>(count)) / 100.0;
}

Result<ProductFields> ParseProductFields(const json::value& body, FieldsMode mode) {
  const auto* object = body.if_object();
  if (!object) return Invalid("the body must be a JSON object", "");
  if (auto only = OnlyFields(*object, {"sku", "name", "description", "price", "categories",
                                       "images", "attributes", "weight_g"});
      !only) {
    return only.error();
  }
  if (mode == FieldsMode::kPatch && object->empty())
    return Invalid("the patch changes nothing", "");
  ProductFields fields;
  if (const auto* sku = object->if_contains("sku")) {
    const auto* text = sku->if_string();
    if (!text || !IsSku(*text)) return Invalid("sku must be 1-64 of A-Z a-z 0-9 . _ -", "sku");
    fields.sku = std::string(*text);
  }
  if (const auto* name = object->if_contains("name")) {
    auto text = Text(*name, "name", kMaxNameLength, true);
    if (!text) return text.error();
    fields.name = std::move(*text);
  }
  if (const auto* description = object->if_contains("description")) {
    auto text = Text(*description, "description", kMaxDescriptionLength, false, true);
    if (!text) return text.error();
    fields.description = std::move(*text);
  }
  if (const auto* price = object->if_contains("price")) {
    auto parsed = ParsePrice(*price);
    if (!parsed) return parsed.error();
    fields.price = std::move(*parsed);
  }
  if (const auto* categories = object->if_contains("categories")) {
    auto parsed = ParseCategoryIds(*categories);
    if (!parsed) return parsed.error();
    fields.categories = std::move(*parsed);
  }
  if (const auto* images = object->if_contains("images")) {
    auto parsed = ParseImages(*images);
    if (!parsed) return parsed.error();
    fields.images = std::move(*parsed);
  }
  if (const auto* attributes = object->if_contains("attributes")) {
    auto parsed = ParseAttributes(*attributes);
    if (!parsed) return parsed.error();
    fields.attributes = std::move(*parsed);
  }
  if (const auto* weight = object->if_contains("weight_g")) {
    auto grams = IntegerOf(*weight);
    if (!grams || *grams < 0 || *grams > kMaxWeightGrams) {
      return Invalid("weight_g must be an integer number of grams, 0 or more", "weight_g");
    }
    fields.weight_g = *grams;
  }
  if (mode == FieldsMode::kPatch) return fields;
  if (mode == FieldsMode::kCreate && !fields.sku) return Invalid("sku is required", "sku");
  if (!fields.name) return Invalid("name is required", "name");
  if (!fields.price) return Invalid("price is required", "price");
  // A create or a replacement sets every field: what is left out takes its empty value.
  if (!fields.description) fields.description = std::string();
  if (!fields.categories) fields.categories = std::vector<std::string>();
  if (!fields.images) fields.images = std::vector<std::string>();
  if (!fields.attributes) fields.attributes = json::object();
  if (!fields.weight_g) fields.weight_g = 0;
  return fields;
}

Result<Product> NewProduct(std::string id, const ProductFields& fields, WallTime now) {
  if (!fields.sku || !fields.name || !fields.price) {
    return Invalid("a new product needs sku, name and price", "");
  }
  Product product;
  product.id = std::move(id);
  product.sku = *fields.sku;
  product.version = 0;
  product.created_at = now;
  auto applied = ApplyFields(product, fields, now);
  if (!applied) return applied.error();
  return applied;
}

Result<Product> ApplyFields(const Product& current, const ProductFields& fields, WallTime now) {
  if (fields.sku && *fields.sku != current.sku) {
    return Invalid("sku cannot be changed (other services know the product by it)", "sku");
  }
  Product next = current;
  if (fields.name) next.name = *fields.name;
  if (fields.description) next.description = *fields.description;
  if (fields.price) next.price = *fields.price;
  if (fields.categories) next.categories = *fields.categories;
  if (fields.images) next.images = *fields.images;
  if (fields.attributes) next.attributes = *fields.attributes;
  if (fields.weight_g) next.weight_g = *fields.weight_g;
  next.version = current.version + 1;
  next.updated_at = now;
  return next;
}

Result<Category> ParseCategory(const json::value& body, WallTime now) {
  const auto* object = body.if_object();
  if (!object) return Invalid("the body must be a JSON object", "");
  if (auto only = OnlyFields(*object, {"id", "name", "description"}); !only) return only.error();
  Category category;
  const auto* id = object->if_contains("id");
  if (!id) return Invalid("id is required", "id");
  if (!id->is_string() || !IsCategoryId(id->as_string())) {
    return Invalid("id must be 1-64 of a-z 0-9 and -, starting with a letter or digit", "id");
  }
  category.id = std::string(id->as_string());
  const auto* name = object->if_contains("name");
  if (!name) return Invalid("name is required", "name");
  auto name_text = Text(*name, "name", kMaxCategoryNameLength, true);
  if (!name_text) return name_text.error();
  category.name = std::move(*name_text);
  if (const auto* description = object->if_contains("description")) {
    auto text = Text(*description, "description", kMaxCategoryDescriptionLength, false, true);
    if (!text) return text.error();
    category.description = std::move(*text);
  }
  category.created_at = now;
  return category;
}

Result<Review> ParseReview(const json::value& body, std::string id, std::string product_id,
                           std::string user_id, WallTime now) {
  const auto* object = body.if_object();
  if (!object) return Invalid("the body must be a JSON object", "");
  if (auto only = OnlyFields(*object, {"rating", "title", "body"}); !only) return only.error();
  Review review;
  const auto* rating = object->if_contains("rating");
  if (!rating) return Invalid("rating is required", "rating");
  auto stars = IntegerOf(*rating);
  if (!stars || *stars < 1 || *stars > 5)
    return Invalid("rating must be an integer from 1 to 5", "rating");
  review.rating = static_cast<int>(*stars);
  if (const auto* title = object->if_contains("title")) {
    auto text = Text(*title, "title", kMaxReviewTitleLength, false);
    if (!text) return text.error();
    review.title = std::move(*text);
  }
  if (const auto* text_body = object->if_contains("body")) {
    auto text = Text(*text_body, "body", kMaxReviewBodyLength, false, true);
    if (!text) return text.error();
    review.body = std::move(*text);
  }
  review.id = std::move(id);
  review.product_id = std::move(product_id);
  review.user_id = std::move(user_id);
  review.created_at = now;
  return review;
}

}  // namespace mercato::catalog::domain
