// Money as integer minor units plus an ISO 4217 currency: never floating point. Arithmetic checks
// currency and overflow and reports both as errors.
//
//   auto price = mercato::Money::Of(1999, "USD");          // Result<Money>: $19.99
//   auto total = price->Times(3);                          // Result<Money>: $59.97
//   price->ToString()                                      // "19.99 USD"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato {

class Money {
 public:
  // Validates the currency code (three upper-case letters).
  static Result<Money> Of(int64_t minor_units, std::string_view currency);
  static Money Zero(std::string_view currency);

  int64_t minor_units() const { return minor_units_; }
  const std::string& currency() const { return currency_; }
  bool IsNegative() const { return minor_units_ < 0; }

  Result<Money> Plus(const Money& other) const;
  Result<Money> Minus(const Money& other) const;
  Result<Money> Times(int64_t factor) const;

  // "19.99 USD", "-0.50 EUR", "500 JPY" (decimal places from the currency's minor unit).
  std::string ToString() const;
  // Number of minor-unit digits: 2 for most, 0 for JPY/KRW, 3 for BHD/KWD/...
  static int MinorDigits(std::string_view currency);

  friend bool operator==(const Money&, const Money&) = default;

 private:
  Money(int64_t minor, std::string currency) : minor_units_(minor), currency_(std::move(currency)) {}
  int64_t minor_units_ = 0;
  std::string currency_;
};

bool IsCurrencyCode(std::string_view code);

}  // namespace mercato
