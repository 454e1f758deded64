// Reading a JSON request body the same way in every handler: the body must be a JSON object,
// members have the type asked for, and every failure is invalid_argument naming the member in
// `field`, so the problem+json tells the client exactly what to fix.
//
//   auto body = http::ObjectBody(ctx);                       if (!body) co_return
//   Problem(body.error()); auto name = http::StringMember(*body, "name");            // required
//   string auto ttl = http::IntMember(*body, "ttl_seconds", 900);    // optional integer with a
//   default
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/http/request_context.hpp"

namespace mercato::http {

// The body parsed as a JSON object; invalid_argument when it is not JSON or not an object.
Result<boost::json::object> ObjectBody(const RequestContext& ctx);

// A string member. Absent: invalid_argument "<name> is required", or "" when not `required`.
Result<std::string> StringMember(const boost::json::object& body, std::string_view name,
                                 bool required = true);

// An integer member (a JSON number without fraction that fits int64). Absent: `fallback` when
// given, else invalid_argument.
Result<std::int64_t> IntMember(const boost::json::object& body, std::string_view name,
                               std::optional<std::int64_t> fallback = std::nullopt);

}  // namespace mercato::http
