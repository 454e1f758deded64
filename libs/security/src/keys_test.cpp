#include "mercato/security/keys.hpp"

#include <gtest/gtest.h>

#include "mercato/core/clock.hpp"
#include "mercato/security/jwt.hpp"
#include "test_support.hpp"

namespace mercato::security {
namespace {

using testing::PrimaryKey;

Claims ValidClaims(const Clock& clock) {
  Claims c;
  c.issuer = "mercato-identity";
  c.subject = "user-1";
  c.audience = {"mercato"};
  c.issued_at = clock.WallNow();
  c.expires_at = clock.WallNow() + std::chrono::minutes(15);
  return c;
}

TEST(RsaKeys, RejectsKeysShorterThan2048Bits) {
  auto key = GenerateRsaKey(1024);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
}

TEST(RsaKeys, PemRoundTripKeepsTheKeyId) {
  auto private_pem = PrivateKeyPem(*PrimaryKey());
  auto public_pem = PublicKeyPem(*PrimaryKey());
  ASSERT_TRUE(private_pem);
  ASSERT_TRUE(public_pem);
  EXPECT_NE(private_pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto loaded_private = LoadPrivateKeyPem(*private_pem);
  auto loaded_public = LoadPublicKeyPem(*public_pem);
  ASSERT_TRUE(loaded_private);
  ASSERT_TRUE(loaded_public);
  EXPECT_TRUE((*loaded_private)->HasPrivate());
  EXPECT_FALSE((*loaded_public)->HasPrivate());
  EXPECT_EQ(*KeyId(**loaded_private), *KeyId(*PrimaryKey()));
  EXPECT_EQ(*KeyId(**loaded_public), *KeyId(*PrimaryKey()));
  EXPECT_FALSE(PrivateKeyPem(**loaded_public));
}

TEST(RsaKeys, RejectsGarbagePem) {
  EXPECT_FALSE(LoadPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  EXPECT_FALSE(LoadPublicKeyPem("not pem"));
  EXPECT_FALSE(LoadPublicKeyPem(""));
}

TEST(RsaKeys, KeyIdIsSixteenUrlSafeCharactersAndDiffersPerKey) {
  auto kid = KeyId(*PrimaryKey());
  ASSERT_TRUE(kid);
  EXPECT_EQ(kid->size(), 16u);
  EXPECT_EQ(
      kid->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_NE(*kid, *KeyId(*testing::SecondKey()));
}

TEST(Jwk, ExportHasRs256SigFieldsWithoutPadding) {
  auto jwk = ExportPublicJwk(*PrimaryKey());
  ASSERT_TRUE(jwk);
  EXPECT_EQ(jwk->at("kty"), "RSA");
  EXPECT_EQ(jwk->at("use"), "sig");
  EXPECT_EQ(jwk->at("alg"), "RS256");
  EXPECT_EQ(jwk->at("kid").as_string(), *KeyId(*PrimaryKey()));
  EXPECT_EQ(jwk->at("e"), "AQAB");
  EXPECT_EQ(jwk->at("n").as_string().find('='), boost::json::string::npos);
  EXPECT_FALSE(jwk->contains("d"));  // never the private exponent
}

TEST(Jwk, ImportedPublicKeyVerifiesTokensSignedByTheOriginal) {
  auto jwk = ExportPublicJwk(*PrimaryKey());
  ASSERT_TRUE(jwk);
  auto imported = ImportPublicJwk(*jwk);
  ASSERT_TRUE(imported);
  EXPECT_EQ(*KeyId(**imported), jwk->at("kid").as_string());

  FakeClock clock;
  testing::MapResolver resolver;
  resolver.Add("k1", *imported);
  JwtVerifier verifier({.issuer = "mercato-identity", .audience = "mercato"}, resolver, clock);
  auto token = SignRs256(ValidClaims(clock), *PrimaryKey(), "k1");
  ASSERT_TRUE(token);
  auto verified = verifier.Verify(*token);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->subject, "user-1");
}

TEST(Jwk, ImportRejectsBrokenMembers) {
  EXPECT_FALSE(ImportPublicJwk({{"kty", "EC"}, {"n", "AQAB"}, {"e", "AQAB"}}));
  EXPECT_FALSE(ImportPublicJwk({{"kty", "RSA"}, {"e", "AQAB"}}));
  EXPECT_FALSE(ImportPublicJwk({{"kty", "RSA"}, {"n", "a+b="}, {"e", "AQAB"}}));
  EXPECT_FALSE(ImportPublicJwk({{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}}));  // far too short
}

}  // namespace
}  // namespace mercato::security
