#include "mercato/service/auth.hpp"

#include <cctype>
#include <functional>

#include "mercato/http/blocking_client.hpp"
#include "mercato/http/server.hpp"

namespace mercato::service {

namespace {

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string_view> BearerToken(const http::RequestContext& ctx) {
  auto header = ctx.Header("Authorization");
  if (!header)
    return Error{ErrorCode::kUnauthenticated, "an Authorization: Bearer token is required"};
  std::string_view value = *header;
  if (!StartsWithIgnoreCase(value, "bearer ")) {
    return Error{ErrorCode::kUnauthenticated,
                 "the Authorization header must use the Bearer scheme"};
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

Task<Result<security::VerifiedToken>> Authenticator::AuthenticateAsync(
    http::RequestContext& ctx) const {
  auto token = BearerToken(ctx);
  if (!token) co_return token.error();
  Result<security::VerifiedToken> verified = Error{ErrorCode::kInternal, "not verified"};
  if (auto cached = verifier_.Cached(*token)) {
    verified = std::move(*cached);
  } else {
    std::function<void()> verify = [&] { verified = verifier_.Verify(*token); };
    co_await http::RunBlocking(std::move(verify));
  }
  if (!verified) co_return verified.error();
  ctx.SetCaller(http::Caller{verified->subject, verified->roles});
  co_return verified;
}

void AddAuthConfig(config::Schema& schema) {
  schema
      .String("jwks-url", "http://127.0.0.1:8101/.well-known/jwks.json",
              "where identity publishes its token keys")
      .String("token-issuer", "mercato-identity", "the iss every accepted token must carry")
      .String("token-audience", "mercato", "the aud every accepted token must carry")
      .Duration("jwks-refresh-interval", "30s",
                "at most one JWKS refetch per interval for unknown key ids");
}

RemoteAuth::RemoteAuth(const config::Config& config, const Clock& clock)
    : RemoteAuth(config.GetString("jwks-url"),
                 security::JwtVerifier::Options{.issuer = config.GetString("token-issuer"),
                                                .audience = config.GetString("token-audience")},
                 std::chrono::duration_cast<std::chrono::seconds>(
                     config.GetDuration("jwks-refresh-interval")),
                 clock) {}

RemoteAuth::RemoteAuth(std::string jwks_url, security::JwtVerifier::Options options,
                       std::chrono::seconds refresh_interval, const Clock& clock) {
  auto fetch = [url = std::move(jwks_url)]() -> Result<std::string> {
    auto r = http::BlockingRequest({.method = "GET",
                                    .url = url,
                                    .headers = {},
                                    .body = {},
                                    .timeout = std::chrono::seconds(2)});
    if (!r) return r.error();
    if (r->status != 200)
      return Error{ErrorCode::kUnavailable, "JWKS answered " + std::to_string(r->status)};
    return std::move(r->body);
  };
  keys_ = std::make_unique<security::JwksCache>(
      std::move(fetch), clock,
      security::JwksCache::Options{.min_refresh_interval = refresh_interval});
  verifier_ = std::make_unique<security::JwtVerifier>(std::move(options), *keys_, clock);
  authenticator_ = std::make_unique<Authenticator>(*verifier_);
}

http::Response AuthProblem(const Error& error) {
  auto response = http::Problem(error);
  if (error.code == ErrorCode::kUnauthenticated) {
    response.headers.Set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  }
  return response;
}

}  // namespace mercato::service
