#include "mercato/security/jwks.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace mercato::security {

Result<KeySet> ParseJwks(std::string_view body) {
  boost::system::error_code ec;
  auto doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object())
    return Error{ErrorCode::kInvalidArgument, "JWKS is not a JSON object"};
  const auto* keys = doc.as_object().if_contains("keys");
  if (!keys || !keys->is_array())
    return Error{ErrorCode::kInvalidArgument, "JWKS lacks keys", "keys"};

  KeySet out;
  for (const auto& entry : keys->get_array()) {
    if (!entry.is_object()) continue;
    const auto& jwk = entry.get_object();
    const auto* kty = jwk.if_contains("kty");
    if (!kty || !kty->is_string() || kty->get_string() != "RSA") continue;
    // "use" and "alg" are optional in a JWK, but when present they must allow RS256 signing.
    if (const auto* use = jwk.if_contains("use");
        use && !(use->is_string() && use->get_string() == "sig"))
      continue;
    if (const auto* alg = jwk.if_contains("alg");
        alg && !(alg->is_string() && alg->get_string() == "RS256"))
      continue;
    const auto* kid = jwk.if_contains("kid");
    if (!kid || !kid->is_string() || kid->get_string().empty()) continue;
    auto key = ImportPublicJwk(jwk);
    if (!key) continue;
    out.emplace(std::string(kid->get_string()), std::move(*key));
  }
  return out;
}

Result<std::string> BuildJwks(const std::vector<KeyPtr>& keys) {
  boost::json::array list;
  for (const auto& key : keys) {
    auto jwk = ExportPublicJwk(*key);
    if (!jwk) return jwk.error();
    list.emplace_back(std::move(*jwk));
  }
  return boost::json::serialize(boost::json::object{{"keys", std::move(list)}});
}

JwksCache::JwksCache(FetchFn fetch, const Clock& clock, Options options)
    : fetch_(std::move(fetch)), clock_(clock), options_(options) {}

Result<KeyPtr> JwksCache::Resolve(std::string_view kid) {
  {
    std::lock_guard lock(mu_);
    if (auto it = keys_.find(kid); it != keys_.end()) return it->second;
  }
  std::lock_guard fetch_lock(fetch_mu_);
  {
    std::lock_guard lock(mu_);
    // Another thread may have fetched while this one waited for fetch_mu_.
    if (auto it = keys_.find(kid); it != keys_.end()) return it->second;
    if (last_fetch_ && clock_.Now() - *last_fetch_ < options_.min_refresh_interval) {
      return Error{ErrorCode::kUnauthenticated, "unknown kid"};
    }
  }
  if (auto fetched = FetchLocked(); !fetched) return fetched.error();
  std::lock_guard lock(mu_);
  if (auto it = keys_.find(kid); it != keys_.end()) return it->second;
  return Error{ErrorCode::kUnauthenticated, "unknown kid"};
}

Result<void> JwksCache::Refresh() {
  std::lock_guard fetch_lock(fetch_mu_);
  return FetchLocked();
}

Result<void> JwksCache::FetchLocked() {
  {
    // Failed fetches count too: a down identity service is asked once per interval, not per
    // request.
    std::lock_guard lock(mu_);
    last_fetch_ = clock_.Now();
    ++fetch_count_;
  }
  auto body = fetch_();
  if (!body) return Error{ErrorCode::kUnavailable, "JWKS fetch failed"};
  auto keys = ParseJwks(*body);
  if (!keys) return Error{ErrorCode::kUnavailable, "JWKS document invalid"};
  std::lock_guard lock(mu_);
  // Replaced wholesale: a key the issuer withdrew stops verifying at the next refresh.
  keys_ = std::move(*keys);
  return Ok();
}

std::size_t JwksCache::FetchCount() const {
  std::lock_guard lock(mu_);
  return fetch_count_;
}

}  // namespace mercato::security
