// Small text helpers shared by the resilience header parsers (X-Deadline-Ms, Retry-After).
// Private to the library: not installed, not included from its public headers.
#pragma once

#include <string_view>

namespace mercato::resilience {

// Strips HTTP optional whitespace (OWS = *( SP / HTAB ), RFC 9110 §5.6.3) from both ends.
inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace mercato::resilience
