#include "mercato/service/auth.hpp"

#include <cctype>

namespace mercato::service {

namespace {

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string_view> BearerToken(const http::RequestContext& ctx) {
  auto header = ctx.Header("Authorization");
  if (!header) return Error{ErrorCode::kUnauthenticated, "an Authorization: Bearer token is required"};
  std::string_view value = *header;
  if (!StartsWithIgnoreCase(value, "bearer ")) {
    return Error{ErrorCode::kUnauthenticated, "the Authorization header must use the Bearer scheme"};
  }
  value.remove_prefix(7);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return Error{ErrorCode::kUnauthenticated, "the bearer token is empty"};
  return value;
}

Result<security::VerifiedToken> Authenticator::Authenticate(http::RequestContext& ctx) const {
  auto token = BearerToken(ctx);
  if (!token) return token.error();
  auto verified = verifier_.Verify(*token);
  if (!verified) return verified.error();
  ctx.SetCaller(http::Caller{verified->subject, verified->roles});
  return verified;
}

http::Response AuthProblem(const Error& error) {
  auto response = http::Problem(error);
  if (error.code == ErrorCode::kUnauthenticated) {
    response.headers.Set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  }
  return response;
}

}  // namespace mercato::service
