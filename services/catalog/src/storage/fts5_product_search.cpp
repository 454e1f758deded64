#include "storage/fts5_product_search.hpp"

#include <boost/json.hpp>
#include <charconv>

namespace mercato::catalog::storage {

namespace json = boost::json;
using mercato::storage::Connection;
using mercato::storage::Value;

namespace {

bool IsWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A weight as an SQL literal ("10.0"): the weights come from code, not from requests.
std::string Literal(double value) {
  char buffer[32];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed, 3);
  if (ec != std::errc()) return "1.0";
  return std::string(buffer, end);
}

}  // namespace

std::string FtsMatchExpression(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : word) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

std::string ExactNameKey(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (IsWhitespace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string FlattenAttributes(const json::object& attributes) {
  std::string out;
  for (const auto& member : attributes) {
    if (!out.empty()) out += ' ';
    out += member.key();
    out += ' ';
    const auto& value = member.value();
    if (value.is_string()) {
      out += value.as_string();
    } else {
      out += json::serialize(value);  // numbers and booleans: "42", "true"
    }
  }
  return out;
}

std::optional<SearchStatements> BuildSearchStatements(const app::SearchQuery& query,
                                                      const SearchWeights& weights) {
  const auto words = app::SearchWords(query.text);
  if (words.empty() && !ExactNameKey(query.text).empty()) return std::nullopt;
  const bool fulltext = !words.empty();

  std::vector<Value> params;
  auto bind = [&params](Value value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  };
  std::string from;
  std::vector<std::string> conditions;
  if (fulltext) {
    from = "products_fts JOIN products p ON p.seq = products_fts.rowid";
    conditions.push_back("products_fts MATCH " + bind(FtsMatchExpression(words)));
  } else {
    from = "products p";
  }
  if (query.category) {
    conditions.push_back(
        "EXISTS (SELECT 1 FROM product_categories pc WHERE pc.product_id = p.id AND pc.category_id "
        "= " +
        bind(*query.category) + ")");
  }
  if (query.min_price) conditions.push_back("p.price_amount >= " + bind(*query.min_price));
  if (query.max_price) conditions.push_back("p.price_amount <= " + bind(*query.max_price));
  std::string where;
  for (const auto& condition : conditions)
    where += (where.empty() ? " WHERE " : " AND ") + condition;

  SearchStatements out;
  out.count.sql = "SELECT count(*) FROM " + from + where;
  out.count.params = params;

  // Every order ends in the id: the tie-break that makes pages of one query disjoint.
  std::string order;
  switch (fulltext ? query.sort
                   : (query.sort == app::SearchSort::kRelevance ? app::SearchSort::kNewest
                                                                : query.sort)) {
    case app::SearchSort::kRelevance:
      order = "(lower(p.name) = " + bind(ExactNameKey(query.text)) + ") DESC, bm25(products_fts, " +
              Literal(weights.name) + ", " + Literal(weights.description) + ", " +
              Literal(weights.attributes) + "), p.id";
      break;
    case app::SearchSort::kPriceAsc:
      order = "p.price_amount, p.id";
      break;
    case app::SearchSort::kPriceDesc:
      order = "p.price_amount DESC, p.id";
      break;
    case app::SearchSort::kRating:
      order = "p.rating_average DESC, p.rating_count DESC, p.id";
      break;
    case app::SearchSort::kNewest:
      order = "p.created_at DESC, p.id DESC";
      break;
  }
  const std::string limit = bind(query.page_size);
  const std::string offset = bind((query.page - 1) * query.page_size);
  out.page.sql = "SELECT p.id FROM " + from + where + " ORDER BY " + order + " LIMIT " + limit +
                 " OFFSET " + offset;
  out.page.params = std::move(params);
  return out;
}

Result<void> Fts5ProductSearch::Index(Connection& tx, const domain::Product& product) {
  if (auto removed = Remove(tx, product.id); !removed) return removed;
  auto inserted = tx.Execute(
      "INSERT INTO products_fts (rowid, name, description, attributes) "
      "SELECT seq, $2, $3, $4 FROM products WHERE id = $1",
      {product.id, product.name, product.description, FlattenAttributes(product.attributes)});
  if (!inserted) return inserted.error();
  if (*inserted != 1)
    return Error{ErrorCode::kInternal, "indexing a product whose row does not exist"};
  return Ok();
}

Result<void> Fts5ProductSearch::Remove(Connection& tx, std::string_view product_id) {
  auto removed =
      tx.Execute("DELETE FROM products_fts WHERE rowid = (SELECT seq FROM products WHERE id = $1)",
                 {std::string(product_id)});
  if (!removed) return removed.error();
  return Ok();
}

Result<app::SearchHits> Fts5ProductSearch::Search(Connection& c,
                                                  const app::SearchQuery& query) const {
  auto statements = BuildSearchStatements(query, weights_);
  if (!statements) return app::SearchHits{};
  auto total = c.Query(statements->count.sql, statements->count.params);
  if (!total) return total.error();
  app::SearchHits hits;
  hits.total = total->rows[0].Int(0);
  if (hits.total <= (query.page - 1) * query.page_size) return hits;  // past the last page
  auto rows = c.Query(statements->page.sql, statements->page.params);
  if (!rows) return rows.error();
  hits.ids.reserve(rows->size());
  for (const auto& row : rows->rows) hits.ids.push_back(row.String(0));
  return hits;
}

}  // namespace mercato::catalog::storage
