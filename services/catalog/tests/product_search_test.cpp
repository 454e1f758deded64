// Search query building (the FTS5 MATCH expression, the statements, their parameters and order)
// and the FTS5 search itself on a real SQLite file: bm25 with the name weighing most, an exact
// name match first, filters, and pagination that neither repeats nor skips.
#include "storage/fts5_product_search.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/testing.hpp"
#include "storage/catalog_repository.hpp"

namespace mercato::catalog::storage {
namespace {

using app::SearchQuery;
using app::SearchSort;
using mercato::storage::Connection;
namespace json = boost::json;

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// ---- building -----------------------------------------------------------------------------------

TEST(SearchWords, SplitOnWhitespaceKeepingPiecesWithALetterOrDigit) {
  EXPECT_EQ(app::SearchWords("  Trail-runner,  42!  ?? "),
            (std::vector<std::string>{"Trail-runner,", "42!"}));
  EXPECT_EQ(app::SearchWords("café crème"), (std::vector<std::string>{"café", "crème"}));
  EXPECT_TRUE(app::SearchWords(" !!! -- ").empty());
  EXPECT_TRUE(app::SearchWords("").empty());
}

TEST(FtsMatchExpression, QuotesEveryWordSoNothingIsQuerySyntax) {
  EXPECT_EQ(FtsMatchExpression({"trail", "runner"}), "\"trail\" \"runner\"");
  EXPECT_EQ(FtsMatchExpression({"a\"b"}), "\"a\"\"b\"");
  EXPECT_EQ(FtsMatchExpression({"NEAR(x", "OR", "name:shoe", "sho*"}),
            "\"NEAR(x\" \"OR\" \"name:shoe\" \"sho*\"");
  EXPECT_EQ(FtsMatchExpression({}), "");
}

TEST(ExactNameKey, TrimsCollapsesAndLowerCases) {
  EXPECT_EQ(ExactNameKey("  Trail   Runner\t"), "trail runner");
  EXPECT_EQ(ExactNameKey("ÉCLAIR Deluxe"), "Éclair deluxe");  // ASCII only, like SQLite's lower()
}

TEST(BuildSearchStatements, BrowsingReadsTheProductsTableNewestFirst) {
  auto statements = BuildSearchStatements(SearchQuery{});
  ASSERT_TRUE(statements);
  EXPECT_EQ(statements->count.sql, "SELECT count(*) FROM products p");
  EXPECT_TRUE(statements->count.params.empty());
  EXPECT_EQ(statements->page.sql,
            "SELECT p.id FROM products p ORDER BY p.created_at DESC, p.id DESC LIMIT $1 OFFSET $2");
  ASSERT_EQ(statements->page.params.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(statements->page.params[0]), 20);
  EXPECT_EQ(std::get<int64_t>(statements->page.params[1]), 0);
}

TEST(BuildSearchStatements, TextFiltersAndRelevanceAreBoundParameters) {
  SearchQuery query;
  query.text = "Trail  Runner";
  query.category = "shoes";
  query.min_price = 100;
  query.max_price = 900;
  query.sort = SearchSort::kRelevance;
  query.page = 3;
  query.page_size = 10;
  auto statements =
      BuildSearchStatements(query, SearchWeights{.name = 10, .description = 1, .attributes = 4});
  ASSERT_TRUE(statements);
  const auto& count = statements->count;
  EXPECT_TRUE(
      Contains(count.sql, "FROM products_fts JOIN products p ON p.seq = products_fts.rowid"));
  EXPECT_TRUE(Contains(count.sql, "products_fts MATCH $1"));
  EXPECT_TRUE(Contains(count.sql, "pc.category_id = $2"));
  EXPECT_TRUE(Contains(count.sql, "p.price_amount >= $3"));
  EXPECT_TRUE(Contains(count.sql, "p.price_amount <= $4"));
  ASSERT_EQ(count.params.size(), 4u);
  EXPECT_EQ(std::get<std::string>(count.params[0]), "\"Trail\" \"Runner\"");
  EXPECT_EQ(std::get<std::string>(count.params[1]), "shoes");
  EXPECT_EQ(std::get<int64_t>(count.params[2]), 100);
  EXPECT_EQ(std::get<int64_t>(count.params[3]), 900);
  EXPECT_FALSE(Contains(count.sql, "Trail")) << "input spliced into SQL";

  const auto& page = statements->page;
  EXPECT_TRUE(
      Contains(page.sql,
               "ORDER BY (lower(p.name) = $5) DESC, bm25(products_fts, 10.000, 1.000, 4.000), p.id "
               "LIMIT $6 OFFSET $7"))
      << page.sql;
  ASSERT_EQ(page.params.size(), 7u);
  EXPECT_EQ(std::get<std::string>(page.params[4]), "trail runner");
  EXPECT_EQ(std::get<int64_t>(page.params[5]), 10);
  EXPECT_EQ(std::get<int64_t>(page.params[6]), 20);
}

TEST(BuildSearchStatements, EverySortEndsInTheIdTieBreak) {
  const std::pair<SearchSort, std::string_view> cases[] = {
      {SearchSort::kPriceAsc, "ORDER BY p.price_amount, p.id LIMIT"},
      {SearchSort::kPriceDesc, "ORDER BY p.price_amount DESC, p.id LIMIT"},
      {SearchSort::kRating, "ORDER BY p.rating_average DESC, p.rating_count DESC, p.id LIMIT"},
      {SearchSort::kNewest, "ORDER BY p.created_at DESC, p.id DESC LIMIT"},
      {SearchSort::kRelevance, "ORDER BY p.created_at DESC, p.id DESC LIMIT"},  // no text: newest
  };
  for (const auto& [sort, order] : cases) {
    SearchQuery query;
    query.sort = sort;
    auto statements = BuildSearchStatements(query);
    ASSERT_TRUE(statements);
    EXPECT_TRUE(Contains(statements->page.sql, order)) << statements->page.sql;
  }
}

TEST(BuildSearchStatements, TextWithoutWordsMatchesNothing) {
  SearchQuery query;
  query.text = " ?! ";
  EXPECT_FALSE(BuildSearchStatements(query));
  query.text = "   ";
  EXPECT_TRUE(BuildSearchStatements(query)) << "blank text is no text";
}

TEST(FlattenAttributes, KeysAndValuesAsText) {
  json::object attributes{{"color", "red"}, {"size", 42}, {"waterproof", true}};
  EXPECT_EQ(FlattenAttributes(attributes), "color red size 42 waterproof true");
}

// ---- on SQLite --------------------------------------------------------------------------------

class Fts5Search : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = mercato::storage::OpenSqlite({.path = dir_.path() + "/catalog.db"});
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    auto applied = mercato::storage::ApplyMigrations(*db_, AllMigrations());
    ASSERT_TRUE(applied) << applied.error().message;
    auto category = db_->TransactBlocking([](Connection& tx) {
      return InsertCategory(tx, domain::Category{"shoes", "Shoes", "", WallTime{}});
    });
    ASSERT_TRUE(category) << category.error().message;
  }

  // Inserts and indexes a product; created_at advances one second per product.
  void Add(std::string id, std::string name, std::string description, int64_t price,
           json::object attributes = {}, std::vector<std::string> categories = {}) {
    domain::Product p;
    p.id = std::move(id);
    p.sku = "SKU-" + p.id;
    p.name = std::move(name);
    p.description = std::move(description);
    p.price = domain::Price{price, "USD"};
    p.attributes = std::move(attributes);
    p.categories = std::move(categories);
    p.version = 1;
    p.created_at = p.updated_at =
        WallTime{} + std::chrono::hours(500000) + std::chrono::seconds(++added_);
    auto written = db_->TransactBlocking([&](Connection& tx) -> Result<void> {
      if (auto inserted = InsertProduct(tx, p); !inserted) return inserted;
      return search_.Index(tx, p);
    });
    ASSERT_TRUE(written) << written.error().message;
  }

  app::SearchHits Search(const SearchQuery& query) {
    auto hits = db_->ReadBlocking([&](Connection& c) { return search_.Search(c, query); });
    EXPECT_TRUE(hits) << hits.error().message;
    return hits ? *hits : app::SearchHits{};
  }

  static SearchQuery Text(std::string text) {
    SearchQuery query;
    query.text = std::move(text);
    query.sort = SearchSort::kRelevance;
    return query;
  }

  testing::TempDir dir_;
  std::unique_ptr<mercato::storage::Database> db_;
  Fts5ProductSearch search_;
  int added_ = 0;
};

TEST_F(Fts5Search, AnExactNameMatchRanksFirstEvenAgainstKeywordStuffing) {
  Add("stuffed", "Trail Runner Trail Runner Trail Runner", "trail runner trail runner", 100);
  Add("exact", "Trail Runner", "A light shoe.", 100);
  Add("longer", "Trail Runner Pro", "For trail runners.", 100);
  Add("described", "Road Shoe", "Not for the trail, says every runner.", 100);
  auto hits = Search(Text("trail runner"));
  ASSERT_EQ(hits.total, 4);
  ASSERT_EQ(hits.ids.size(), 4u);
  EXPECT_EQ(hits.ids[0], "exact");
  EXPECT_EQ(hits.ids[3], "described") << "a match in the name outweighs one in the description";
  // Case and spacing do not matter to the exact match.
  EXPECT_EQ(Search(Text("  TRAIL   runner ")).ids.at(0), "exact");
}

TEST_F(Fts5Search, AttributesAreSearchedAndStemmed) {
  Add("jacket", "Shell Jacket", "Keeps you dry.", 100,
      json::object{{"membrane", "Gore-Tex"}, {"colour", "red"}});
  Add("shirt", "Shirt", "Cotton.", 100);
  EXPECT_EQ(Search(Text("gore-tex")).ids, std::vector<std::string>{"jacket"});
  EXPECT_EQ(Search(Text("jackets")).ids, std::vector<std::string>{"jacket"}) << "porter stemming";
  EXPECT_EQ(Search(Text("red shirt")).total, 0) << "every word must match";
  EXPECT_EQ(Search(Text("\"NEAR(")).total, 0) << "query syntax is text, not an error";
}

TEST_F(Fts5Search, FiltersByCategoryAndPriceRange) {
  Add("a", "Alpha shoe", "", 500, {}, {"shoes"});
  Add("b", "Beta shoe", "", 1500, {}, {"shoes"});
  Add("c", "Gamma shoe", "", 2500, {}, {"shoes"});
  Add("d", "Delta shoe", "", 1500);
  SearchQuery query = Text("shoe");
  query.category = "shoes";
  query.min_price = 1000;
  query.max_price = 2500;
  query.sort = SearchSort::kPriceAsc;
  auto hits = Search(query);
  EXPECT_EQ(hits.total, 2);
  EXPECT_EQ(hits.ids, (std::vector<std::string>{"b", "c"}));
}

TEST_F(Fts5Search, PagesOfEqualPricesNeitherRepeatNorSkip) {
  for (int i = 0; i < 23; ++i)
    Add("p" + std::to_string(100 + i), "Sock " + std::to_string(i), "", 300 + (i % 3));
  for (auto sort : {SearchSort::kPriceAsc, SearchSort::kPriceDesc, SearchSort::kNewest,
                    SearchSort::kRating, SearchSort::kRelevance}) {
    SCOPED_TRACE(app::ToString(sort));
    SearchQuery query = Text("sock");
    query.sort = sort;
    query.page_size = 4;
    std::vector<std::string> walked;
    for (query.page = 1;; ++query.page) {
      auto hits = Search(query);
      EXPECT_EQ(hits.total, 23);
      if (hits.ids.empty()) break;
      walked.insert(walked.end(), hits.ids.begin(), hits.ids.end());
    }
    EXPECT_EQ(walked.size(), 23u);
    EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()).size(), 23u);
  }
}

TEST_F(Fts5Search, ReindexingAndRemovingKeepTheIndexInStep) {
  Add("p1", "Blue Kettle", "", 100);
  domain::Product renamed;
  renamed.id = "p1";
  renamed.name = "Green Teapot";
  ASSERT_TRUE(db_->TransactBlocking([&](Connection& tx) { return search_.Index(tx, renamed); }));
  EXPECT_EQ(Search(Text("kettle")).total, 0);
  EXPECT_EQ(Search(Text("teapot")).total, 1);
  ASSERT_TRUE(db_->TransactBlocking([&](Connection& tx) -> Result<void> {
    if (auto removed = search_.Remove(tx, "p1"); !removed) return removed;
    auto deleted = DeleteProduct(tx, "p1");
    if (!deleted) return deleted.error();
    return Ok();
  }));
  EXPECT_EQ(Search(Text("teapot")).total, 0);
}

}  // namespace
}  // namespace mercato::catalog::storage
