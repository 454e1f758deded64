#include "mercato/security/jwt.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>

namespace mercato::security {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr std::size_t kMaxKidLength = 64;

Error Unauthenticated(std::string reason) {
  return Error{ErrorCode::kUnauthenticated, std::move(reason)};
}

std::int64_t ToSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// kid goes to the key source and maybe a log line: only a short token-ish string may pass, so
// "../../etc/passwd" or "' OR 1=1 --" never reaches a path, a query or a terminal.
bool IsSafeKid(std::string_view kid) {
  if (kid.empty() || kid.size() > kMaxKidLength) return false;
  return std::all_of(kid.begin(), kid.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

Result<boost::json::object> DecodeJsonObject(std::string_view segment) {
  auto bytes = Base64UrlDecode(segment);
  if (!bytes) return Unauthenticated("malformed token encoding");
  boost::system::error_code ec;
  auto value = boost::json::parse(*bytes, ec);
  if (ec || !value.is_object()) return Unauthenticated("malformed token JSON");
  return std::move(value.as_object());
}

// NumericDate: integer seconds; a finite fractional number is accepted and truncated (RFC 7519 §2).
std::optional<std::int64_t> ReadNumericDate(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2)) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d) || std::fabs(d) > 1e15) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

bool StringIs(const boost::json::object& obj, std::string_view key, std::string_view expected) {
  const auto* v = obj.if_contains(key);
  return v && v->is_string() && v->get_string() == expected;
}

}  // namespace

boost::json::object Claims::ToJson() const {
  boost::json::object out = extra;
  out["iss"] = issuer;
  out["sub"] = subject;
  if (audience.size() == 1) {
    out["aud"] = audience.front();
  } else if (!audience.empty()) {
    boost::json::array aud;
    for (const auto& a : audience) aud.emplace_back(a);
    out["aud"] = std::move(aud);
  }
  boost::json::array role_array;
  for (const auto& r : roles) role_array.emplace_back(r);
  out["roles"] = std::move(role_array);
  if (!jti.empty()) out["jti"] = jti;
  if (!token_use.empty()) out["token_use"] = token_use;
  out["iat"] = ToSeconds(issued_at);
  out["exp"] = ToSeconds(expires_at);
  if (not_before) out["nbf"] = ToSeconds(*not_before);
  return out;
}

Result<std::string> SignRs256(const Claims& claims, const RsaKey& key, std::string_view kid) {
  if (!key.HasPrivate())
    return Error{ErrorCode::kFailedPrecondition, "signing needs a private key"};
  if (!IsSafeKid(kid)) return Error{ErrorCode::kInvalidArgument, "kid must be [A-Za-z0-9_-]{1,64}"};
  const boost::json::object header{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}};
  std::string signing_input = Base64UrlEncode(boost::json::serialize(header)) + "." +
                              Base64UrlEncode(boost::json::serialize(claims.ToJson()));

  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.Get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Error{ErrorCode::kInternal, "RS256 signing setup failed"};
  }
  std::string signature(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Error{ErrorCode::kInternal, "RS256 signing failed"};
  }
  signature.resize(sig_len);
  return signing_input + "." + Base64UrlEncode(signature);
}

JwtVerifier::JwtVerifier(Options options, KeyResolver& keys, const Clock& clock)
    : options_(std::move(options)), keys_(keys), clock_(clock) {}

Result<VerifiedToken> JwtVerifier::Verify(std::string_view token) const {
  // The size limit comes before anything else touches the bytes (parsing, hashing, the cache).
  if (token.empty()) return Unauthenticated("empty token");
  if (token.size() > options_.max_token_bytes) return Unauthenticated("token too large");
  if (auto cached = CacheGet(token)) return std::move(*cached);
  auto verified = VerifyUncached(token);
  if (verified) CachePut(token, *verified);
  return verified;
}

Result<VerifiedToken> JwtVerifier::VerifyUncached(std::string_view token) const {
  const auto first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return Unauthenticated("token is not a JWS");
  const auto second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return Unauthenticated("token is not a three-part JWS");
  }
  const auto header_text = token.substr(0, first_dot);
  const auto payload_text = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const auto signature_text = token.substr(second_dot + 1);
  if (header_text.empty() || payload_text.empty() || signature_text.empty()) {
    return Unauthenticated("empty token segment");
  }

  auto header = DecodeJsonObject(header_text);
  if (!header) return header.error();
  // One algorithm, fixed by the verifier, never chosen by the token (RFC 8725 §3.1).
  if (!StringIs(*header, "alg", "RS256")) return Unauthenticated("unsupported alg");
  if (!StringIs(*header, "typ", options_.expected_typ)) return Unauthenticated("unexpected typ");
  if (header->contains("crit")) return Unauthenticated("unsupported crit header");
  const auto* kid_value = header->if_contains("kid");
  if (!kid_value || !kid_value->is_string() || !IsSafeKid(kid_value->get_string())) {
    return Unauthenticated("bad kid");
  }
  const std::string_view kid = kid_value->get_string();

  auto signature = Base64UrlDecode(signature_text);
  if (!signature) return Unauthenticated("malformed signature");
  auto key = keys_.Resolve(kid);
  if (!key) {
    if (key.error().code == ErrorCode::kUnavailable) return key.error();
    return Unauthenticated("unknown kid");
  }

  const std::string_view signing_input = token.substr(0, second_dot);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, (*key)->Get()) != 1) {
    return Error{ErrorCode::kInternal, "RS256 verify setup failed"};
  }
  signature_verifications_.fetch_add(1);
  // RSA keys default to PKCS#1 v1.5 padding, which is what RS256 means.
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                       signature->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return Unauthenticated("bad signature");
  }

  // Only signed bytes are parsed as claims.
  auto claims = DecodeJsonObject(payload_text);
  if (!claims) return claims.error();
  VerifiedToken out;
  if (auto ok = CheckClaims(*claims, out); !ok) return ok.error();
  out.claims = std::move(*claims);
  return out;
}

Result<void> JwtVerifier::CheckClaims(const boost::json::object& claims, VerifiedToken& out) const {
  const std::int64_t now = ToSeconds(clock_.WallNow());
  const std::int64_t leeway = options_.leeway.count();

  const auto* exp_value = claims.if_contains("exp");
  if (!exp_value) return Unauthenticated("missing exp");
  const auto exp = ReadNumericDate(*exp_value);
  if (!exp) return Unauthenticated("bad exp");
  if (now > *exp + leeway) return Unauthenticated("token expired");

  if (const auto* nbf_value = claims.if_contains("nbf")) {
    const auto nbf = ReadNumericDate(*nbf_value);
    if (!nbf) return Unauthenticated("bad nbf");
    if (*nbf > now + leeway) return Unauthenticated("token not yet valid");
  }
  if (const auto* iat_value = claims.if_contains("iat")) {
    const auto iat = ReadNumericDate(*iat_value);
    if (!iat) return Unauthenticated("bad iat");
    if (*iat > now + leeway) return Unauthenticated("token issued in the future");
  }

  if (!StringIs(claims, "iss", options_.issuer)) return Unauthenticated("wrong issuer");
  const auto* aud = claims.if_contains("aud");
  bool audience_ok = false;
  if (aud && aud->is_string()) {
    audience_ok = aud->get_string() == options_.audience;
  } else if (aud && aud->is_array()) {
    const auto& list = aud->get_array();
    audience_ok = std::any_of(list.begin(), list.end(), [&](const boost::json::value& v) {
      return v.is_string() && v.get_string() == options_.audience;
    });
  }
  if (!audience_ok) return Unauthenticated("wrong audience");

  const auto* sub = claims.if_contains("sub");
  if (!sub || !sub->is_string() || sub->get_string().empty()) return Unauthenticated("missing sub");

  std::string_view token_use = "access";
  if (const auto* use = claims.if_contains("token_use")) {
    if (!use->is_string()) return Unauthenticated("bad token_use");
    token_use = use->get_string();
  }
  if (token_use != options_.expected_token_use) return Unauthenticated("wrong token_use");

  if (const auto* roles = claims.if_contains("roles")) {
    if (!roles->is_array()) return Unauthenticated("bad roles");
    for (const auto& r : roles->get_array()) {
      if (!r.is_string()) return Unauthenticated("bad roles");
      out.roles.emplace_back(r.get_string());
    }
  }
  if (const auto* jti = claims.if_contains("jti")) {
    if (!jti->is_string()) return Unauthenticated("bad jti");
    out.jti = jti->get_string();
  }
  out.subject = sub->get_string();
  out.expires_at = WallTime(std::chrono::seconds(*exp));
  return Ok();
}

std::optional<VerifiedToken> JwtVerifier::CacheGet(std::string_view token) const {
  if (options_.cache_capacity == 0) return std::nullopt;
  std::lock_guard lock(cache_mu_);
  auto it = index_.find(token);
  if (it == index_.end()) return std::nullopt;
  // Same expiry rule as an uncached check; an expired entry is dropped and re-verified (and
  // then rejected) on the slow path.
  if (clock_.WallNow() > it->second->second.expires_at + options_.leeway) {
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void JwtVerifier::CachePut(std::string_view token, const VerifiedToken& verified) const {
  if (options_.cache_capacity == 0) return;
  std::lock_guard lock(cache_mu_);
  if (index_.contains(token)) return;  // another thread verified it concurrently
  lru_.emplace_front(std::string(token), verified);
  // The key views the string owned by the list node, which never moves while in the list.
  index_.emplace(lru_.front().first, lru_.begin());
  while (lru_.size() > options_.cache_capacity) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

}  // namespace mercato::security
