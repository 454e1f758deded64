// Component tests of catalog: the real catalog binary next to the real identity binary (whose
// JWKS catalog verifies tokens against), spoken to over HTTP and checked against
// services/catalog/README.md: the product lifecycle, search relevance, filters and pagination,
// no stale reads after a write, ETags, concurrent reviews, one review per user, who may write,
// and bad input answered with 4xx problems, never a 500.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog_test_support.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::catalog::component {
namespace {

using testing::ServiceProcess;
namespace json = boost::json;

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

// A word the search index keeps whole and no other test uses ("w12345x7" would be too, but
// digits-and-letters only keeps it one token for every tokenizer).
std::string UniqueWord(std::string_view prefix) {
  std::string word(prefix);
  for (char c : Unique()) word += (c >= '0' && c <= '9') ? static_cast<char>('a' + (c - '0')) : 'q';
  return word;
}

// A metric's value from /metrics text ("name value" lines without labels); -1 when absent.
double MetricValue(const std::string& text, std::string_view name) {
  std::size_t at = 0;
  while ((at = text.find(name, at)) != std::string::npos) {
    const bool line_start = at == 0 || text[at - 1] == '\n';
    const std::size_t after = at + name.size();
    if (line_start && after < text.size() && text[after] == ' ')
      return std::stod(text.substr(after + 1));
    at = after;
  }
  return -1;
}

class CatalogApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      identity_ = new ServiceProcess(StartIdentityForTest());
      catalog_ = new ServiceProcess(StartCatalog(*identity_));
      admin_ = AdminToken(*identity_);
      customer_ = RegisterCustomer(*identity_, "shopper");
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete identity_;
    catalog_ = identity_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(start_error_.empty()) << "could not start: " << start_error_;
  }

  static uint16_t port() { return catalog_->port(); }
  static Response Get(std::string path, Headers headers = {}) {
    return Call(port(), "GET", std::move(path), {}, std::move(headers));
  }
  static json::object Product(const std::string& id) {
    return Expect(Get("/products/" + id), 200, "GET product");
  }
  static json::object AdminCreate(json::object body) {
    return CreateProduct(port(), admin_, std::move(body));
  }
  static Response AdminSend(std::string method, std::string path, const json::value& body,
                            Headers headers = {}) {
    headers.push_back(BearerHeader(admin_));
    return SendJson(port(), std::move(method), std::move(path), body, std::move(headers));
  }
  static std::string NewCategory() {
    std::string id = "cat-" + Unique();
    CreateCategory(port(), admin_, id);
    return id;
  }

  // Every item of a listing, walking page after page; checks the envelope of each page.
  static std::vector<json::object> WalkPages(const std::string& path_and_query, int page_size,
                                             int64_t* total_out) {
    std::vector<json::object> items;
    int64_t total = -1;
    for (int page = 1; page < 1000; ++page) {
      const std::string sep = path_and_query.find('?') == std::string::npos ? "?" : "&";
      auto listed = Expect(Get(path_and_query + sep + "page=" + std::to_string(page) +
                               "&page_size=" + std::to_string(page_size)),
                           200, "list page");
      EXPECT_EQ(Int(listed, "page"), page);
      EXPECT_EQ(Int(listed, "page_size"), page_size);
      if (total < 0) total = Int(listed, "total");
      EXPECT_EQ(Int(listed, "total"), total) << "the total changed between pages";
      const auto& page_items = listed.at("items").as_array();
      EXPECT_LE(page_items.size(), static_cast<std::size_t>(page_size));
      if (page_items.empty()) break;
      for (const auto& item : page_items) items.push_back(item.as_object());
    }
    if (total_out) *total_out = total;
    return items;
  }

  static void ExpectHealthy() {
    EXPECT_TRUE(catalog_->process().Running()) << catalog_->Logs().substr(0, 4000);
    auto ready = Get("/health/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
  }

  static ServiceProcess* identity_;
  static ServiceProcess* catalog_;
  static std::string admin_;
  static Customer customer_;
  static std::string start_error_;
};
ServiceProcess* CatalogApi::identity_ = nullptr;
ServiceProcess* CatalogApi::catalog_ = nullptr;
std::string CatalogApi::admin_;
Customer CatalogApi::customer_;
std::string CatalogApi::start_error_;

// 1. The product lifecycle ------------------------------------------------------------------------

TEST_F(CatalogApi, ProductLifecycleFromCreateToDelete) {
  const std::string category = NewCategory();
  const std::string sku = "TR-" + Unique();
  auto created = AdminSend("POST", "/products",
                           json::object{{"sku", sku},
                                        {"name", "Trail Runner"},
                                        {"description", "A light shoe."},
                                        {"price", Money(12999)},
                                        {"categories", json::array{category}},
                                        {"images", json::array{"https://img.example.com/tr.png"}},
                                        {"attributes", {{"color", "red"}, {"size", 42}}},
                                        {"weight_g", 310}});
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  auto product = BodyObject(*created);
  const std::string id = Str(product, "id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created->Header("Location"), "/products/" + id);
  EXPECT_EQ(created->Header("ETag"), "\"1\"");
  EXPECT_EQ(Str(product, "sku"), sku);
  EXPECT_EQ(Str(product, "name"), "Trail Runner");
  EXPECT_EQ(Str(product, "description"), "A light shoe.");
  EXPECT_EQ(Int(Obj(product, "price"), "amount"), 12999);
  EXPECT_EQ(Str(Obj(product, "price"), "currency"), "USD");
  EXPECT_EQ(StringArray(product, "categories"), std::vector<std::string>{category});
  EXPECT_EQ(StringArray(product, "images"),
            std::vector<std::string>{"https://img.example.com/tr.png"});
  EXPECT_EQ(Str(Obj(product, "attributes"), "color"), "red");
  EXPECT_EQ(Int(Obj(product, "attributes"), "size"), 42);
  EXPECT_EQ(Int(product, "weight_g"), 310);
  EXPECT_EQ(Number(Obj(product, "rating"), "average"), 0.0);
  EXPECT_EQ(Int(Obj(product, "rating"), "count"), 0);
  WallTime t;
  EXPECT_TRUE(ParseRfc3339(Str(product, "created_at"), t));
  EXPECT_TRUE(ParseRfc3339(Str(product, "updated_at"), t));
  EXPECT_EQ(product.size(), 12u) << "exactly the documented fields: " << created->body;

  // Reads are public and answer the same document.
  auto read = Get("/products/" + id);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->status, 200);
  EXPECT_EQ(BodyObject(*read), product);
  EXPECT_EQ(read->Header("ETag"), "\"1\"");
  EXPECT_TRUE(read->Header("Content-Type").starts_with("application/json"));

  auto categories = WalkPages("/categories", 100, nullptr);
  EXPECT_TRUE(std::any_of(categories.begin(), categories.end(),
                          [&](const json::object& c) { return Str(c, "id") == category; }));

  // PUT replaces the whole document (sku may be repeated, not changed).
  auto replaced =
      AdminSend("PUT", "/products/" + id,
                json::object{{"sku", sku}, {"name", "Trail Runner II"}, {"price", Money(13999)}});
  ASSERT_TRUE(replaced);
  ASSERT_EQ(replaced->status, 200) << replaced->body;
  auto after_put = BodyObject(*replaced);
  EXPECT_EQ(Str(after_put, "name"), "Trail Runner II");
  EXPECT_EQ(Str(after_put, "description"), "");
  EXPECT_TRUE(StringArray(after_put, "categories").empty());
  EXPECT_EQ(Str(after_put, "created_at"), Str(product, "created_at"));
  EXPECT_EQ(replaced->Header("ETag"), "\"2\"");

  // PATCH changes only what it names.
  auto patched =
      AdminSend("PATCH", "/products/" + id, json::object{{"categories", json::array{category}}});
  ASSERT_TRUE(patched);
  ASSERT_EQ(patched->status, 200) << patched->body;
  EXPECT_EQ(Str(BodyObject(*patched), "name"), "Trail Runner II");
  EXPECT_EQ(StringArray(BodyObject(*patched), "categories"), std::vector<std::string>{category});
  EXPECT_EQ(patched->Header("ETag"), "\"3\"");
  auto in_category = WalkPages("/products?category=" + category, 20, nullptr);
  ASSERT_EQ(in_category.size(), 1u);
  EXPECT_EQ(Str(in_category[0], "id"), id);

  auto deleted = Call(port(), "DELETE", "/products/" + id, {}, {BearerHeader(admin_)});
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204) << deleted->body;
  EXPECT_TRUE(IsProblem(Get("/products/" + id), 404, {"not-found"}));
  EXPECT_TRUE(IsProblem(Call(port(), "DELETE", "/products/" + id, {}, {BearerHeader(admin_)}), 404));
  EXPECT_TRUE(IsProblem(Get("/products/" + id + "/reviews"), 404));
  EXPECT_TRUE(WalkPages("/products?category=" + category, 20, nullptr).empty());
}

// 2. Search relevance
// -------------------------------------------------------------------------------

TEST_F(CatalogApi, SearchRanksAnExactNameMatchFirst) {
  const std::string word = UniqueWord("kestrel");
  const std::string exact_name = "Trail " + word;
  // Created first so that, without the exact-match rule, id order would not put it first either.
  auto stuffed = AdminCreate(json::object{{"name", "Trail " + word + " Trail " + word + " Trail"},
                                          {"description", "trail " + word + " trail " + word},
                                          {"price", Money(100)}});
  auto longer =
      AdminCreate(json::object{{"name", "Trail " + word + " Pro"}, {"price", Money(100)}});
  auto in_text =
      AdminCreate(json::object{{"name", "Road shoe"},
                               {"description", "Not a trail shoe, though a " + word + " fits it."},
                               {"price", Money(100)}});
  auto in_attributes = AdminCreate(json::object{
      {"name", "Trail jacket"}, {"attributes", {{"series", word}}}, {"price", Money(100)}});
  auto exact = AdminCreate(json::object{{"name", exact_name}, {"price", Money(100)}});

  int64_t total = 0;
  auto items = WalkPages("/products?q=" + UrlEncode("trail " + word), 20, &total);
  ASSERT_EQ(total, 5);
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(Str(items[0], "id"), Str(exact, "id"))
      << "exact name first; got " << Str(items[0], "name");
  // Name matches (weight 10) before an attribute match (4) before a description match (1).
  auto position = [&](const json::object& product) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (Str(items[i], "id") == Str(product, "id")) return static_cast<int>(i);
    }
    return -1;
  };
  EXPECT_LT(position(longer), position(in_attributes));
  EXPECT_LT(position(stuffed), position(in_attributes));
  EXPECT_LT(position(in_attributes), position(in_text));

  // Case and spacing do not hide the exact match; any explicit sort still filters by the words.
  auto shouted = Expect(Get("/products?q=" + UrlEncode("  TRAIL   " + word + " ")), 200, "search");
  EXPECT_EQ(Str(shouted.at("items").as_array()[0].as_object(), "id"), Str(exact, "id"));
  auto by_attribute = Expect(Get("/products?q=" + word + "&sort=price_asc"), 200, "search");
  EXPECT_EQ(Int(by_attribute, "total"), 5) << "attributes are searched too";
  auto nothing = Expect(Get("/products?q=" + UrlEncode(word + " zebra")), 200, "search");
  EXPECT_EQ(Int(nothing, "total"), 0) << "every word must match";
  auto punctuation = Expect(Get("/products?q=" + UrlEncode("\"NEAR( OR *")), 200, "search");
  EXPECT_EQ(Int(punctuation, "total"), 0);
  // A NUL or other control byte separates words (FTS5 reads its query as a C string).
  auto control = Expect(Get("/products?q=trail%00" + word + "%01"), 200, "search");
  EXPECT_GE(Int(control, "total"), 1);
}

// 3. Filters and pagination
// -------------------------------------------------------------------------

TEST_F(CatalogApi, FiltersAndPaginationAreConsistentAcrossPages) {
  const std::string category = NewCategory();
  const std::string word = UniqueWord("pebble");
  struct Made {
    std::string id;
    int64_t price;
    bool in_category;
  };
  std::vector<Made> made;
  for (int i = 0; i < 37; ++i) {
    const int64_t price = 1000 + (i % 5) * 250;  // many equal prices: the tie-break matters
    const bool in_category = i % 3 != 0;
    json::object body{{"name", "Pebble " + std::to_string(i)},
                      {"description", "Smooth " + word + " number " + std::to_string(i)},
                      {"price", Money(price)}};
    if (in_category) body["categories"] = json::array{category};
    made.push_back(Made{Str(AdminCreate(std::move(body)), "id"), price, in_category});
  }
  auto expected_ids = [&](bool category_only, int64_t min, int64_t max) {
    std::set<std::string> ids;
    for (const auto& m : made) {
      if ((!category_only || m.in_category) && m.price >= min && m.price <= max) ids.insert(m.id);
    }
    return ids;
  };

  struct Listing {
    std::string query;
    std::set<std::string> expected;
  };
  const std::vector<Listing> listings = {
      {"/products?category=" + category, expected_ids(true, 0, INT64_MAX)},
      {"/products?category=" + category + "&min_price=1250&max_price=1750",
       expected_ids(true, 1250, 1750)},
      {"/products?q=" + word, expected_ids(false, 0, INT64_MAX)},
      {"/products?q=" + word + "&category=" + category + "&max_price=1500",
       expected_ids(true, 0, 1500)},
      {"/products?q=" + word + "&min_price=2000", expected_ids(false, 2000, INT64_MAX)},
  };
  for (const auto& listing : listings) {
    for (const char* sort : {"newest", "price_asc", "price_desc", "rating", "relevance"}) {
      if (std::string_view(sort) == "relevance" && listing.query.find("q=") == std::string::npos)
        continue;
      const std::string query = listing.query + "&sort=" + sort;
      SCOPED_TRACE(query);
      int64_t total = -1;
      auto items = WalkPages(query, 7, &total);
      EXPECT_EQ(total, static_cast<int64_t>(listing.expected.size()));
      std::vector<std::string> ids;
      for (const auto& item : items) ids.push_back(Str(item, "id"));
      EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size())
          << "an item appeared twice";
      EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), listing.expected)
          << "skipped or foreign items";
      for (std::size_t i = 1; i < items.size(); ++i) {
        const int64_t before = Int(Obj(items[i - 1], "price"), "amount");
        const int64_t here = Int(Obj(items[i], "price"), "amount");
        if (std::string_view(sort) == "price_asc") {
          EXPECT_LE(before, here);
        }
        if (std::string_view(sort) == "price_desc") {
          EXPECT_GE(before, here);
        }
        if (std::string_view(sort) == "newest") {
          EXPECT_GE(Str(items[i - 1], "created_at"), Str(items[i], "created_at"));
        }
      }
    }
  }
  // A page past the end is empty but still tells the total.
  auto beyond =
      Expect(Get("/products?category=" + category + "&page=99&page_size=10"), 200, "page 99");
  EXPECT_TRUE(beyond.at("items").as_array().empty());
  EXPECT_EQ(Int(beyond, "total"), static_cast<int64_t>(expected_ids(true, 0, INT64_MAX).size()));
  // The default page size is 20; 100 is the largest accepted.
  auto first = Expect(Get("/products?q=" + word), 200, "default page");
  EXPECT_EQ(Int(first, "page_size"), 20);
  EXPECT_EQ(first.at("items").as_array().size(), 20u);
  EXPECT_EQ(Expect(Get("/products?q=" + word + "&page_size=100"), 200, "page_size 100")
                .at("items")
                .as_array()
                .size(),
            37u);
}

// 4. No stale reads; ETags
// ---------------------------------------------------------------------------

TEST_F(CatalogApi, APriceUpdateIsVisibleOnTheNextReadAndETagsRevalidate) {
  auto product = AdminCreate(json::object{{"name", "Kettle"}, {"price", Money(2500)}});
  const std::string id = Str(product, "id");

  auto metrics_before = Get("/metrics");
  ASSERT_TRUE(metrics_before);
  const double hits_before = MetricValue(metrics_before->body, "mercato_catalog_cache_hits_total");
  auto first = Get("/products/" + id);   // a miss that fills the cache
  auto second = Get("/products/" + id);  // a hit
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, second->body);
  const std::string etag = second->Header("ETag");
  EXPECT_EQ(etag, "\"1\"");
  auto metrics_after = Get("/metrics");
  ASSERT_TRUE(metrics_after);
  EXPECT_GE(MetricValue(metrics_after->body, "mercato_catalog_cache_hits_total"), hits_before + 1);

  auto not_modified = Get("/products/" + id, {{"If-None-Match", etag}});
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_TRUE(not_modified->body.empty());
  EXPECT_EQ(not_modified->Header("ETag"), etag);
  auto weak_in_list = Get("/products/" + id, {{"If-None-Match", "\"999\", W/" + etag}});
  ASSERT_TRUE(weak_in_list);
  EXPECT_EQ(weak_in_list->status, 304);

  auto patched = AdminSend("PATCH", "/products/" + id, json::object{{"price", Money(1999)}});
  ASSERT_TRUE(patched);
  ASSERT_EQ(patched->status, 200) << patched->body;
  auto after = Get("/products/" + id);
  ASSERT_TRUE(after);
  EXPECT_EQ(Int(Obj(BodyObject(*after), "price"), "amount"), 1999)
      << "a stale price after the write";
  EXPECT_EQ(after->Header("ETag"), "\"2\"");
  auto revalidated = Get("/products/" + id, {{"If-None-Match", etag}});
  ASSERT_TRUE(revalidated);
  EXPECT_EQ(revalidated->status, 200) << "the old ETag must not match the new document";
  EXPECT_EQ(Int(Obj(BodyObject(*revalidated), "price"), "amount"), 1999);

  // Under concurrent readers (which keep refilling the cache) every acknowledged price is the
  // one the very next read sees.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto read = Get("/products/" + id);
        if (read && read->status == 200) reads.fetch_add(1);
      }
    });
  }
  // No ASSERT in here: the readers must be joined whatever happens.
  for (int64_t price = 3000; price < 3020; ++price) {
    auto written = AdminSend("PATCH", "/products/" + id, json::object{{"price", Money(price)}});
    if (!written || written->status != 200) {
      ADD_FAILURE() << "PATCH: " << Describe(written);
      break;
    }
    auto read = Get("/products/" + id);
    EXPECT_TRUE(read && read->status == 200) << Describe(read);
    if (read && read->status == 200) {
      EXPECT_EQ(Int(Obj(BodyObject(*read), "price"), "amount"), price)
          << "stale read after write " << price;
    }
  }
  stop = true;
  for (auto& reader : readers) reader.join();
  EXPECT_GT(reads.load(), 0);
}

// 5. Reviews
// ----------------------------------------------------------------------------------------

TEST_F(CatalogApi, ConcurrentReviewsKeepTheRatingAggregateExact) {
  constexpr int kReviewers = 20;
  std::vector<Customer> reviewers;
  for (int i = 0; i < kReviewers; ++i)
    reviewers.push_back(RegisterCustomer(*identity_, "reviewer"));
  auto product = AdminCreate(json::object{{"name", "Popular Teapot"}, {"price", Money(4500)}});
  const std::string id = Str(product, "id");

  std::vector<int> ratings;
  int sum = 0;
  for (int i = 0; i < kReviewers; ++i) {
    ratings.push_back(i % 3 == 0 ? 5 : (i % 3 == 1 ? 4 : 2));  // 75 / 20 = 3.75
    sum += ratings.back();
  }
  std::vector<int> statuses(kReviewers, 0);
  std::latch start(kReviewers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReviewers; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto posted =
          PostJson(port(), "/products/" + id + "/reviews",
                   json::object{{"rating", ratings[i]}, {"title", "Review " + std::to_string(i)}},
                   {BearerHeader(reviewers[i].token)});
      statuses[i] = posted ? posted->status : -1;
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kReviewers; ++i) EXPECT_EQ(statuses[i], 201) << "reviewer " << i;

  auto after = Product(id);
  const double expected_average = std::round(sum * 100.0 / kReviewers) / 100.0;
  EXPECT_EQ(Int(Obj(after, "rating"), "count"), kReviewers);
  EXPECT_DOUBLE_EQ(Number(Obj(after, "rating"), "average"), expected_average)
      << json::serialize(after);
  EXPECT_EQ(Int(after, "weight_g"), 0);

  int64_t total = 0;
  auto reviews = WalkPages("/products/" + id + "/reviews", 6, &total);
  EXPECT_EQ(total, kReviewers);
  std::set<std::string> users;
  int listed_sum = 0;
  for (const auto& review : reviews) {
    users.insert(Str(review, "user_id"));
    listed_sum += static_cast<int>(Int(review, "rating"));
    EXPECT_EQ(Str(review, "product_id"), id);
  }
  EXPECT_EQ(users.size(), static_cast<std::size_t>(kReviewers));
  EXPECT_EQ(listed_sum, sum);
  for (std::size_t i = 1; i < reviews.size(); ++i) {
    EXPECT_GE(Str(reviews[i - 1], "created_at"), Str(reviews[i], "created_at")) << "newest first";
  }
}

TEST_F(CatalogApi, OneReviewPerUserPerProduct) {
  auto product = AdminCreate(json::object{{"name", "Reviewed Mug"}, {"price", Money(900)}});
  const std::string path = "/products/" + Str(product, "id") + "/reviews";
  auto first = PostJson(port(), path, json::object{{"rating", 4}, {"body", "Nice."}},
                        {BearerHeader(customer_.token)});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 201) << first->body;
  auto review = BodyObject(*first);
  EXPECT_EQ(Str(review, "user_id"), customer_.id);
  EXPECT_EQ(Int(review, "rating"), 4);
  EXPECT_FALSE(Str(review, "id").empty());

  auto second = PostJson(port(), path, json::object{{"rating", 1}}, {BearerHeader(customer_.token)});
  EXPECT_TRUE(IsProblem(second, 409, {"already-exists"})) << Describe(second);
  auto rating = Obj(Product(Str(product, "id")), "rating");
  EXPECT_EQ(Int(rating, "count"), 1);
  EXPECT_DOUBLE_EQ(Number(rating, "average"), 4.0) << "the refused review changed the aggregate";

  // The same user racing themselves: exactly one review is accepted.
  auto racer = RegisterCustomer(*identity_, "racer");
  std::atomic<int> created{0}, conflicts{0};
  std::latch start(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto posted =
          PostJson(port(), path, json::object{{"rating", 1 + i % 5}}, {BearerHeader(racer.token)});
      if (posted && posted->status == 201) created.fetch_add(1);
      if (posted && posted->status == 409) conflicts.fetch_add(1);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(conflicts.load(), 5);
  EXPECT_EQ(Int(Obj(Product(Str(product, "id")), "rating"), "count"), 2);

  for (const char* bad : {R"({"rating":0})", R"({"rating":6})", R"({"rating":4.5})",
                          R"({"rating":"5"})", "{}", R"({"rating":5,"stars":5})", "not json"}) {
    auto posted = Call(port(), "POST", path, bad,
                       {BearerHeader(customer_.token), {"Content-Type", "application/json"}});
    EXPECT_TRUE(IsProblem(posted, 400)) << bad << ": " << Describe(posted);
  }
  EXPECT_TRUE(
      IsProblem(PostJson(port(), path, json::object{{"rating", 5}}), 401, {"unauthenticated"}));
  auto service_token = ServiceToken(*identity_, "orders");
  EXPECT_TRUE(
      IsProblem(PostJson(port(), path, json::object{{"rating", 5}}, {BearerHeader(service_token)}), 403,
                {"permission-denied"}))
      << "reviews are written by users, not services";
  EXPECT_TRUE(IsProblem(PostJson(port(), "/products/no-such-product/reviews",
                                 json::object{{"rating", 5}}, {BearerHeader(customer_.token)}),
                        404));
}

// 6. Who may write
// ------------------------------------------------------------------------------------

TEST_F(CatalogApi, WritesNeedAnAdminTokenReadsNeedNone) {
  auto product = AdminCreate(json::object{{"name", "Guarded Lamp"}, {"price", Money(3000)}});
  const std::string item = "/products/" + Str(product, "id");
  const json::object valid_product{{"sku", "SKU-" + Unique()}, {"name", "X"}, {"price", Money(1)}};
  struct Write {
    const char* method;
    std::string path;
    json::value body;
  };
  const std::vector<Write> writes = {
      {"POST", "/products", valid_product},
      {"PUT", item, json::object{{"name", "Y"}, {"price", Money(2)}}},
      {"PATCH", item, json::object{{"name", "Y"}}},
      {"DELETE", item, nullptr},
      {"POST", "/categories", json::object{{"id", "cat-" + Unique()}, {"name", "C"}}},
  };
  for (const auto& write : writes) {
    SCOPED_TRACE(std::string(write.method) + " " + write.path);
    const std::string body = write.body.is_null() ? std::string() : json::serialize(write.body);
    auto anonymous =
        Call(port(), write.method, write.path, body, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(IsProblem(anonymous, 401, {"unauthenticated"}));
    if (anonymous) {
      EXPECT_EQ(anonymous->Header("WWW-Authenticate"), "Bearer error=\"invalid_token\"");
    }
    auto forged = Call(port(), write.method, write.path, body, {BearerHeader("not.a.jwt")});
    EXPECT_TRUE(IsProblem(forged, 401, {"unauthenticated"}));
    auto tampered = customer_.token;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    EXPECT_TRUE(IsProblem(Call(port(), write.method, write.path, body, {BearerHeader(tampered)}), 401));
    auto as_customer = Call(port(), write.method, write.path, body,
                            {BearerHeader(customer_.token), {"Content-Type", "application/json"}});
    EXPECT_TRUE(IsProblem(as_customer, 403, {"permission-denied"}));
  }
  // Nothing changed, and reads need no token.
  auto read = Get(item);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  EXPECT_EQ(Str(BodyObject(*read), "name"), "Guarded Lamp");
  EXPECT_EQ(Expect(Get("/products"), 200, "list").count("items"), 1u);
  EXPECT_EQ(Expect(Get("/categories"), 200, "categories").count("items"), 1u);
}

// 7. Bad input
// --------------------------------------------------------------------------------------

TEST_F(CatalogApi, BadInputIsAClientErrorNeverA500) {
  const std::string category = NewCategory();
  auto product = AdminCreate(json::object{{"name", "Sturdy Box"}, {"price", Money(700)}});
  const std::string item = "/products/" + Str(product, "id");
  const std::string sku = Str(product, "sku");
  struct Case {
    std::string method;
    std::string path;
    std::string body;
    int status;
    std::string field;  // the problem's `field`, when it names one
    Headers headers = {};
  };
  auto with = [](json::object body) { return json::serialize(body); };
  const json::object base{{"name", "N"}, {"price", Money(1)}};
  auto fresh = [&base](std::initializer_list<std::pair<std::string_view, json::value>> changes) {
    json::object body = base;
    body["sku"] = "SKU-" + Unique();
    for (const auto& [key, value] : changes) body[key] = value;
    return json::serialize(body);
  };
  const std::vector<Case> cases = {
      {"POST", "/products", "{\"name\": ", 400, ""},
      {"POST", "/products", "", 400, ""},
      {"POST", "/products", "[1, 2]", 400, ""},
      {"POST", "/products", fresh({{"price", Money(-1)}}), 400, "price.amount"},
      {"POST", "/products",
       fresh({{"price", json::object{{"amount", 19.99}, {"currency", "USD"}}}}), 400,
       "price.amount"},
      {"POST", "/products", fresh({{"price", Money(1, "dollars")}}), 400, "price.currency"},
      {"POST", "/products", fresh({{"categories", json::array{"no-such-category-" + Unique()}}}),
       400, "categories[0]"},
      {"POST", "/products", fresh({{"categories", json::array{category, "Bad Id"}}}), 400,
       "categories[1]"},
      {"POST", "/products", fresh({{"weight_g", -3}}), 400, "weight_g"},
      {"POST", "/products", fresh({{"name", json::value(std::string(201, 'n'))}}), 400, "name"},
      {"POST", "/products", fresh({{"attributes", json::object{{"nested", json::object{}}}}}), 400,
       "attributes.nested"},
      {"POST", "/products", fresh({{"colour", "red"}}), 400, "colour"},
      // 1e400 parses to infinity, which JSON cannot store: refused, not kept as text that no
      // longer parses (found in review: the product then answered 500 forever).
      {"POST", "/products",
       R"({"sku":"SKU-INF-)" + Unique() +
           R"(","name":"N","price":{"amount":1,"currency":"USD"},"attributes":{"w":1e400}})",
       400, "attributes.w"},
      {"POST", "/products", with(json::object{{"sku", sku}, {"name", "Dup"}, {"price", Money(1)}}),
       409, "sku"},
      {"PUT", item,
       with(json::object{{"sku", "OTHER-" + Unique()}, {"name", "N"}, {"price", Money(1)}}), 400,
       "sku"},
      {"PUT", item, with(json::object{{"name", "N"}}), 400, "price"},
      {"PATCH", item, "{}", 400, ""},
      {"PATCH", item, with(json::object{{"price", Money(-5)}}), 400, "price.amount"},
      {"PATCH", item, with(json::object{{"name", "N"}}), 400, "If-Match", {{"If-Match", "soon"}}},
      {"PATCH", item, with(json::object{{"name", "N"}}), 409, "", {{"If-Match", "\"99\""}}},
      {"PATCH", "/products/no-such-id", with(json::object{{"name", "N"}}), 404, "id"},
      {"PATCH", "/products/" + std::string(300, 'x'), with(json::object{{"name", "N"}}), 404, "id"},
      {"DELETE", "/products/no-such-id", "", 404, "id"},
      {"POST", "/categories", with(json::object{{"id", category}, {"name", "Again"}}), 409, "id"},
      {"POST", "/categories", with(json::object{{"id", "Not A Slug"}, {"name", "C"}}), 400, "id"},
      {"POST", "/categories", with(json::object{{"id", "c-" + Unique()}}), 400, "name"},
      {"GET", "/products?page_size=101", "", 400, "page_size"},
      {"GET", "/products?page_size=1000000000000000000000", "", 400, "page_size"},
      {"GET", "/products?page_size=0", "", 400, "page_size"},
      {"GET", "/products?page=0", "", 400, "page"},
      {"GET", "/products?page=-1", "", 400, "page"},
      {"GET", "/products?page=two", "", 400, "page"},
      {"GET", "/products?min_price=-1", "", 400, "min_price"},
      {"GET", "/products?max_price=1.5", "", 400, "max_price"},
      {"GET", "/products?min_price=500&max_price=100", "", 400, "min_price"},
      {"GET", "/products?sort=cheapest", "", 400, "sort"},
      {"GET", "/products?sort=relevance", "", 400, "sort"},
      {"GET", "/products?category=Not%20A%20Slug", "", 400, "category"},
      {"GET", "/products?category=no-such-category-" + Unique(), "", 400, "category"},
      {"GET", "/products?q=" + std::string(201, 'a'), "", 400, "q"},
      {"GET", "/products?q=a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q", "", 400, "q"},
      {"GET", "/categories?page_size=101", "", 400, "page_size"},
      {"GET", item + "/reviews?page=0", "", 400, "page"},
      {"GET", "/products/no-such-id", "", 404, "id"},
      {"GET", "/products/%00%ff", "", 404, "id"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path.substr(0, 120) + " " + c.body.substr(0, 200));
    Headers headers = c.headers;
    headers.push_back(BearerHeader(admin_));
    headers.emplace_back("Content-Type", "application/json");
    auto response = Call(port(), c.method, c.path, c.body, headers);
    EXPECT_TRUE(IsProblem(response, c.status));
    if (!c.field.empty()) {
      EXPECT_EQ(ProblemField(response), c.field);
    }
  }
  // A body over the server's limit is refused before any handler runs.
  auto huge = Call(port(), "POST", "/products", std::string(2 * 1024 * 1024, ' '),
                   {BearerHeader(admin_), {"Content-Type", "application/json"}});
  ASSERT_TRUE(huge);
  EXPECT_GE(huge->status, 400);
  EXPECT_LT(huge->status, 500);
  // Nothing of the above changed the product.
  auto unchanged = Product(Str(product, "id"));
  EXPECT_EQ(Str(unchanged, "name"), "Sturdy Box");
  EXPECT_EQ(Int(Obj(unchanged, "price"), "amount"), 700);
  ExpectHealthy();
}

// 8. The chassis endpoints
// --------------------------------------------------------------------------

TEST_F(CatalogApi, ServesHealthMetricsAndItsOpenApiDocument) {
  auto ready = Get("/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find("\"sqlite\""), std::string::npos) << ready->body;
  auto metrics = Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name :
       {"mercato_catalog_cache_hits_total", "mercato_catalog_cache_misses_total",
        "mercato_catalog_cache_evictions_total", "mercato_catalog_cache_entries",
        "mercato_catalog_cache_expirations_total", "mercato_catalog_cache_invalidations_total"}) {
    EXPECT_GE(MetricValue(metrics->body, name), 0) << name << " missing";
  }
  auto openapi = Get("/openapi.yaml");
  ASSERT_TRUE(openapi);
  EXPECT_EQ(openapi->status, 200);
  for (const char* path :
       {"/products:", "/products/{id}:", "/categories:", "/products/{id}/reviews:"}) {
    EXPECT_NE(openapi->body.find(path), std::string::npos) << path;
  }
}

// The cache's bounds with a second, tiny-cache instance: evictions and TTL expiry are counted and
// never serve a wrong document.
TEST_F(CatalogApi, ABoundedCacheEvictsAndExpires) {
  auto small = StartCatalog(*identity_, {"--cache-size", "2", "--cache-ttl", "300ms"});
  auto admin = AdminToken(*identity_);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(Str(CreateProduct(small.port(), admin,
                                    json::object{{"name", "Small " + std::to_string(i)},
                                                 {"price", Money(i + 1)}}),
                      "id"));
  }
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto read = Expect(Call(small.port(), "GET", "/products/" + ids[i]), 200, "read");
      EXPECT_EQ(Str(read, "name"), "Small " + std::to_string(i));
    }
  }
  auto metrics = Call(small.port(), "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_GE(MetricValue(metrics->body, "mercato_catalog_cache_evictions_total"), 4);
  EXPECT_LE(MetricValue(metrics->body, "mercato_catalog_cache_entries"), 2);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        (void)Call(small.port(), "GET", "/products/" + ids[3]);  // a hit until the TTL passes
        auto m = Call(small.port(), "GET", "/metrics");
        return m && MetricValue(m->body, "mercato_catalog_cache_expirations_total") >= 1;
      },
      10s, 100ms));
}

}  // namespace
}  // namespace mercato::catalog::component
