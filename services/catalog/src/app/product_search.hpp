// The port behind GET /products: full-text search with filters, sorting and stable pagination,
// and the index maintenance that keeps it in step with the products table. SQLite FTS5 implements
// it today (storage/fts5_product_search.hpp); PostgreSQL full-text search (a tsvector column with
// setweight A/B/C and ts_rank_cd) can implement the same interface without touching the handlers.
//
//   SearchQuery query{.text = "trail shoe", .category = "running", .sort = SearchSort::kRelevance};
//   auto hits = search.Search(connection, query);      // ids of one page, in order, and the total
//   ... in the transaction that writes a product:  search.Index(tx, product);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/product.hpp"
#include "mercato/core/result.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::catalog::app {

enum class SearchSort {
  kRelevance,  // best match first (an exact name match before everything); needs text
  kPriceAsc,
  kPriceDesc,
  kRating,  // highest average first, then most reviews
  kNewest,
};

// "relevance", "price_asc", "price_desc", "rating", "newest".
std::string_view ToString(SearchSort sort);
std::optional<SearchSort> ParseSearchSort(std::string_view text);

struct SearchQuery {
  std::string text;  // q: every word must match (in name, description or attributes); empty: all
  std::optional<std::string> category;
  std::optional<std::int64_t> min_price;  // minor units, inclusive
  std::optional<std::int64_t> max_price;  // minor units, inclusive
  SearchSort sort = SearchSort::kNewest;
  std::int64_t page = 1;  // from 1
  std::int64_t page_size = 20;
};

// One page of matches: product ids in result order, and how many match in all. Every order
// ends with the product id, so pages of one query neither repeat nor skip an item.
struct SearchHits {
  std::vector<std::string> ids;
  std::int64_t total = 0;
};

// The words of a query as the index sees them: split on whitespace, keeping only pieces with at
// least one letter or digit (any non-ASCII byte counts as one). "  Trail-runner, 42!" gives
// ["Trail-runner,", "42!"]; the index's tokenizer drops the punctuation inside each.
std::vector<std::string> SearchWords(std::string_view text);

class ProductSearch {
 public:
  virtual ~ProductSearch() = default;

  // Adds or replaces the product's entry. Runs in the transaction that wrote the product row.
  virtual Result<void> Index(mercato::storage::Connection& tx, const domain::Product& product) = 0;
  // Removes the product's entry. Runs in the deleting transaction, before the row goes.
  virtual Result<void> Remove(mercato::storage::Connection& tx, std::string_view product_id) = 0;
  // One page of matches. Run it in a read transaction together with the loading of the rows, so
  // the page and the total come from one snapshot.
  virtual Result<SearchHits> Search(mercato::storage::Connection& c,
                                    const SearchQuery& query) const = 0;
};

}  // namespace mercato::catalog::app
