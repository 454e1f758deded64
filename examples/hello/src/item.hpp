// A catalogue item of the hello sample and its JSON form. Pure: no I/O.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "mercato/core/result.hpp"

namespace mercato::hello {

struct Item {
  std::string id;
  std::string sku;
  std::string name;
  std::string description;
  int64_t price_minor = 0;
  std::string currency = "USD";
  int64_t weight_g = 0;
  std::string updated_at;
};

std::string ToJson(const Item& item);
// Validates a PUT body: name (1-200 chars), description (<= 2000), price {amount >= 0, currency},
// weight_g >= 0. The id comes from the path.
Result<Item> ParseItem(std::string id, const boost::json::value& body);

}  // namespace mercato::hello
