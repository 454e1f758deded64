// JWKS (RFC 7517) documents, as served at identity's /.well-known/jwks.json, and a key resolver
// that caches them. The HTTP fetch is injected, so this library holds no network code; an unknown
// kid triggers a refetch (key rotation), at most once per min_refresh_interval.
//
//   JwksCache jwks([&] { return http_client.GetBody(jwks_url); }, clock);
//   JwtVerifier verifier(options, jwks, clock);
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/security/keys.hpp"

namespace mercato::security {

using KeySet = std::map<std::string, KeyPtr, std::less<>>;

// kid -> public key for every RSA signing key; other key types, "use" other than "sig", "alg"
// other than RS256, keys without kid and malformed keys are skipped (one bad entry must not take
// the whole set down). Error{kInvalidArgument} when the document itself is not a JWKS.
Result<KeySet> ParseJwks(std::string_view body);

// Builds {"keys":[...]} from public keys, kid derived with KeyId.
Result<std::string> BuildJwks(const std::vector<KeyPtr>& keys);

class JwksCache final : public KeyResolver {
 public:
  using FetchFn = std::function<Result<std::string>()>;
  struct Options {
    std::chrono::seconds min_refresh_interval{30};
  };

  JwksCache(FetchFn fetch, const Clock& clock) : JwksCache(std::move(fetch), clock, Options{}) {}
  JwksCache(FetchFn fetch, const Clock& clock, Options options);

  // Known kid: the cached key. Unknown kid: one fetch if none happened within the interval,
  // else kUnauthenticated straight away, so a flood of made-up kids cannot hammer identity.
  Result<KeyPtr> Resolve(std::string_view kid) override;

  // Fetches now regardless of the interval (start-up warm-up).
  Result<void> Refresh();

  std::size_t FetchCount() const;

 private:
  Result<void> FetchLocked();  // requires fetch_mu_

  FetchFn fetch_;
  const Clock& clock_;
  Options options_;
  std::mutex fetch_mu_;  // one fetch at a time; lookups of known kids never wait for it
  mutable std::mutex mu_;
  KeySet keys_;
  std::optional<SteadyTime> last_fetch_;
  std::size_t fetch_count_ = 0;
};

}  // namespace mercato::security
