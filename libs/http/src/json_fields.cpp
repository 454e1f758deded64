#include "mercato/http/json_fields.hpp"

namespace mercato::http {

Result<boost::json::object> ObjectBody(const RequestContext& ctx) {
  auto body = ctx.JsonBody();
  if (!body) return body.error();
  if (!body->is_object())
    return Error{ErrorCode::kInvalidArgument, "the body must be a JSON object"};
  return std::move(body->as_object());
}

Result<std::string> StringMember(const boost::json::object& body, std::string_view name,
                                 bool required) {
  const auto* v = body.if_contains(name);
  if (!v) {
    if (!required) return std::string();
    return Error{ErrorCode::kInvalidArgument, std::string(name) + " is required",
                 std::string(name)};
  }
  if (!v->is_string()) {
    return Error{ErrorCode::kInvalidArgument, std::string(name) + " must be a string",
                 std::string(name)};
  }
  return std::string(v->as_string());
}

Result<std::int64_t> IntMember(const boost::json::object& body, std::string_view name,
                               std::optional<std::int64_t> fallback) {
  const auto* v = body.if_contains(name);
  if (!v) {
    if (fallback) return *fallback;
    return Error{ErrorCode::kInvalidArgument, std::string(name) + " is required",
                 std::string(name)};
  }
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return Error{ErrorCode::kInvalidArgument, std::string(name) + " must be an integer",
               std::string(name)};
}

}  // namespace mercato::http
