#include "mercato/security/keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/string.hpp>
#include <memory>
#include <vector>

#include "mercato/security/base64url.hpp"

namespace mercato::security {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

constexpr int kMinRsaBits = 2048;

Error Internal(std::string what) { return Error{ErrorCode::kInternal, std::move(what)}; }

// Only RSA keys of a sane size are accepted whatever their source.
Result<KeyPtr> Wrap(PkeyPtr pkey, bool has_private) {
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA) {
    return Error{ErrorCode::kInvalidArgument, "not an RSA key"};
  }
  if (EVP_PKEY_get_bits(pkey.get()) < kMinRsaBits) {
    return Error{ErrorCode::kInvalidArgument, "RSA key shorter than 2048 bits"};
  }
  return KeyPtr(std::make_shared<const RsaKey>(pkey.release(), has_private));
}

BioPtr MemBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> BnBytes(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return Internal("cannot read RSA parameter");
  BnPtr bn(raw);
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

RsaKey::RsaKey(EVP_PKEY* pkey, bool has_private) : pkey_(pkey), has_private_(has_private) {}
RsaKey::~RsaKey() { EVP_PKEY_free(pkey_); }

Result<KeyPtr> GenerateRsaKey(int bits) {
  if (bits < kMinRsaBits)
    return Error{ErrorCode::kInvalidArgument, "RSA key shorter than 2048 bits"};
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1) {
    return Internal("RSA keygen setup failed");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) return Internal("RSA keygen failed");
  return Wrap(PkeyPtr(raw), true);
}

Result<KeyPtr> LoadPrivateKeyPem(std::string_view pem) {
  auto bio = MemBio(pem);
  if (!bio) return Internal("BIO allocation failed");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  // The message deliberately says nothing about the content: it may be a secret.
  if (!pkey) return Error{ErrorCode::kInvalidArgument, "not a PEM private key"};
  return Wrap(std::move(pkey), true);
}

Result<KeyPtr> LoadPublicKeyPem(std::string_view pem) {
  auto bio = MemBio(pem);
  if (!bio) return Internal("BIO allocation failed");
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return Error{ErrorCode::kInvalidArgument, "not a PEM public key"};
  return Wrap(std::move(pkey), false);
}

Result<std::string> PrivateKeyPem(const RsaKey& key) {
  if (!key.HasPrivate()) return Error{ErrorCode::kFailedPrecondition, "public key only"};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.Get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("PEM encoding failed");
  }
  return BioContents(bio.get());
}

Result<std::string> PublicKeyPem(const RsaKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.Get()) != 1)
    return Internal("PEM encoding failed");
  return BioContents(bio.get());
}

Result<std::string> KeyId(const RsaKey& key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.Get(), &der);
  if (len <= 0) return Internal("DER encoding failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const int ok =
      EVP_Digest(der, static_cast<std::size_t>(len), digest, &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return Internal("SHA-256 failed");
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), digest_len))
      .substr(0, 16);
}

Result<boost::json::object> ExportPublicJwk(const RsaKey& key) {
  auto kid = KeyId(key);
  if (!kid) return kid.error();
  auto n = BnBytes(key.Get(), OSSL_PKEY_PARAM_RSA_N);
  if (!n) return n.error();
  auto e = BnBytes(key.Get(), OSSL_PKEY_PARAM_RSA_E);
  if (!e) return e.error();
  return boost::json::object{{"kty", "RSA"},
                             {"use", "sig"},
                             {"alg", "RS256"},
                             {"kid", *kid},
                             {"n", Base64UrlEncode(*n)},
                             {"e", Base64UrlEncode(*e)}};
}

Result<KeyPtr> ImportPublicJwk(const boost::json::object& jwk) {
  const auto* kty = jwk.if_contains("kty");
  if (!kty || !kty->is_string() || kty->get_string() != "RSA") {
    return Error{ErrorCode::kInvalidArgument, "JWK is not RSA", "kty"};
  }
  const auto* n_text = jwk.if_contains("n");
  const auto* e_text = jwk.if_contains("e");
  if (!n_text || !n_text->is_string() || !e_text || !e_text->is_string()) {
    return Error{ErrorCode::kInvalidArgument, "JWK lacks n or e"};
  }
  auto n = Base64UrlDecode(n_text->get_string());
  auto e = Base64UrlDecode(e_text->get_string());
  if (!n || !e || n->empty() || e->empty()) {
    return Error{ErrorCode::kInvalidArgument, "JWK n or e is not base64url"};
  }
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                       static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                       static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return Internal("BIGNUM allocation failed");

  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Internal("OSSL_PARAM build failed");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1)
    return Internal("RSA import setup failed");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return Error{ErrorCode::kInvalidArgument, "JWK is not a valid RSA public key"};
  }
  return Wrap(PkeyPtr(raw), false);
}

}  // namespace mercato::security
