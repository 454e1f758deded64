// The chassis' own small HTTP vocabulary (methods, statuses, header lists), so that service code
// never includes Boost.Beast: Beast stays inside the chassis' .cpp files, which keeps builds fast.
//
//   if (ctx.method() == http::Method::kGet) ...
//   http::Headers h;  h.Set("Cache-Control", "no-store");
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mercato::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

std::string_view ToString(Method method);
Method ParseMethod(std::string_view text);
// GET, HEAD, PUT, DELETE, OPTIONS: safe to repeat (RFC 9110 9.2.2).
bool IsIdempotent(Method method);

// Status codes the platform uses; any other integer is allowed too.
enum class Status : int {
  kOk = 200,
  kCreated = 201,
  kAccepted = 202,
  kNoContent = 204,
  kNotModified = 304,
  kBadRequest = 400,
  kUnauthorized = 401,
  kForbidden = 403,
  kNotFound = 404,
  kMethodNotAllowed = 405,
  kRequestTimeout = 408,
  kConflict = 409,
  kPayloadTooLarge = 413,
  kUnsupportedMediaType = 415,
  kUnprocessableEntity = 422,
  kTooManyRequests = 429,
  kHeaderFieldsTooLarge = 431,
  kInternalServerError = 500,
  kBadGateway = 502,
  kServiceUnavailable = 503,
  kGatewayTimeout = 504,
};

std::string_view ReasonPhrase(int status);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// An ordered list of header fields; names compare case-insensitively.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The first value of `name`, or nullptr.
  const std::string* Find(std::string_view name) const;
  // Replaces every field named `name` with one.
  void Set(std::string_view name, std::string value);
  void Add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  void Remove(std::string_view name);

  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

}  // namespace mercato::http
