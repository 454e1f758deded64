// JWT (RFC 7519) signed with RS256 only: the issuer signs with SignRs256, everyone else verifies
// with JwtVerifier, which follows RFC 8725 (no alg agility, strict parsing, size limit first,
// exp/nbf/iat with leeway, iss/aud checks, access vs refresh tokens kept apart).
//
//   JwtVerifier verifier({.issuer = "mercato-identity", .audience = "mercato"}, jwks, clock);
//   auto token = verifier.Verify(bearer);          // Result<VerifiedToken>, kUnauthenticated on
//   failure if (token) Use(token->subject, token->roles);
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/security/base64url.hpp"
#include "mercato/security/keys.hpp"

namespace mercato::security {

// What an issuer puts in a token. Times are whole seconds on the wire (NumericDate).
struct Claims {
  std::string issuer;
  std::string subject;
  std::vector<std::string> audience;  // one entry is written as a string, more as an array
  std::vector<std::string> roles;
  std::string jti;
  std::string token_use;  // "access" or "refresh"; empty writes no claim (read as access)
  WallTime issued_at{};
  WallTime expires_at{};
  std::optional<WallTime> not_before;
  boost::json::object extra;  // any further claims, copied as-is (cannot override the above)

  boost::json::object ToJson() const;
};

// A compact JWS: header {"alg":"RS256","typ":"JWT","kid":kid}. The key must be private.
Result<std::string> SignRs256(const Claims& claims, const RsaKey& key, std::string_view kid);

// Where the verifier finds the public key for a `kid` (a JwksCache, a fixed map in tests).
// Return kUnauthenticated for an unknown kid; kUnavailable when the key source itself is down.
class KeyResolver {
 public:
  virtual ~KeyResolver() = default;
  virtual Result<KeyPtr> Resolve(std::string_view kid) = 0;
};

struct VerifiedToken {
  std::string subject;
  std::vector<std::string> roles;
  std::string jti;
  WallTime expires_at{};
  boost::json::object claims;
};

class JwtVerifier {
 public:
  struct Options {
    std::string issuer;
    std::string audience;
    std::chrono::seconds leeway{30};
    std::size_t max_token_bytes = 8 * 1024;
    std::string expected_typ = "JWT";
    // The "token_use" the caller accepts. A token without the claim counts as "access", so a
    // refresh token ("token_use":"refresh") never passes as an access token, nor the reverse.
    std::string expected_token_use = "access";
    std::size_t cache_capacity = 1024;  // 0 disables the cache
  };

  // `keys` and `clock` must outlive the verifier.
  JwtVerifier(Options options, KeyResolver& keys, const Clock& clock);

  // Every failure is Error{kUnauthenticated, short reason} (the reason names the rule, never the
  // token), except kUnavailable passed through from the key source so callers answer 503, not 401.
  // Thread-safe.
  Result<VerifiedToken> Verify(std::string_view token) const;

  // The verified token when `token` passed Verify before and has not expired since; nullopt
  // otherwise (never verifies). Lets callers keep the slow path (RSA, a key fetch) off their
  // event loop: cached → answer inline, else Verify on a blocking pool. Thread-safe.
  std::optional<VerifiedToken> Cached(std::string_view token) const { return CacheGet(token); }

  // RSA signature checks performed so far (cache hits do not count). For tests and metrics.
  std::uint64_t SignatureVerifications() const { return signature_verifications_.load(); }

 private:
  Result<VerifiedToken> VerifyUncached(std::string_view token) const;
  Result<void> CheckClaims(const boost::json::object& claims, VerifiedToken& out) const;
  std::optional<VerifiedToken> CacheGet(std::string_view token) const;
  void CachePut(std::string_view token, const VerifiedToken& verified) const;

  Options options_;
  KeyResolver& keys_;
  const Clock& clock_;
  mutable std::atomic<std::uint64_t> signature_verifications_{0};

  // LRU keyed by the whole token: a hit skips RSA, and is honoured only until the token's exp.
  // A key withdrawn from the JWKS therefore stops cached tokens only when they expire, which is
  // acceptable for short-lived access tokens (revocation is identity's refresh-family job).
  using LruList = std::list<std::pair<std::string, VerifiedToken>>;
  mutable std::mutex cache_mu_;
  mutable LruList lru_;
  mutable std::unordered_map<std::string_view, LruList::iterator> index_;
};

}  // namespace mercato::security
