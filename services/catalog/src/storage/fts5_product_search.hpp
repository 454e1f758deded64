// ProductSearch on SQLite FTS5: the products_fts table (name, description, flattened attributes;
// porter + unicode61 tokenizer) ranked by bm25 with per-column weights, the name weighing most.
// An exact name match (case-insensitive, whitespace-collapsed) is ordered before every other
// match, since bm25 alone can rank a keyword-stuffed name above it. The statement building is
// exposed for unit tests.
//
//   storage::Fts5ProductSearch search;                  // default weights: name 10, attrs 4, text
//   1 auto hits = search.Search(connection, query);
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/product_search.hpp"
#include "mercato/storage/value.hpp"

namespace mercato::catalog::storage {

// bm25 column weights: how much a match in each column counts.
struct SearchWeights {
  double name = 10.0;
  double description = 1.0;
  double attributes = 4.0;
};

struct SqlStatement {
  std::string sql;
  std::vector<mercato::storage::Value> params;
};

// The statement counting all matches and the one selecting a page of ids. Filters and the
// MATCH expression are bound parameters, never spliced into the SQL.
struct SearchStatements {
  SqlStatement count;
  SqlStatement page;
};

// The FTS5 MATCH expression requiring every word: each one a string literal with its double
// quotes doubled, so no input is read as FTS5 query syntax (NEAR, OR, column filters, *).
// `trail "runner` gives `"trail" """runner"`. Empty when there are no words.
std::string FtsMatchExpression(const std::vector<std::string>& words);
// What a product name must equal, lower-cased, to count as an exact match of `text`: the text
// trimmed, inner whitespace collapsed to one space, ASCII lower-cased (SQLite's lower() is too).
std::string ExactNameKey(std::string_view text);
// nullopt when the query has text but no searchable words: nothing can match it. Relevance
// without text falls back to newest.
std::optional<SearchStatements> BuildSearchStatements(const app::SearchQuery& query,
                                                      const SearchWeights& weights = {});
// The attributes as indexed: "key value key value ...", values as their text.
std::string FlattenAttributes(const boost::json::object& attributes);

class Fts5ProductSearch final : public app::ProductSearch {
 public:
  explicit Fts5ProductSearch(SearchWeights weights = {}) : weights_(weights) {}

  Result<void> Index(mercato::storage::Connection& tx, const domain::Product& product) override;
  Result<void> Remove(mercato::storage::Connection& tx, std::string_view product_id) override;
  Result<app::SearchHits> Search(mercato::storage::Connection& c,
                                 const app::SearchQuery& query) const override;

 private:
  SearchWeights weights_;
};

}  // namespace mercato::catalog::storage
