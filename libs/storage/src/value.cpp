#include "mercato/storage/value.hpp"

#include <stdexcept>

namespace mercato::storage {
namespace {

constexpr const char* kTypeNames[] = {"NULL", "integer", "real", "text", "blob"};

}  // namespace

std::string Row::Describe(size_t i) const {
  std::string name = "column " + std::to_string(i);
  if (columns_ && i < columns_->size()) name += " '" + (*columns_)[i] + "'";
  return name;
}

const Value& Row::At(size_t i) const {
  if (i >= values_.size()) {
    throw std::out_of_range("row has " + std::to_string(values_.size()) + " columns, asked for " +
                            std::to_string(i));
  }
  return values_[i];
}

size_t Row::Index(std::string_view column) const {
  if (columns_) {
    for (size_t i = 0; i < columns_->size(); ++i) {
      if ((*columns_)[i] == column) return i;
    }
  }
  throw std::out_of_range("no column '" + std::string(column) + "' in the result");
}

namespace {

template <class T>
const T& Expect(const Value& value, const std::string& where, const char* wanted) {
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  throw std::logic_error(where + " is " + kTypeNames[value.index()] + ", not " + wanted);
}

}  // namespace

int64_t Row::Int(size_t i) const { return Expect<int64_t>(At(i), Describe(i), "integer"); }

double Row::Double(size_t i) const {
  const Value& value = At(i);
  if (const int64_t* whole = std::get_if<int64_t>(&value)) return static_cast<double>(*whole);
  return Expect<double>(value, Describe(i), "real");
}

std::string Row::String(size_t i) const { return Expect<std::string>(At(i), Describe(i), "text"); }

const Blob& Row::Bytes(size_t i) const { return Expect<Blob>(At(i), Describe(i), "blob"); }

std::optional<int64_t> Row::OptInt(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return Int(i);
}

std::optional<double> Row::OptDouble(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return Double(i);
}

std::optional<std::string> Row::OptString(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return String(i);
}

}  // namespace mercato::storage
