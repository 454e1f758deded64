#include "item.hpp"

#include <boost/json.hpp>

#include "mercato/core/money.hpp"

namespace mercato::hello {

std::string ToJson(const Item& item) {
  boost::json::object doc;
  doc["id"] = item.id;
  doc["sku"] = item.sku;
  doc["name"] = item.name;
  doc["description"] = item.description;
  doc["price"] = {{"amount", item.price_minor}, {"currency", item.currency}};
  doc["weight_g"] = item.weight_g;
  doc["updated_at"] = item.updated_at;
  return boost::json::serialize(doc);
}

Result<Item> ParseItem(std::string id, const boost::json::value& body) {
  const auto* obj = body.if_object();
  if (!obj) return Error{ErrorCode::kInvalidArgument, "body must be a JSON object"};
  Item item;
  item.id = std::move(id);
  item.sku = "HEL-" + item.id;

  const auto* name = obj->if_contains("name");
  if (!name || !name->is_string() || name->as_string().empty() || name->as_string().size() > 200) {
    return Error{ErrorCode::kInvalidArgument, "name must be a string of 1-200 characters", "name"};
  }
  item.name = std::string(name->as_string());

  if (const auto* d = obj->if_contains("description")) {
    if (!d->is_string() || d->as_string().size() > 2000) {
      return Error{ErrorCode::kInvalidArgument, "description must be a string of at most 2000 characters",
                   "description"};
    }
    item.description = std::string(d->as_string());
  }

  const auto* price = obj->if_contains("price");
  const auto* price_obj = price ? price->if_object() : nullptr;
  const auto* amount = price_obj ? price_obj->if_contains("amount") : nullptr;
  const auto* currency = price_obj ? price_obj->if_contains("currency") : nullptr;
  if (!amount || !amount->is_int64() || amount->as_int64() < 0) {
    return Error{ErrorCode::kInvalidArgument, "price.amount must be a non-negative integer (minor units)",
                 "price.amount"};
  }
  if (!currency || !currency->is_string() || !IsCurrencyCode(currency->as_string())) {
    return Error{ErrorCode::kInvalidArgument, "price.currency must be an ISO 4217 code", "price.currency"};
  }
  item.price_minor = amount->as_int64();
  item.currency = std::string(currency->as_string());

  if (const auto* w = obj->if_contains("weight_g")) {
    if (!w->is_int64() || w->as_int64() < 0) {
      return Error{ErrorCode::kInvalidArgument, "weight_g must be a non-negative integer", "weight_g"};
    }
    item.weight_g = w->as_int64();
  }
  return item;
}

}  // namespace mercato::hello
