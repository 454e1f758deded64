// The catalog's domain without I/O: parsing and validating products, categories and reviews, the
// immutable SKU, versions, and the rating aggregate.
#include "domain/product.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mercato::catalog::domain {
namespace {

namespace json = boost::json;

const WallTime kNow = WallTime{} + std::chrono::hours(24 * 365 * 56);

json::value Parse(std::string_view text) { return json::parse(text); }

json::object ValidProduct() {
  return json::object{{"sku", "TR-001"},
                      {"name", "  Trail Runner  "},
                      {"description", "Light.\nFast."},
                      {"price", {{"amount", 12999}, {"currency", "USD"}}},
                      {"categories", json::array{"shoes", "running", "shoes"}},
                      {"images", json::array{"https://img.example.com/tr.png"}},
                      {"attributes", {{"color", "red"}, {"size", 42}, {"waterproof", true}}},
                      {"weight_g", 310}};
}

ErrorCode CodeOf(const Result<ProductFields>& r) {
  return r ? ErrorCode::kInternal : r.error().code;
}
std::string FieldOf(const Result<ProductFields>& r) { return r ? "" : r.error().field; }

TEST(ProductFields, ACompleteCreateIsParsedTrimmedAndDeduplicated) {
  auto fields = ParseProductFields(ValidProduct(), FieldsMode::kCreate);
  ASSERT_TRUE(fields) << fields.error().message;
  EXPECT_EQ(*fields->name, "Trail Runner");
  EXPECT_EQ(*fields->description, "Light.\nFast.");
  EXPECT_EQ(*fields->price, (Price{12999, "USD"}));
  EXPECT_EQ(*fields->categories, (std::vector<std::string>{"shoes", "running"}));
  EXPECT_EQ(fields->attributes->size(), 3u);
  EXPECT_EQ(*fields->weight_g, 310);
}

TEST(ProductFields, ACreateDefaultsTheOptionalFields) {
  auto fields =
      ParseProductFields(Parse(R"({"sku":"A1","name":"A","price":{"amount":0,"currency":"EUR"}})"),
                         FieldsMode::kCreate);
  ASSERT_TRUE(fields) << fields.error().message;
  EXPECT_EQ(*fields->description, "");
  EXPECT_TRUE(fields->categories->empty());
  EXPECT_TRUE(fields->images->empty());
  EXPECT_TRUE(fields->attributes->empty());
  EXPECT_EQ(*fields->weight_g, 0);
}

TEST(ProductFields, BadInputIsInvalidArgumentNamingTheField) {
  struct Case {
    const char* body;
    const char* field;
  };
  const Case cases[] = {
      {R"({"name":"A","price":{"amount":1,"currency":"USD"}})", "sku"},
      {R"({"sku":"A1","price":{"amount":1,"currency":"USD"}})", "name"},
      {R"({"sku":"A1","name":"A"})", "price"},
      {R"({"sku":"A1","name":"A","price":{"amount":-1,"currency":"USD"}})", "price.amount"},
      {R"({"sku":"A1","name":"A","price":{"amount":19.99,"currency":"USD"}})", "price.amount"},
      {R"({"sku":"A1","name":"A","price":{"amount":"1","currency":"USD"}})", "price.amount"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"usd"}})", "price.currency"},
      {R"({"sku":"A1","name":"A","price":{"amount":1}})", "price.currency"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD","tax":1}})", "price.tax"},
      {R"({"sku":"A1","name":"A","price":{"amount":99999999999999999999,"currency":"USD"}})",
       "price.amount"},
      {R"({"sku":"a b","name":"A","price":{"amount":1,"currency":"USD"}})", "sku"},
      {R"({"sku":"A1","name":"   ","price":{"amount":1,"currency":"USD"}})", "name"},
      {R"({"sku":"A1","name":"A\u0001","price":{"amount":1,"currency":"USD"}})", "name"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"categories":["Shoes"]})",
       "categories[0]"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"categories":"shoes"})",
       "categories"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"images":["ftp://x"]})",
       "images[0]"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"attributes":{"a":{"b":1}}})",
       "attributes.a"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"attributes":[]})",
       "attributes"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"weight_g":-5})",
       "weight_g"},
      {R"({"sku":"A1","name":"A","price":{"amount":1,"currency":"USD"},"prise":1})", "prise"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto fields = ParseProductFields(Parse(c.body), FieldsMode::kCreate);
    EXPECT_EQ(CodeOf(fields), ErrorCode::kInvalidArgument);
    EXPECT_EQ(FieldOf(fields), c.field);
  }
  EXPECT_EQ(CodeOf(ParseProductFields(Parse("[1]"), FieldsMode::kCreate)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(ParseProductFields(Parse("{}"), FieldsMode::kPatch)),
            ErrorCode::kInvalidArgument);
}

TEST(ProductFields, TooLongTextIsRefusedByCodePointsNotBytes) {
  auto body = ValidProduct();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "é";  // 400 bytes, 200 code points
  body["name"] = name;
  EXPECT_TRUE(ParseProductFields(body, FieldsMode::kCreate));
  body["name"] = name + "x";
  EXPECT_EQ(FieldOf(ParseProductFields(body, FieldsMode::kCreate)), "name");
}

TEST(ProductFields, APatchSetsOnlyWhatItNames) {
  auto fields =
      ParseProductFields(Parse(R"({"price":{"amount":500,"currency":"USD"}})"), FieldsMode::kPatch);
  ASSERT_TRUE(fields);
  EXPECT_TRUE(fields->price);
  EXPECT_FALSE(fields->name || fields->description || fields->categories || fields->attributes ||
               fields->sku);
}

TEST(Product, ANewProductStartsAtVersionOneWithoutReviews) {
  auto fields = ParseProductFields(ValidProduct(), FieldsMode::kCreate);
  auto product = NewProduct("p1", *fields, kNow);
  ASSERT_TRUE(product) << product.error().message;
  EXPECT_EQ(product->id, "p1");
  EXPECT_EQ(product->version, 1);
  EXPECT_EQ(product->rating.count, 0);
  EXPECT_EQ(product->created_at, kNow);
  EXPECT_EQ(product->updated_at, kNow);
}

TEST(Product, ApplyingFieldsBumpsTheVersionAndKeepsTheRest) {
  auto product = NewProduct("p1", *ParseProductFields(ValidProduct(), FieldsMode::kCreate), kNow);
  auto patch = ParseProductFields(Parse(R"({"name":"Trail Runner 2"})"), FieldsMode::kPatch);
  const WallTime later = kNow + std::chrono::seconds(5);
  auto next = ApplyFields(*product, *patch, later);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->name, "Trail Runner 2");
  EXPECT_EQ(next->price, product->price);
  EXPECT_EQ(next->version, 2);
  EXPECT_EQ(next->created_at, kNow);
  EXPECT_EQ(next->updated_at, later);
}

TEST(Product, TheSkuCannotChange) {
  auto product = NewProduct("p1", *ParseProductFields(ValidProduct(), FieldsMode::kCreate), kNow);
  auto same = ParseProductFields(Parse(R"({"sku":"TR-001"})"), FieldsMode::kPatch);
  EXPECT_TRUE(ApplyFields(*product, *same, kNow));
  auto other = ParseProductFields(Parse(R"({"sku":"TR-002"})"), FieldsMode::kPatch);
  auto changed = ApplyFields(*product, *other, kNow);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(changed.error().field, "sku");
}

TEST(Product, AReplacementResetsWhatItLeavesOut) {
  auto product = NewProduct("p1", *ParseProductFields(ValidProduct(), FieldsMode::kCreate), kNow);
  auto replacement = ParseProductFields(
      Parse(R"({"name":"Plain","price":{"amount":1,"currency":"USD"}})"), FieldsMode::kReplace);
  ASSERT_TRUE(replacement) << replacement.error().message;
  auto next = ApplyFields(*product, *replacement, kNow);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->sku, "TR-001");
  EXPECT_TRUE(next->categories.empty());
  EXPECT_TRUE(next->attributes.empty());
  EXPECT_EQ(next->weight_g, 0);
}

TEST(Rating, TheAverageIsTheExactQuotientRoundedToHundredths) {
  EXPECT_EQ((Rating{0, 0}).Average(), 0.0);
  EXPECT_DOUBLE_EQ((Rating{20, 63}).Average(), 3.15);
  EXPECT_DOUBLE_EQ((Rating{3, 10}).Average(), 3.33);
  EXPECT_DOUBLE_EQ((Rating{3, 14}).Average(), 4.67);
}

TEST(Review, TheRatingIsAnIntegerFromOneToFive) {
  for (const char* bad :
       {R"({"rating":0})", R"({"rating":6})", R"({"rating":4.5})", R"({"rating":"5"})",
        R"({"title":"x"})", R"({"rating":5,"stars":5})", "[]"}) {
    SCOPED_TRACE(bad);
    auto review = ParseReview(Parse(bad), "r", "p", "u", kNow);
    ASSERT_FALSE(review);
    EXPECT_EQ(review.error().code, ErrorCode::kInvalidArgument);
  }
  auto review = ParseReview(Parse(R"({"rating":5,"title":" Great ","body":"Loved it"})"), "r1",
                            "p1", "u1", kNow);
  ASSERT_TRUE(review) << review.error().message;
  EXPECT_EQ(review->rating, 5);
  EXPECT_EQ(review->title, "Great");
  EXPECT_EQ(review->user_id, "u1");
}

TEST(Category, IdsAreSlugs) {
  EXPECT_TRUE(IsCategoryId("running-shoes"));
  EXPECT_TRUE(IsCategoryId("42"));
  EXPECT_FALSE(IsCategoryId(""));
  EXPECT_FALSE(IsCategoryId("-shoes"));
  EXPECT_FALSE(IsCategoryId("Shoes"));
  EXPECT_FALSE(IsCategoryId(std::string(65, 'a')));
  auto category = ParseCategory(Parse(R"({"id":"shoes","name":"Shoes"})"), kNow);
  ASSERT_TRUE(category);
  EXPECT_EQ(category->description, "");
  EXPECT_FALSE(ParseCategory(Parse(R"({"id":"Shoes","name":"Shoes"})"), kNow));
  EXPECT_FALSE(ParseCategory(Parse(R"({"id":"shoes"})"), kNow));
}

}  // namespace
}  // namespace mercato::catalog::domain
