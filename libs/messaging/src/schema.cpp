#include "mercato/messaging/schema.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "mercato/core/clock.hpp"
#include "mercato/core/id.hpp"

namespace mercato::messaging {
namespace {

namespace json = boost::json;

// Nesting of schemas, counting $ref hops: a bound turns a $ref cycle in a contract into an
// error instead of a stack overflow. Instances are bounded by the JSON parser's own depth limit.
constexpr int kMaxDepth = 128;

// The schema dialect the validator implements; a contract declaring another would be read with
// the wrong semantics (e.g. draft-07 array-form "items").
constexpr std::string_view kDialect = "https://json-schema.org/draft/2020-12/schema";

Error Mismatch(std::string message, const std::string& pointer) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), pointer};
}

// A schema bug, not a bad instance: the caller should not blame the event's producer.
Error BadSchema(std::string message, const std::string& pointer) {
  return Error{ErrorCode::kInternal, "schema: " + std::move(message), pointer};
}

// RFC 6901 escaping of one reference token.
std::string Child(const std::string& pointer, std::string_view token) {
  std::string out = pointer;
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(const std::string& pointer, size_t index) {
  return pointer + '/' + std::to_string(index);
}

std::string Unescape(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

bool IsInteger(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  // JSON Schema: a number with a zero fractional part is an integer, whatever its spelling (1.0).
  return v.is_double() && std::isfinite(v.get_double()) &&
         std::trunc(v.get_double()) == v.get_double();
}

// long double holds every int64, uint64 and double exactly on the platforms we build for
// (x86-64 80-bit, aarch64 128-bit), so mixed comparisons do not round.
long double AsLongDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<long double>(v.get_int64());
  if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
  return static_cast<long double>(v.get_double());
}

// JSON Schema equality: numbers by mathematical value (1 == 1.0, which boost::json's operator==
// does not consider equal), objects regardless of member order, arrays element-wise.
bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_double() && !b.is_double()) return a == b;
    return AsLongDouble(a) == AsLongDouble(b);
  }
  if (a.kind() != b.kind()) return false;
  if (const json::array* left = a.if_array()) {
    const json::array& right = b.get_array();
    if (left->size() != right.size()) return false;
    for (size_t i = 0; i < left->size(); ++i) {
      if (!JsonEqual((*left)[i], right[i])) return false;
    }
    return true;
  }
  if (const json::object* left = a.if_object()) {
    const json::object& right = b.get_object();
    if (left->size() != right.size()) return false;
    for (const auto& member : *left) {
      const json::value* other = right.if_contains(member.key());
      if (other == nullptr || !JsonEqual(member.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

// A non-negative integer keyword value (minLength, maxItems, ...), or nullopt when malformed.
std::optional<uint64_t> AsCount(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
  if (IsInteger(v) && v.get_double() >= 0 && v.get_double() < 1.8e19) {
    return static_cast<uint64_t>(v.get_double());
  }
  return std::nullopt;
}

// JSON Schema measures string length in Unicode code points, not bytes: count UTF-8 lead bytes.
uint64_t CodePoints(std::string_view text) {
  return static_cast<uint64_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string_view TypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "unknown";
}

bool HasType(const json::value& v, std::string_view type) {
  if (type == "integer") return IsInteger(v);
  if (type == "number") return v.is_number();
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "string") return v.is_string();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

std::string Describe(const json::value& keyword_value) { return json::serialize(keyword_value); }

// Compiling a std::regex costs far more than matching one, and contracts use a handful of
// patterns, so compiled patterns are kept per thread (no locking on the consumer hot path).
// Bounded so that ValidateJson on ever-new schemas cannot grow it without limit.
const std::regex* CompiledPattern(const std::string& pattern) {
  thread_local std::unordered_map<std::string, std::optional<std::regex>> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    if (cache.size() >= 256) cache.clear();
    std::optional<std::regex> compiled;
    try {
      compiled.emplace(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      // Remembered as invalid so a bad contract does not pay for compilation on every event.
    }
    it = cache.emplace(pattern, std::move(compiled)).first;
  }
  return it->second ? &*it->second : nullptr;
}

bool IsDateTime(std::string_view text) {
  WallTime ignored;
  return ParseRfc3339(text, ignored);
}

// Only "#/$defs/<name>" against the root: contracts are self-contained files, and anything wider
// (remote or nested pointers, anchors) would need a URI resolver we do not want.
const json::value* ResolveRef(const json::value& root, std::string_view target) {
  constexpr std::string_view kDefsPrefix = "#/$defs/";
  if (!target.starts_with(kDefsPrefix)) return nullptr;
  std::string_view token = target.substr(kDefsPrefix.size());
  if (token.empty() || token.find('/') != std::string_view::npos) return nullptr;
  const json::object* object = root.if_object();
  const json::value* defs = object != nullptr ? object->if_contains("$defs") : nullptr;
  if (defs == nullptr || !defs->is_object()) return nullptr;
  return defs->get_object().if_contains(Unescape(token));
}

class Validator {
 public:
  explicit Validator(const json::value& root) : root_(root) {}

  Result<void> Validate(const json::value& schema, const json::value& instance,
                        const std::string& pointer, int depth) const {
    if (depth > kMaxDepth) return BadSchema("nesting too deep (a $ref cycle?)", pointer);
    if (const bool* allowed = schema.if_bool()) {
      if (*allowed) return Ok();
      return Mismatch("false: no value is allowed here", pointer);
    }
    const json::object* keywords = schema.if_object();
    if (keywords == nullptr) return BadSchema("a schema must be an object or a boolean", pointer);

    // Keywords are checked in a fixed order (not the document's) so the reported "first" failure
    // does not depend on how a contract happens to be formatted.
    for (auto check : {&Validator::Ref, &Validator::Type, &Validator::Enum, &Validator::Const,
                       &Validator::Numeric, &Validator::String, &Validator::Format,
                       &Validator::Array, &Validator::Object, &Validator::Combinators}) {
      auto result = (this->*check)(*keywords, instance, pointer, depth);
      if (!result) return result;
    }
    return Ok();
  }

 private:
  using Keywords = json::object;

  Result<void> Ref(const Keywords& schema, const json::value& instance, const std::string& pointer,
                   int depth) const {
    const json::value* ref = schema.if_contains("$ref");
    if (ref == nullptr || !ref->is_string()) return Ok();
    const json::value* resolved = ResolveRef(root_, ref->get_string());
    if (resolved == nullptr) {
      return BadSchema("$ref " + Describe(*ref) + " does not resolve to #/$defs/<name>", pointer);
    }
    return Validate(*resolved, instance, pointer, depth + 1);
  }

  Result<void> Type(const Keywords& schema, const json::value& instance, const std::string& pointer,
                    int) const {
    const json::value* type = schema.if_contains("type");
    if (type == nullptr) return Ok();
    if (const json::string* single = type->if_string()) {
      if (HasType(instance, *single)) return Ok();
      return Mismatch(
          "type: expected " + std::string(*single) + ", got " + std::string(TypeName(instance)),
          pointer);
    }
    if (const json::array* several = type->if_array()) {
      for (const json::value& option : *several) {
        if (option.is_string() && HasType(instance, option.get_string())) return Ok();
      }
      return Mismatch(
          "type: expected one of " + Describe(*type) + ", got " + std::string(TypeName(instance)),
          pointer);
    }
    return Ok();
  }

  // Messages never echo the instance's value: events carry personal data and errors get logged.
  Result<void> Enum(const Keywords& schema, const json::value& instance, const std::string& pointer,
                    int) const {
    const json::value* options = schema.if_contains("enum");
    if (options == nullptr || !options->is_array()) return Ok();
    for (const json::value& option : options->get_array()) {
      if (JsonEqual(option, instance)) return Ok();
    }
    return Mismatch("enum: value is not one of " + Describe(*options), pointer);
  }

  Result<void> Const(const Keywords& schema, const json::value& instance,
                     const std::string& pointer, int) const {
    const json::value* expected = schema.if_contains("const");
    if (expected == nullptr || JsonEqual(*expected, instance)) return Ok();
    return Mismatch("const: value is not " + Describe(*expected), pointer);
  }

  Result<void> Numeric(const Keywords& schema, const json::value& instance,
                       const std::string& pointer, int) const {
    if (!instance.is_number()) return Ok();
    const long double value = AsLongDouble(instance);
    if (const json::value* minimum = schema.if_contains("minimum");
        minimum != nullptr && minimum->is_number() && value < AsLongDouble(*minimum)) {
      return Mismatch("minimum: less than " + Describe(*minimum), pointer);
    }
    if (const json::value* maximum = schema.if_contains("maximum");
        maximum != nullptr && maximum->is_number() && value > AsLongDouble(*maximum)) {
      return Mismatch("maximum: greater than " + Describe(*maximum), pointer);
    }
    if (const json::value* bound = schema.if_contains("exclusiveMinimum");
        bound != nullptr && bound->is_number() && value <= AsLongDouble(*bound)) {
      return Mismatch("exclusiveMinimum: not greater than " + Describe(*bound), pointer);
    }
    return Ok();
  }

  Result<void> String(const Keywords& schema, const json::value& instance,
                      const std::string& pointer, int) const {
    const json::string* text = instance.if_string();
    if (text == nullptr) return Ok();
    const json::value* min_length = schema.if_contains("minLength");
    const json::value* max_length = schema.if_contains("maxLength");
    if (min_length != nullptr || max_length != nullptr) {
      const uint64_t length = CodePoints(*text);
      if (auto limit = min_length ? AsCount(*min_length) : std::nullopt; limit && length < *limit) {
        return Mismatch("minLength: shorter than " + std::to_string(*limit) + " characters",
                        pointer);
      }
      if (auto limit = max_length ? AsCount(*max_length) : std::nullopt; limit && length > *limit) {
        return Mismatch("maxLength: longer than " + std::to_string(*limit) + " characters",
                        pointer);
      }
    }
    if (const json::value* pattern = schema.if_contains("pattern");
        pattern != nullptr && pattern->is_string()) {
      const std::regex* regex = CompiledPattern(std::string(pattern->get_string()));
      if (regex == nullptr) {
        return BadSchema("pattern " + Describe(*pattern) + " is not an ECMAScript regex", pointer);
      }
      // JSON Schema patterns are not implicitly anchored: search, not match.
      if (!std::regex_search(text->begin(), text->end(), *regex)) {
        return Mismatch("pattern: does not match " + Describe(*pattern), pointer);
      }
    }
    return Ok();
  }

  Result<void> Format(const Keywords& schema, const json::value& instance,
                      const std::string& pointer, int) const {
    const json::value* format = schema.if_contains("format");
    const json::string* text = instance.if_string();
    if (format == nullptr || !format->is_string() || text == nullptr) return Ok();
    // Only these two are asserted (2020-12 treats formats as annotations by default); contracts
    // rely on them, others are ignored like unknown keywords.
    if (format->get_string() == "uuid" && !IsUuid(*text)) {
      return Mismatch("format: not a uuid", pointer);
    }
    if (format->get_string() == "date-time" && !IsDateTime(*text)) {
      return Mismatch("format: not an RFC 3339 date-time", pointer);
    }
    if (format->get_string() == "regex" && CompiledPattern(std::string(*text)) == nullptr) {
      return Mismatch("format: not an ECMAScript regex", pointer);
    }
    return Ok();
  }

  Result<void> Array(const Keywords& schema, const json::value& instance,
                     const std::string& pointer, int depth) const {
    const json::array* items = instance.if_array();
    if (items == nullptr) return Ok();
    if (const json::value* min = schema.if_contains("minItems")) {
      if (auto limit = AsCount(*min); limit && items->size() < *limit) {
        return Mismatch("minItems: fewer than " + std::to_string(*limit) + " items", pointer);
      }
    }
    if (const json::value* max = schema.if_contains("maxItems")) {
      if (auto limit = AsCount(*max); limit && items->size() > *limit) {
        return Mismatch("maxItems: more than " + std::to_string(*limit) + " items", pointer);
      }
    }
    // 2020-12 "items" is one schema for every element (the array form was draft-07's).
    const json::value* item_schema = schema.if_contains("items");
    if (item_schema == nullptr || !(item_schema->is_object() || item_schema->is_bool())) {
      return Ok();
    }
    for (size_t i = 0; i < items->size(); ++i) {
      auto result = Validate(*item_schema, (*items)[i], Child(pointer, i), depth + 1);
      if (!result) return result;
    }
    return Ok();
  }

  Result<void> Object(const Keywords& schema, const json::value& instance,
                      const std::string& pointer, int depth) const {
    const json::object* members = instance.if_object();
    if (members == nullptr) return Ok();
    // The missing member's own pointer is reported (not the object's) because Error::field
    // names the offending input field, which is what a producer needs to fix.
    if (const json::value* required = schema.if_contains("required");
        required != nullptr && required->is_array()) {
      for (const json::value& name : required->get_array()) {
        if (name.is_string() && !members->contains(name.get_string())) {
          return Mismatch("required: missing property \"" + std::string(name.get_string()) + "\"",
                          Child(pointer, name.get_string()));
        }
      }
    }
    const json::object* properties = nullptr;
    if (const json::value* found = schema.if_contains("properties")) {
      properties = found->if_object();
    }
    const json::value* additional = schema.if_contains("additionalProperties");
    if (additional != nullptr && !(additional->is_object() || additional->is_bool())) {
      additional = nullptr;
    }
    for (const auto& member : *members) {
      const json::value* property_schema =
          properties != nullptr ? properties->if_contains(member.key()) : nullptr;
      std::string member_pointer = Child(pointer, member.key());
      if (property_schema != nullptr) {
        auto result = Validate(*property_schema, member.value(), member_pointer, depth + 1);
        if (!result) return result;
      } else if (additional != nullptr) {
        if (additional->is_bool() && !additional->get_bool()) {
          return Mismatch(
              "additionalProperties: property \"" + std::string(member.key()) + "\" is not allowed",
              member_pointer);
        }
        auto result = Validate(*additional, member.value(), member_pointer, depth + 1);
        if (!result) return result;
      }
    }
    return Ok();
  }

  Result<void> Combinators(const Keywords& schema, const json::value& instance,
                           const std::string& pointer, int depth) const {
    if (const json::array* all = ArrayKeyword(schema, "allOf")) {
      for (const json::value& branch : *all) {
        auto result = Validate(branch, instance, pointer, depth + 1);
        if (!result) return result;
      }
    }
    if (const json::array* any = ArrayKeyword(schema, "anyOf")) {
      bool matched = false;
      for (const json::value& branch : *any) {
        auto result = Validate(branch, instance, pointer, depth + 1);
        if (!result && result.error().code == ErrorCode::kInternal) return result;
        if (result) {
          matched = true;
          break;
        }
      }
      if (!matched) return Mismatch("anyOf: no subschema matched", pointer);
    }
    if (const json::array* one = ArrayKeyword(schema, "oneOf")) {
      // Every branch is evaluated: oneOf fails when a second branch also matches.
      std::vector<size_t> matched;
      for (size_t i = 0; i < one->size(); ++i) {
        auto result = Validate((*one)[i], instance, pointer, depth + 1);
        if (!result && result.error().code == ErrorCode::kInternal) return result;
        if (result) matched.push_back(i);
      }
      if (matched.empty()) return Mismatch("oneOf: no subschema matched", pointer);
      if (matched.size() > 1) {
        return Mismatch("oneOf: subschemas " + std::to_string(matched[0]) + " and " +
                            std::to_string(matched[1]) + " both matched",
                        pointer);
      }
    }
    return Ok();
  }

  static const json::array* ArrayKeyword(const Keywords& schema, std::string_view name) {
    const json::value* found = schema.if_contains(name);
    return found != nullptr ? found->if_array() : nullptr;
  }

  const json::value& root_;
};

// What LoadDirectory checks every contract against, written in the subset itself: the supported
// keywords must be well-formed, and validation keywords the validator does not implement are
// rejected (false), so that no contract relies on a check that would silently never run.
constexpr std::string_view kMetaSchema = R"json({
  "$ref": "#/$defs/schema",
  "$defs": {
    "schema": {
      "type": ["object", "boolean"],
      "properties": {
        "$schema": {"type": "string"},
        "$ref": {"type": "string", "pattern": "^#/\\$defs/[^/]+$"},
        "$defs": {"type": "object", "additionalProperties": {"$ref": "#/$defs/schema"}},
        "type": {"anyOf": [{"$ref": "#/$defs/typeName"},
                           {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/typeName"}}]},
        "properties": {"type": "object", "additionalProperties": {"$ref": "#/$defs/schema"}},
        "required": {"type": "array", "items": {"type": "string"}},
        "additionalProperties": {"$ref": "#/$defs/schema"},
        "items": {"$ref": "#/$defs/schema"},
        "enum": {"type": "array"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "exclusiveMinimum": {"type": "number"},
        "minLength": {"$ref": "#/$defs/count"},
        "maxLength": {"$ref": "#/$defs/count"},
        "minItems": {"$ref": "#/$defs/count"},
        "maxItems": {"$ref": "#/$defs/count"},
        "pattern": {"type": "string", "format": "regex"},
        "format": {"enum": ["uuid", "date-time"]},
        "allOf": {"$ref": "#/$defs/schemaArray"},
        "anyOf": {"$ref": "#/$defs/schemaArray"},
        "oneOf": {"$ref": "#/$defs/schemaArray"},
        "not": false, "if": false, "then": false, "else": false,
        "prefixItems": false, "contains": false, "minContains": false, "maxContains": false,
        "uniqueItems": false, "patternProperties": false, "propertyNames": false,
        "dependentRequired": false, "dependentSchemas": false, "dependencies": false,
        "minProperties": false, "maxProperties": false, "exclusiveMaximum": false,
        "multipleOf": false, "unevaluatedProperties": false, "unevaluatedItems": false,
        "$dynamicRef": false, "$recursiveRef": false, "definitions": false
      }
    },
    "schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/schema"}},
    "count": {"type": "integer", "minimum": 0},
    "typeName": {"enum": ["null", "boolean", "object", "array", "number", "integer", "string"]}
  }
})json";

const json::value& MetaSchema() {
  static const json::value meta =
      json::parse(json::string_view(kMetaSchema.data(), kMetaSchema.size()));
  return meta;
}

// The meta-schema cannot see whether a $ref names an existing $defs entry; walk for them so a
// dangling reference fails at start-up rather than on the first event. enum/const hold data,
// not schemas, so they are not searched.
Result<void> CheckRefs(const json::value& root, const json::value& node,
                       const std::string& pointer) {
  if (const json::array* elements = node.if_array()) {
    for (size_t i = 0; i < elements->size(); ++i) {
      auto result = CheckRefs(root, (*elements)[i], Child(pointer, i));
      if (!result) return result;
    }
    return Ok();
  }
  const json::object* members = node.if_object();
  if (members == nullptr) return Ok();
  for (const auto& member : *members) {
    if (member.key() == "enum" || member.key() == "const") continue;
    if (member.key() == "$ref" && member.value().is_string()) {
      if (ResolveRef(root, member.value().get_string()) == nullptr) {
        return Error{ErrorCode::kInvalidArgument,
                     "$ref " + Describe(member.value()) + " does not resolve",
                     Child(pointer, "$ref")};
      }
      continue;
    }
    auto result = CheckRefs(root, member.value(), Child(pointer, member.key()));
    if (!result) return result;
  }
  return Ok();
}

// A contract file name is its subject: "<context>.<EventType>", two non-empty parts.
bool IsSubjectName(std::string_view name) {
  size_t dot = name.find('.');
  return dot != std::string_view::npos && dot != 0 && dot + 1 != name.size() &&
         name.find('.', dot + 1) == std::string_view::npos;
}

Result<json::value> ReadContract(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  if (!file || file.bad()) {
    return Error{ErrorCode::kInvalidArgument, "cannot read " + path.string(), path.string()};
  }
  boost::system::error_code ec;
  json::value schema = json::parse(text.str(), ec);
  if (ec) {
    return Error{ErrorCode::kInvalidArgument, path.string() + " is not valid JSON: " + ec.message(),
                 path.string()};
  }
  const json::object* object = schema.if_object();
  const json::value* dialect = object != nullptr ? object->if_contains("$schema") : nullptr;
  if (dialect == nullptr || !dialect->is_string() || dialect->get_string() != kDialect) {
    return Error{
        ErrorCode::kInvalidArgument,
        path.string() + " must be an object with \"$schema\": \"" + std::string(kDialect) + "\"",
        path.string()};
  }
  auto well_formed = ValidateJson(MetaSchema(), schema);
  if (!well_formed) {
    // The meta-schema forbids unsupported keywords with `false`; say so in words.
    const Error& error = well_formed.error();
    std::string why = error.message.starts_with("false:")
                          ? "keyword not supported by the contract validator"
                          : error.message;
    return Error{ErrorCode::kInvalidArgument,
                 path.string() + ": not a supported schema at " + error.field + ": " + why,
                 path.string()};
  }
  auto refs = CheckRefs(schema, schema, "");
  if (!refs) {
    return Error{ErrorCode::kInvalidArgument,
                 path.string() + ": " + refs.error().field + ": " + refs.error().message,
                 path.string()};
  }
  return schema;
}

}  // namespace

Result<void> ValidateJson(const boost::json::value& schema, const boost::json::value& instance) {
  return Validator(schema).Validate(schema, instance, "", 0);
}

Result<SchemaRegistry> SchemaRegistry::LoadDirectory(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json" && it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) {
    return Error{ErrorCode::kInvalidArgument,
                 "cannot read contracts directory " + directory + ": " + ec.message(), directory};
  }
  // Sorted so that the first reported problem (and subjects()) do not depend on readdir order.
  std::sort(files.begin(), files.end());

  SchemaRegistry registry;
  for (const fs::path& path : files) {
    std::string subject = path.stem().string();
    if (!IsSubjectName(subject)) {
      return Error{ErrorCode::kInvalidArgument,
                   path.string() + ": file name must be <context>.<EventType>.json", path.string()};
    }
    auto schema = ReadContract(path);
    if (!schema) return std::move(schema).error();
    registry.Add(std::move(subject), std::move(*schema));
  }
  return registry;
}

void SchemaRegistry::Add(std::string subject_name, boost::json::value schema) {
  schemas_.insert_or_assign(std::move(subject_name), std::move(schema));
}

bool SchemaRegistry::Has(std::string_view subject_name) const {
  return schemas_.find(subject_name) != schemas_.end();
}

Result<void> SchemaRegistry::Validate(const Event& event) const {
  std::string subject = event.subject_name();
  auto it = schemas_.find(subject);
  if (it == schemas_.end()) {
    return Error{ErrorCode::kNotFound, "no contract for " + subject, "type"};
  }
  auto result = ValidateJson(it->second, event.data);
  if (!result) {
    Error error = std::move(result).error();
    error.message = subject + " data: " + error.message;
    return error;
  }
  return Ok();
}

std::vector<std::string> SchemaRegistry::subjects() const {
  std::vector<std::string> names;
  names.reserve(schemas_.size());
  for (const auto& entry : schemas_) names.push_back(entry.first);
  return names;
}

}  // namespace mercato::messaging
