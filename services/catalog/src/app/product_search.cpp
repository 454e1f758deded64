#include "app/product_search.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace mercato::catalog::app {

namespace {

constexpr std::array<std::pair<SearchSort, std::string_view>, 5> kSortNames = {{
    {SearchSort::kRelevance, "relevance"},
    {SearchSort::kPriceAsc, "price_asc"},
    {SearchSort::kPriceDesc, "price_desc"},
    {SearchSort::kRating, "rating"},
    {SearchSort::kNewest, "newest"},
}};

bool IsWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsWordByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || byte >= 0x80;
}

}  // namespace

std::string_view ToString(SearchSort sort) {
  for (const auto& [value, name] : kSortNames) {
    if (value == sort) return name;
  }
  return "newest";
}

std::optional<SearchSort> ParseSearchSort(std::string_view text) {
  for (const auto& [value, name] : kSortNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::vector<std::string> SearchWords(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    // Control bytes (NUL included: FTS5 reads its query as a C string) separate words too.
    auto separator = [](char c) {
      return IsWhitespace(c) || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    };
    while (i < text.size() && separator(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !separator(text[i])) ++i;
    std::string_view piece = text.substr(start, i - start);
    if (std::any_of(piece.begin(), piece.end(), IsWordByte)) words.emplace_back(piece);
  }
  return words;
}

}  // namespace mercato::catalog::app
