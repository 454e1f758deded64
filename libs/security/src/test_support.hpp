// Test-only helpers for security_test: RSA keys generated once per binary (2048-bit keygen is
// slow), a fixed-map KeyResolver that counts lookups, and a raw signer to forge arbitrary headers.
#pragma once

#include <openssl/evp.h>

#include <boost/json/serialize.hpp>
#include <map>
#include <memory>
#include <string>

#include "mercato/security/jwt.hpp"
#include "mercato/security/keys.hpp"

namespace mercato::security::testing {

inline const KeyPtr& PrimaryKey() {
  static const KeyPtr key = *GenerateRsaKey(2048);
  return key;
}
inline const KeyPtr& SecondKey() {
  static const KeyPtr key = *GenerateRsaKey(2048);
  return key;
}

class MapResolver final : public KeyResolver {
 public:
  void Add(std::string kid, KeyPtr key) { keys_[std::move(kid)] = std::move(key); }
  Result<KeyPtr> Resolve(std::string_view kid) override {
    ++lookups;
    auto it = keys_.find(std::string(kid));
    if (it == keys_.end()) return Error{ErrorCode::kUnauthenticated, "unknown kid"};
    return it->second;
  }
  int lookups = 0;

 private:
  std::map<std::string, KeyPtr> keys_;
};

// RS256 over arbitrary header/payload text, for tokens SignRs256 refuses to make.
inline std::string SignRaw(std::string_view header, std::string_view payload, const RsaKey& key) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t len = 0;
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.Get());
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  return input + "." + Base64UrlEncode(sig);
}

}  // namespace mercato::security::testing
