#include "mercato/core/money.hpp"

#include <cstdlib>
#include <limits>

namespace mercato {

bool IsCurrencyCode(std::string_view code) {
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

int Money::MinorDigits(std::string_view currency) {
  static constexpr std::string_view kZero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF",
                                               "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
                                               "XAF", "XOF", "XPF"};
  static constexpr std::string_view kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  for (auto c : kZero) {
    if (c == currency) return 0;
  }
  for (auto c : kThree) {
    if (c == currency) return 3;
  }
  return 2;
}

Result<Money> Money::Of(int64_t minor_units, std::string_view currency) {
  if (!IsCurrencyCode(currency)) {
    return Error{ErrorCode::kInvalidArgument, "currency must be an ISO 4217 code like USD",
                 "currency"};
  }
  return Money(minor_units, std::string(currency));
}

Money Money::Zero(std::string_view currency) { return Money(0, std::string(currency)); }

Result<Money> Money::Plus(const Money& other) const {
  if (currency_ != other.currency_) {
    return Error{ErrorCode::kInvalidArgument, "cannot add " + other.currency_ + " to " + currency_};
  }
  int64_t sum;
  if (__builtin_add_overflow(minor_units_, other.minor_units_, &sum)) {
    return Error{ErrorCode::kInvalidArgument, "amount overflow"};
  }
  return Money(sum, currency_);
}

Result<Money> Money::Minus(const Money& other) const {
  if (currency_ != other.currency_) {
    return Error{ErrorCode::kInvalidArgument,
                 "cannot subtract " + other.currency_ + " from " + currency_};
  }
  int64_t diff;
  if (__builtin_sub_overflow(minor_units_, other.minor_units_, &diff)) {
    return Error{ErrorCode::kInvalidArgument, "amount overflow"};
  }
  return Money(diff, currency_);
}

Result<Money> Money::Times(int64_t factor) const {
  int64_t product;
  if (__builtin_mul_overflow(minor_units_, factor, &product)) {
    return Error{ErrorCode::kInvalidArgument, "amount overflow"};
  }
  return Money(product, currency_);
}

std::string Money::ToString() const {
  int digits = MinorDigits(currency_);
  // Work in unsigned to print INT64_MIN correctly.
  bool negative = minor_units_ < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(minor_units_)
                                : static_cast<uint64_t>(minor_units_);
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / scale);
  if (digits > 0) {
    std::string frac = std::to_string(magnitude % scale);
    out += '.';
    out.append(static_cast<size_t>(digits) - frac.size(), '0');
    out += frac;
  }
  out += ' ';
  out += currency_;
  return out;
}

}  // namespace mercato
