// Authenticating callers, in every service (zero trust: a service checks each caller's token
// itself instead of trusting that the gateway did). Extracts `Authorization: Bearer <token>`,
// verifies it with a JwtVerifier (RS256, iss/aud/exp/nbf/typ/token_use, key by kid) and records
// the caller in the request context; failures become 401 problems with a WWW-Authenticate
// challenge (RFC 6750), role failures 403.
//
//   service::Authenticator auth(verifier);
//   auto token = auth.Authenticate(ctx);
//   if (!token) co_return service::AuthProblem(token.error());
//   if (auto ok = security::RequireRole(*token, "admin"); !ok) co_return service::AuthProblem(ok.error());
#pragma once

#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/http/request_context.hpp"
#include "mercato/http/response.hpp"
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
  // down, so a JWKS outage is not mistaken for bad credentials.
  Result<security::VerifiedToken> Authenticate(http::RequestContext& ctx) const;

 private:
  const security::JwtVerifier& verifier_;
};

// Problem() plus, for unauthenticated, `WWW-Authenticate: Bearer error="invalid_token"`
// (RFC 6750 §3) so clients know to get a new token.
http::Response AuthProblem(const Error& error);

}  // namespace mercato::service
