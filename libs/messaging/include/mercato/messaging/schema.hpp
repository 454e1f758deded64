// Event contracts: JSON Schemas in contracts/events/<context>.<EventType>.json describe each
// event's `data`. The validator implements the subset of JSON Schema (2020-12) the contracts use:
// type (incl. arrays of types and "integer"), properties, required, additionalProperties (bool or
// schema), items, enum, const, minimum/maximum, exclusiveMinimum, minLength/maxLength, pattern,
// minItems/maxItems, format "uuid" and "date-time", $ref to "#/$defs/<name>", allOf/anyOf/oneOf.
//
//   auto contracts = messaging::SchemaRegistry::LoadDirectory("contracts/events");
//   auto ok = contracts->Validate(event);   // Error naming the JSON pointer of the first problem
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/messaging/event.hpp"

namespace mercato::messaging {

// Validates `instance` against `schema`; the error's field is the JSON pointer ("/items/0/qty").
Result<void> ValidateJson(const boost::json::value& schema, const boost::json::value& instance);

class SchemaRegistry {
 public:
  // Reads every *.json file; the file name without .json is the event's NATS subject
  // ("orders.OrderConfirmed"). invalid_argument on unreadable or malformed files.
  static Result<SchemaRegistry> LoadDirectory(const std::string& directory);

  void Add(std::string subject_name, boost::json::value schema);
  bool Has(std::string_view subject_name) const;
  // not_found when no contract exists for the event's subject; invalid_argument when `data`
  // does not match.
  Result<void> Validate(const Event& event) const;
  std::vector<std::string> subjects() const;

 private:
  std::map<std::string, boost::json::value, std::less<>> schemas_;
};

}  // namespace mercato::messaging
