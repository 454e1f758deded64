// RSA signing keys for JWT RS256: generate, load/save PEM, derive the `kid`, and move public keys
// in and out of JWK form. OpenSSL 3 EVP only (the RSA_* API is deprecated). Key material is never
// logged or put in error messages.
//
//   auto key = mercato::security::GenerateRsaKey();          // Result<KeyPtr>
//   auto kid = mercato::security::KeyId(**key);              // "3q2-7wAbC..." (16 chars)
//   auto jwk = mercato::security::ExportPublicJwk(**key);    // {"kty":"RSA",...,"n","e"}
#pragma once

#include <openssl/types.h>

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::security {

// An owned EVP_PKEY holding an RSA key (public, or private with its public half). Immutable once
// built, so one instance is shared freely between threads through KeyPtr.
class RsaKey {
 public:
  // Takes ownership of `pkey`.
  RsaKey(EVP_PKEY* pkey, bool has_private);
  ~RsaKey();
  RsaKey(const RsaKey&) = delete;
  RsaKey& operator=(const RsaKey&) = delete;

  EVP_PKEY* Get() const { return pkey_; }
  bool HasPrivate() const { return has_private_; }

 private:
  EVP_PKEY* pkey_;
  bool has_private_;
};

using KeyPtr = std::shared_ptr<const RsaKey>;

// Error{kInvalidArgument} below 2048 bits: shorter RSA keys are not acceptable for signing.
Result<KeyPtr> GenerateRsaKey(int bits = 2048);

// PKCS#8 "BEGIN PRIVATE KEY" (traditional "BEGIN RSA PRIVATE KEY" is accepted when loading).
Result<KeyPtr> LoadPrivateKeyPem(std::string_view pem);
// SubjectPublicKeyInfo "BEGIN PUBLIC KEY".
Result<KeyPtr> LoadPublicKeyPem(std::string_view pem);
Result<std::string> PrivateKeyPem(const RsaKey& key);
Result<std::string> PublicKeyPem(const RsaKey& key);

// base64url(SHA-256(DER SubjectPublicKeyInfo)) cut to 16 characters: stable for a key, and the
// same whether computed from the private key or from its JWK.
Result<std::string> KeyId(const RsaKey& key);

// {"kty":"RSA","use":"sig","alg":"RS256","kid":KeyId(key),"n":...,"e":...}, unpadded base64url.
Result<boost::json::object> ExportPublicJwk(const RsaKey& key);
// Builds a public key from a JWK's "n" and "e" (other members are the caller's business).
Result<KeyPtr> ImportPublicJwk(const boost::json::object& jwk);

}  // namespace mercato::security
