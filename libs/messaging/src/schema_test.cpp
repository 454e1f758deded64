#include "mercato/messaging/schema.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace mercato::messaging {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

Result<void> Check(std::string_view schema, std::string_view instance) {
  return ValidateJson(json::parse(schema), json::parse(instance));
}

// Asserts on code and pointer; the keyword is checked as the message's "<keyword>:" prefix,
// which the header promises so a reader of a log line knows which rule failed.
void ExpectRejected(std::string_view schema, std::string_view instance, std::string_view pointer,
                    std::string_view keyword) {
  SCOPED_TRACE(std::string(schema) + " against " + std::string(instance));
  auto result = Check(schema, instance);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().field, pointer);
  EXPECT_TRUE(result.error().message.starts_with(std::string(keyword) + ":"))
      << result.error().message;
}

void ExpectAccepted(std::string_view schema, std::string_view instance) {
  auto result = Check(schema, instance);
  EXPECT_TRUE(result) << schema << " against " << instance << ": " << result.error().message
                      << " at " << result.error().field;
}

TEST(ValidateJson, ChecksEachType) {
  ExpectAccepted(R"({"type":"null"})", "null");
  ExpectAccepted(R"({"type":"boolean"})", "false");
  ExpectAccepted(R"({"type":"string"})", R"("x")");
  ExpectAccepted(R"({"type":"array"})", "[]");
  ExpectAccepted(R"({"type":"object"})", "{}");
  ExpectRejected(R"({"type":"null"})", "0", "", "type");
  ExpectRejected(R"({"type":"boolean"})", "0", "", "type");
  ExpectRejected(R"({"type":"string"})", "1", "", "type");
  ExpectRejected(R"({"type":"array"})", "{}", "", "type");
  ExpectRejected(R"({"type":"object"})", "[]", "", "type");
}

TEST(ValidateJson, IntegerAcceptsWholeNumbersOfAnySpelling) {
  ExpectAccepted(R"({"type":"integer"})", "-3");
  ExpectAccepted(R"({"type":"integer"})", "18446744073709551615");  // uint64
  ExpectAccepted(R"({"type":"integer"})", "1.0");
  ExpectAccepted(R"({"type":"integer"})", "1e3");
  ExpectRejected(R"({"type":"integer"})", "1.5", "", "type");
  ExpectRejected(R"({"type":"integer"})", R"("1")", "", "type");
}

TEST(ValidateJson, NumberAcceptsAnyNumeric) {
  ExpectAccepted(R"({"type":"number"})", "1");
  ExpectAccepted(R"({"type":"number"})", "1.5");
  ExpectAccepted(R"({"type":"number"})", "18446744073709551615");
  ExpectRejected(R"({"type":"number"})", R"("1.5")", "", "type");
  ExpectRejected(R"({"type":"number"})", "true", "", "type");
}

TEST(ValidateJson, TypeArrayAcceptsAnyListedType) {
  ExpectAccepted(R"({"type":["string","null"]})", "null");
  ExpectAccepted(R"({"type":["string","null"]})", R"("x")");
  ExpectRejected(R"({"type":["string","null"]})", "1", "", "type");
}

constexpr std::string_view kItemSchema = R"({
  "type": "object",
  "required": ["item_id", "price"],
  "properties": {
    "item_id": {"type": "string"},
    "price": {
      "type": "object",
      "required": ["amount", "currency"],
      "properties": {"amount": {"type": "integer", "minimum": 0},
                     "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}
    }
  }
})";

TEST(ValidateJson, ReportsNestedFailuresByJsonPointer) {
  ExpectAccepted(kItemSchema, R"({"item_id":"a","price":{"amount":5,"currency":"EUR"}})");
  ExpectRejected(kItemSchema, R"({"item_id":"a","price":{"amount":5.5,"currency":"EUR"}})",
                 "/price/amount", "type");
  ExpectRejected(kItemSchema, R"({"item_id":"a","price":{"amount":-1,"currency":"EUR"}})",
                 "/price/amount", "minimum");
  ExpectRejected(kItemSchema, R"({"item_id":"a","price":{"amount":1,"currency":"eur"}})",
                 "/price/currency", "pattern");
}

TEST(ValidateJson, RequiredNamesTheMissingProperty) {
  ExpectRejected(kItemSchema, R"({"price":{"amount":5,"currency":"EUR"}})", "/item_id", "required");
  ExpectRejected(kItemSchema, R"({"item_id":"a","price":{"amount":5}})", "/price/currency",
                 "required");
  // required only applies to objects.
  ExpectAccepted(R"({"required":["a"]})", "[]");
}

TEST(ValidateJson, EscapesPointerTokens) {
  ExpectRejected(R"({"properties":{"a/b~c":{"type":"string"}}})", R"({"a/b~c":1})", "/a~1b~0c",
                 "type");
}

TEST(ValidateJson, AdditionalPropertiesFalseRejectsUnlistedMembers) {
  constexpr std::string_view schema =
      R"({"properties":{"a":{"type":"integer"}},"additionalProperties":false})";
  ExpectAccepted(schema, R"({"a":1})");
  ExpectAccepted(schema, "{}");
  ExpectRejected(schema, R"({"a":1,"b":2})", "/b", "additionalProperties");
}

TEST(ValidateJson, AdditionalPropertiesSchemaAppliesOnlyToUnlistedMembers) {
  constexpr std::string_view schema =
      R"({"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}})";
  ExpectAccepted(schema, R"({"a":"x","b":2,"c":3})");
  ExpectRejected(schema, R"({"a":"x","b":"y"})", "/b", "type");
}

TEST(ValidateJson, ItemsAppliesToEveryElement) {
  constexpr std::string_view schema =
      R"({"type":"object","properties":{"lines":{"type":"array","minItems":1,"maxItems":2,
          "items":{"type":"object","properties":{"qty":{"type":"integer","minimum":1}}}}}})";
  ExpectAccepted(schema, R"({"lines":[{"qty":1},{"qty":2}]})");
  ExpectRejected(schema, R"({"lines":[{"qty":1},{"qty":0}]})", "/lines/1/qty", "minimum");
  ExpectRejected(schema, R"({"lines":[]})", "/lines", "minItems");
  ExpectRejected(schema, R"({"lines":[{},{},{}]})", "/lines", "maxItems");
}

TEST(ValidateJson, EnumAndConstCompareJsonValues) {
  ExpectAccepted(R"({"enum":["EUR","USD",null]})", R"("USD")");
  ExpectAccepted(R"({"enum":["EUR","USD",null]})", "null");
  ExpectRejected(R"({"enum":["EUR","USD"]})", R"("GBP")", "", "enum");
  ExpectRejected(R"({"enum":["1"]})", "1", "", "enum");
  // JSON Schema equality: numbers by value, objects regardless of member order.
  ExpectAccepted(R"({"enum":[1]})", "1.0");
  ExpectAccepted(R"({"const":{"a":1,"b":[true]}})", R"({"b":[true],"a":1})");
  ExpectRejected(R"({"const":{"a":1}})", R"({"a":1,"b":2})", "", "const");
  ExpectRejected(R"({"const":[1,2]})", "[2,1]", "", "const");
  ExpectRejected(R"({"const":false})", "0", "", "const");
}

TEST(ValidateJson, NumericBoundsAreInclusiveExceptExclusiveMinimum) {
  ExpectAccepted(R"({"minimum":0,"maximum":10})", "0");
  ExpectAccepted(R"({"minimum":0,"maximum":10})", "10.0");
  ExpectRejected(R"({"minimum":0,"maximum":10})", "-0.5", "", "minimum");
  ExpectRejected(R"({"minimum":0,"maximum":10})", "10.5", "", "maximum");
  ExpectAccepted(R"({"exclusiveMinimum":0})", "0.1");
  ExpectRejected(R"({"exclusiveMinimum":0})", "0", "", "exclusiveMinimum");
  // Mixed int64/uint64/double comparisons do not round.
  ExpectRejected(R"({"maximum":9223372036854775807})", "9223372036854775808", "", "maximum");
  ExpectAccepted(R"({"minimum":-1})", "18446744073709551615");
  // Bounds ignore non-numbers.
  ExpectAccepted(R"({"minimum":5})", R"("1")");
}

TEST(ValidateJson, StringLengthCountsCodePoints) {
  ExpectAccepted(R"({"minLength":2,"maxLength":2})", R"("é€")");  // 5 bytes, 2 code points
  ExpectRejected(R"({"minLength":1})", R"("")", "", "minLength");
  ExpectRejected(R"({"maxLength":2})", R"("abc")", "", "maxLength");
  ExpectAccepted(R"({"maxLength":1})", "12345");  // not a string
}

TEST(ValidateJson, PatternIsAnUnanchoredSearch) {
  ExpectAccepted(R"({"pattern":"[0-9]"})", R"("ab1c")");
  ExpectRejected(R"({"pattern":"[0-9]"})", R"("abc")", "", "pattern");
  ExpectAccepted(R"({"pattern":"^[A-Z]{3}$"})", R"("EUR")");
  ExpectRejected(R"({"pattern":"^[A-Z]{3}$"})", R"("EURO")", "", "pattern");
  ExpectAccepted(R"({"pattern":"[A-Z]{3}"})", R"("EURO")");
}

TEST(ValidateJson, InvalidPatternIsASchemaError) {
  auto result = Check(R"({"pattern":"(unclosed"})", R"("x")");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInternal);
}

TEST(ValidateJson, AssertsUuidAndDateTimeFormats) {
  ExpectAccepted(R"({"format":"uuid"})", R"("01936a4e-7c1f-7a3b-9d2e-5f0a1b2c3d4e")");
  ExpectRejected(R"({"format":"uuid"})", R"("01936a4e7c1f7a3b9d2e5f0a1b2c3d4e")", "", "format");
  ExpectRejected(R"({"format":"uuid"})", R"("01936a4e-7c1f-7a3b-9d2e-5f0a1b2c3d4g")", "", "format");
  ExpectAccepted(R"({"format":"date-time"})", R"("2026-11-25T19:03:17.123Z")");
  ExpectAccepted(R"({"format":"date-time"})", R"("2026-11-25T20:03:17+01:00")");
  ExpectRejected(R"({"format":"date-time"})", R"("2026-11-25")", "", "format");
  ExpectRejected(R"({"format":"date-time"})", R"("2026-13-25T19:03:17Z")", "", "format");
  // Formats apply to strings only; unknown formats are annotations.
  ExpectAccepted(R"({"format":"uuid"})", "42");
  ExpectAccepted(R"({"format":"email"})", R"("not an email")");
}

constexpr std::string_view kMoneySchema = R"({
  "type": "object",
  "properties": {"price": {"$ref": "#/$defs/Money"}, "refund": {"$ref": "#/$defs/Money"}},
  "$defs": {
    "Money": {"type": "object", "required": ["amount", "currency"],
              "properties": {"amount": {"type": "integer"},
                             "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}}
  }
})";

TEST(ValidateJson, RefResolvesDefsAgainstTheRoot) {
  ExpectAccepted(kMoneySchema, R"({"price":{"amount":1,"currency":"EUR"}})");
  ExpectRejected(
      kMoneySchema,
      R"({"price":{"amount":1,"currency":"EUR"},"refund":{"amount":1.5,"currency":"EUR"}})",
      "/refund/amount", "type");
  ExpectRejected(kMoneySchema, R"({"price":{"currency":"EUR"}})", "/price/amount", "required");
}

TEST(ValidateJson, UnresolvableOrCyclicRefIsASchemaError) {
  for (std::string_view schema :
       {R"({"$ref":"#/$defs/Nope","$defs":{}})", R"({"$ref":"other.json#/$defs/Money"})",
        R"({"$ref":"#/$defs/A","$defs":{"A":{"$ref":"#/$defs/A"}}})"}) {
    SCOPED_TRACE(schema);
    auto result = Check(schema, "{}");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInternal);
  }
}

TEST(ValidateJson, AllOfRequiresEveryBranch) {
  constexpr std::string_view schema = R"({"allOf":[{"type":"integer"},{"minimum":3}]})";
  ExpectAccepted(schema, "3");
  ExpectRejected(schema, "2", "", "minimum");
  ExpectRejected(schema, "3.5", "", "type");
}

TEST(ValidateJson, AnyOfRequiresAtLeastOneBranch) {
  constexpr std::string_view schema = R"({"anyOf":[{"type":"string"},{"minimum":3}]})";
  ExpectAccepted(schema, R"("x")");
  ExpectAccepted(schema, "4");
  ExpectRejected(schema, "2", "", "anyOf");
}

TEST(ValidateJson, OneOfFailsWhenNoneOrTwoBranchesMatch) {
  constexpr std::string_view schema = R"({"oneOf":[{"type":"integer"},{"minimum":3}]})";
  ExpectAccepted(schema, "2");                 // integer only
  ExpectAccepted(schema, "3.5");               // minimum only
  ExpectRejected(schema, "4", "", "oneOf");    // both
  ExpectRejected(schema, "1.5", "", "oneOf");  // neither
}

TEST(ValidateJson, BooleanSchemasAcceptOrRejectEverything) {
  ExpectAccepted("true", R"({"any":"thing"})");
  ExpectRejected("false", "null", "", "false");
  ExpectRejected(R"({"properties":{"a":false}})", R"({"a":1})", "/a", "false");
}

TEST(ValidateJson, IgnoresUnknownKeywords) {
  ExpectAccepted(R"({"x-owner":"orders","title":"t","not":{"type":"string"}})", R"("x")");
}

// ---------------------------------------------------------------- SchemaRegistry

// The repository's contracts/events: from ctest's MERCATO_SOURCE_DIR, or found by walking up
// from the test binary when it is run by hand.
fs::path ContractsDir() {
  if (const char* source = std::getenv("MERCATO_SOURCE_DIR"); source != nullptr && *source) {
    return fs::path(source) / "contracts" / "events";
  }
  std::error_code ec;
  for (fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
       !ec && !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (fs::is_directory(dir / "contracts" / "events")) return dir / "contracts" / "events";
  }
  return "contracts/events";
}

json::value GoodItemUpdated() {
  return json::parse(R"({"item_id":"it-1","name":"Mug",
                         "price":{"amount":1299,"currency":"EUR"},
                         "updated_at":"2026-11-25T19:03:17.123Z"})");
}

Event ItemUpdated(json::value data) {
  return MakeEvent("hello", "ItemUpdated", "it-1", std::move(data));
}

TEST(SchemaRegistry, LoadsTheRepositoryContracts) {
  auto registry = SchemaRegistry::LoadDirectory(ContractsDir().string());
  ASSERT_TRUE(registry) << registry.error().message;
  EXPECT_TRUE(registry->Has("hello.ItemUpdated"));
  auto subjects = registry->subjects();
  EXPECT_TRUE(std::is_sorted(subjects.begin(), subjects.end()));
  EXPECT_NE(std::find(subjects.begin(), subjects.end(), "hello.ItemUpdated"), subjects.end());
}

TEST(SchemaRegistry, AcceptsAGoodItemUpdated) {
  auto registry = SchemaRegistry::LoadDirectory(ContractsDir().string());
  ASSERT_TRUE(registry) << registry.error().message;
  auto result = registry->Validate(ItemUpdated(GoodItemUpdated()));
  EXPECT_TRUE(result) << result.error().message << " at " << result.error().field;
}

TEST(SchemaRegistry, RejectsABadItemUpdatedNamingTheField) {
  auto registry = SchemaRegistry::LoadDirectory(ContractsDir().string());
  ASSERT_TRUE(registry) << registry.error().message;
  struct Case {
    const char* pointer;
    json::value value;  // null: remove the member
    const char* expected_field;
  };
  const Case cases[] = {
      {"/price/amount", -1, "/price/amount"},
      {"/price/amount", 12.5, "/price/amount"},
      {"/price/currency", "eur", "/price/currency"},
      {"/updated_at", "yesterday", "/updated_at"},
      {"/item_id", "", "/item_id"},
      {"/item_id", json::string(65, 'x'), "/item_id"},
      {"/name", nullptr, "/name"},
      {"/colour", "red", "/colour"},
      {"/price/tax", 1, "/price/tax"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pointer);
    json::value data = GoodItemUpdated();
    std::string_view pointer = c.pointer;
    size_t slash = pointer.rfind('/');
    boost::system::error_code ec;
    json::value* parent = slash == 0 ? &data : data.find_pointer(pointer.substr(0, slash), ec);
    ASSERT_NE(parent, nullptr);
    std::string_view key = pointer.substr(slash + 1);
    if (c.value.is_null()) {
      parent->as_object().erase(key);
    } else {
      parent->as_object()[key] = c.value;
    }

    auto result = registry->Validate(ItemUpdated(std::move(data)));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().field, c.expected_field) << result.error().message;
  }
}

TEST(SchemaRegistry, NotFoundForASubjectWithoutContract) {
  auto registry = SchemaRegistry::LoadDirectory(ContractsDir().string());
  ASSERT_TRUE(registry) << registry.error().message;
  auto result = registry->Validate(MakeEvent("hello", "ItemVanished", "it-1", json::object{}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
}

TEST(SchemaRegistry, AddReplacesAndValidates) {
  SchemaRegistry registry;
  EXPECT_FALSE(registry.Has("orders.OrderConfirmed"));
  registry.Add("orders.OrderConfirmed", json::parse(R"({"required":["order_id"]})"));
  EXPECT_TRUE(registry.Has("orders.OrderConfirmed"));
  Event event = MakeEvent("orders", "OrderConfirmed", "ord-1", json::object{{"order_id", "o"}});
  EXPECT_TRUE(registry.Validate(event));
  registry.Add("orders.OrderConfirmed", json::parse(R"({"required":["total"]})"));
  EXPECT_FALSE(registry.Validate(event));
}

TEST(Contracts, EveryFileIsASchemaObjectWithDialect) {
  const fs::path dir = ContractsDir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int contracts = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    ++contracts;
    std::ifstream file(entry.path());
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    json::value schema = json::parse(text, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(schema.is_object());
    const json::value* dialect = schema.as_object().if_contains("$schema");
    ASSERT_NE(dialect, nullptr);
    EXPECT_EQ(*dialect, "https://json-schema.org/draft/2020-12/schema");
    const std::string stem = entry.path().stem().string();
    EXPECT_EQ(std::count(stem.begin(), stem.end(), '.'), 1) << "name must be <context>.<Event>";
  }
  EXPECT_GE(contracts, 1);
}

// A scratch directory per test, removed afterwards.
class TempDir {
 public:
  explicit TempDir(std::string_view name)
      : path_(fs::temp_directory_path() /
              ("mercato_schema_test_" + std::string(name) + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  void Write(const std::string& file, std::string_view text) const {
    std::ofstream(path_ / file) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

constexpr std::string_view kDialectLine =
    R"("$schema":"https://json-schema.org/draft/2020-12/schema")";

TEST(SchemaRegistry, LoadDirectoryReadsOnlyJsonFilesSorted) {
  TempDir dir("sorted");
  dir.Write("orders.OrderConfirmed.json", "{" + std::string(kDialectLine) + "}");
  dir.Write("catalog.ProductCreated.json", "{" + std::string(kDialectLine) + "}");
  dir.Write("README.md", "# not a contract");
  auto registry = SchemaRegistry::LoadDirectory(dir.path());
  ASSERT_TRUE(registry) << registry.error().message;
  EXPECT_EQ(registry->subjects(),
            (std::vector<std::string>{"catalog.ProductCreated", "orders.OrderConfirmed"}));
}

TEST(SchemaRegistry, LoadDirectoryRejectsBadContracts) {
  const std::string dialect(kDialectLine);
  const struct {
    const char* name;
    std::string file;
    std::string text;
  } cases[] = {
      {"malformed JSON", "a.B.json", "{" + dialect + ","},
      {"not an object", "a.B.json", "[]"},
      {"no $schema", "a.B.json", R"({"type":"object"})"},
      {"other dialect", "a.B.json", R"({"$schema":"http://json-schema.org/draft-07/schema#"})"},
      {"bad file name", "ItemUpdated.json", "{" + dialect + "}"},
      {"unsupported keyword", "a.B.json", "{" + dialect + R"(,"properties":{"x":{"not":{}}}})"},
      {"misspelt type", "a.B.json", "{" + dialect + R"(,"type":"int"})"},
      {"negative minLength", "a.B.json", "{" + dialect + R"(,"minLength":-1})"},
      {"invalid pattern", "a.B.json", "{" + dialect + R"(,"pattern":"(x"})"},
      {"unasserted format", "a.B.json", "{" + dialect + R"(,"format":"email"})"},
      {"dangling $ref", "a.B.json", "{" + dialect + R"(,"items":{"$ref":"#/$defs/Money"}})"},
      {"cross-file $ref", "a.B.json", "{" + dialect + R"(,"$ref":"money.json"})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir("bad");
    dir.Write(c.file, c.text);
    auto registry = SchemaRegistry::LoadDirectory(dir.path());
    ASSERT_FALSE(registry);
    EXPECT_EQ(registry.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(SchemaRegistry, LoadDirectoryFailsOnAMissingDirectory) {
  auto registry = SchemaRegistry::LoadDirectory("/nonexistent/mercato/contracts");
  ASSERT_FALSE(registry);
  EXPECT_EQ(registry.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace mercato::messaging
