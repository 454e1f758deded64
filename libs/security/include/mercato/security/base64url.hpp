// Base64url (RFC 4648 §5) without padding, as JOSE uses it. Decoding is strict on purpose: padding,
// characters outside [A-Za-z0-9_-], impossible lengths and non-zero trailing bits are rejected,
// so one token has exactly one spelling and cannot be smuggled past a cache or a log filter.
//
//   std::string text = mercato::security::Base64UrlEncode("hi");   // "aGk"
//   auto bytes = mercato::security::Base64UrlDecode(text);         // Result<std::string> "hi"
#pragma once

#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::security {

std::string Base64UrlEncode(std::string_view bytes);
// Error{kInvalidArgument} on anything that is not canonical unpadded base64url.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace mercato::security
