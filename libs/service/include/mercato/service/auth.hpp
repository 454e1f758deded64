// Authenticating callers, in every service (zero trust: a service checks each caller's token
// itself instead of trusting that the gateway did). Extracts `Authorization: Bearer <token>`,
// verifies it with a JwtVerifier (RS256, iss/aud/exp/nbf/typ/token_use, key by kid) and records
// the caller in the request context; failures become 401 problems with a WWW-Authenticate
// challenge (RFC 6750), role failures 403.
//
//   service::Authenticator auth(verifier);
//   auto token = auth.Authenticate(ctx);
//   if (!token) co_return service::AuthProblem(token.error());
//   if (auto ok = security::RequireRole(*token, "admin"); !ok) co_return
//   service::AuthProblem(ok.error());
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/config/config.hpp"
#include "mercato/core/result.hpp"
#include "mercato/core/task.hpp"
#include "mercato/http/request_context.hpp"
#include "mercato/http/response.hpp"
#include "mercato/security/jwks.hpp"
#include "mercato/security/jwt.hpp"

namespace mercato::service {

// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
// unauthenticated when the header is missing, empty or of another scheme.
Result<std::string_view> BearerToken(const http::RequestContext& ctx);

class Authenticator {
 public:
  // `verifier` must outlive the authenticator.
  explicit Authenticator(const security::JwtVerifier& verifier) : verifier_(verifier) {}

  // Verifies the bearer token; on success sets ctx.caller (subject and roles).
  // unauthenticated (401) for a missing or bad token; unavailable (503) when the key source is
  // down, so a JWKS outage is not mistaken for bad credentials. Runs inline: use it when keys
  // are local (identity itself).
  Result<security::VerifiedToken> Authenticate(http::RequestContext& ctx) const;
  // The same, for keys that may have to be fetched: a token seen before is answered from the
  // verifier's cache inline; anything else is verified on the blocking pool, so neither RSA nor
  // a JWKS fetch ever runs on the event loop.
  Task<Result<security::VerifiedToken>> AuthenticateAsync(http::RequestContext& ctx) const;

 private:
  const security::JwtVerifier& verifier_;
};

// Adds the keys of RemoteAuth: jwks-url, token-issuer, token-audience, jwks-refresh-interval.
void AddAuthConfig(config::Schema& schema);

// Authentication for every service but identity: identity's public keys fetched from its JWKS
// (GET jwks-url with a short timeout), cached, refetched when a token names an unknown kid (key
// rotation) at most once per jwks-refresh-interval, so made-up kids cannot hammer identity.
//
//   service::RemoteAuth auth(service.config());                 // after AddAuthConfig(schema)
//   auto token = co_await auth.authenticator().AuthenticateAsync(ctx);
class RemoteAuth {
 public:
  explicit RemoteAuth(const config::Config& config, const Clock& clock = Clock::Real());
  RemoteAuth(std::string jwks_url, security::JwtVerifier::Options options,
             std::chrono::seconds refresh_interval, const Clock& clock = Clock::Real());
  RemoteAuth(const RemoteAuth&) = delete;
  RemoteAuth& operator=(const RemoteAuth&) = delete;

  const Authenticator& authenticator() const { return *authenticator_; }
  const security::JwtVerifier& verifier() const { return *verifier_; }
  std::size_t jwks_fetches() const { return keys_->FetchCount(); }
  // Fetches the keys now (start-up warm-up; failure is fine: the first request retries).
  Result<void> Warm() { return keys_->Refresh(); }

 private:
  std::unique_ptr<security::JwksCache> keys_;
  std::unique_ptr<security::JwtVerifier> verifier_;
  std::unique_ptr<Authenticator> authenticator_;
};

// Problem() plus, for unauthenticated, `WWW-Authenticate: Bearer error="invalid_token"`
// (RFC 6750 §3) so clients know to get a new token.
http::Response AuthProblem(const Error& error);

}  // namespace mercato::service
