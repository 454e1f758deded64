// The values that cross the storage boundary: SQL parameters (Value) and query results (Row, Rows).
// Backend-neutral, so repository code is the same on SQLite and PostgreSQL.
//
//   auto rows = conn.Query("SELECT id, name FROM users WHERE email = $1", {email});
//   if (!rows) return rows.error();
//   for (const Row& row : *rows) Use(row.Int("id"), row.String(1));
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mercato::storage {

using Blob = std::vector<uint8_t>;
// std::monostate is SQL NULL.
using Value = std::variant<std::monostate, int64_t, double, std::string, Blob>;

// One result row. Reading a column with the wrong type, a NULL through a non-optional getter, or
// an unknown column throws std::logic_error: the SQL and the code reading it disagree, a bug.
class Row {
 public:
  Row() = default;
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  size_t size() const { return values_.size(); }
  const Value& At(size_t i) const;
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(At(i)); }
  int64_t Int(size_t i) const;
  // Also accepts an integer column, since SQLite stores whole REAL values as integers.
  double Double(size_t i) const;
  std::string String(size_t i) const;
  const Blob& Bytes(size_t i) const;
  bool Bool(size_t i) const { return Int(i) != 0; }
  std::optional<int64_t> OptInt(size_t i) const;
  std::optional<double> OptDouble(size_t i) const;
  std::optional<std::string> OptString(size_t i) const;

  // The same by column name (as the SELECT names it).
  size_t Index(std::string_view column) const;
  const Value& At(std::string_view column) const { return At(Index(column)); }
  bool IsNull(std::string_view column) const { return IsNull(Index(column)); }
  int64_t Int(std::string_view column) const { return Int(Index(column)); }
  double Double(std::string_view column) const { return Double(Index(column)); }
  std::string String(std::string_view column) const { return String(Index(column)); }
  const Blob& Bytes(std::string_view column) const { return Bytes(Index(column)); }
  bool Bool(std::string_view column) const { return Bool(Index(column)); }
  std::optional<int64_t> OptInt(std::string_view column) const { return OptInt(Index(column)); }
  std::optional<double> OptDouble(std::string_view column) const {
    return OptDouble(Index(column));
  }
  std::optional<std::string> OptString(std::string_view column) const {
    return OptString(Index(column));
  }

  const std::vector<Value>& values() const { return values_; }

 private:
  std::string Describe(size_t i) const;

  // Shared by every row of one result, so naming columns costs one vector per query.
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Value> values_;
};

struct Rows {
  std::vector<std::string> columns;
  std::vector<Row> rows;

  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
  const Row& operator[](size_t i) const { return rows[i]; }
  std::vector<Row>::const_iterator begin() const { return rows.begin(); }
  std::vector<Row>::const_iterator end() const { return rows.end(); }
};

}  // namespace mercato::storage
