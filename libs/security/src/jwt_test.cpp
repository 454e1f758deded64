#include "mercato/security/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mercato/core/clock.hpp"
#include "test_support.hpp"

namespace mercato::security {
namespace {

using namespace std::chrono_literals;
using testing::PrimaryKey;
using testing::SignRaw;

// Each test gets a fresh clock, resolver and verifier; the RSA keys are shared (slow to make).
class JwtVerifierTest : public ::testing::Test {
 protected:
  JwtVerifierTest() {
    kid_ = *KeyId(*PrimaryKey());
    resolver_.Add(kid_, PrimaryKey());
  }

  Claims AccessClaims() const {
    Claims c;
    c.issuer = "mercato-identity";
    c.subject = "user-42";
    c.audience = {"mercato"};
    c.roles = {"customer", "support"};
    c.jti = "jti-1";
    c.issued_at = clock_.WallNow();
    c.expires_at = clock_.WallNow() + 15min;
    return c;
  }

  std::string Sign(const Claims& c) { return *SignRs256(c, *PrimaryKey(), kid_); }
  std::string Header(std::string_view kid) const {
    return boost::json::serialize(
        boost::json::object{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}});
  }
  std::string Payload() const { return boost::json::serialize(AccessClaims().ToJson()); }

  void ExpectUnauthenticated(std::string_view token) {
    auto verified = verifier_.Verify(token);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated) << verified.error().message;
  }

  FakeClock clock_;
  testing::MapResolver resolver_;
  JwtVerifier::Options options_{.issuer = "mercato-identity", .audience = "mercato"};
  JwtVerifier verifier_{options_, resolver_, clock_};
  std::string kid_;
};

TEST_F(JwtVerifierTest, SignedTokenRoundTripsWithRoles) {
  auto verified = verifier_.Verify(Sign(AccessClaims()));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->subject, "user-42");
  EXPECT_EQ(verified->roles, (std::vector<std::string>{"customer", "support"}));
  EXPECT_EQ(verified->jti, "jti-1");
  EXPECT_EQ(verified->expires_at,
            std::chrono::time_point_cast<std::chrono::seconds>(AccessClaims().expires_at));
  EXPECT_EQ(verified->claims.at("iss"), "mercato-identity");
}

TEST_F(JwtVerifierTest, HeaderIsRs256JwtWithKid) {
  auto token = Sign(AccessClaims());
  auto header = boost::json::parse(*Base64UrlDecode(token.substr(0, token.find('.'))));
  EXPECT_EQ(header.at("alg"), "RS256");
  EXPECT_EQ(header.at("typ"), "JWT");
  EXPECT_EQ(header.at("kid").as_string(), kid_);
}

TEST_F(JwtVerifierTest, AudienceArrayContainingOursIsAccepted) {
  auto c = AccessClaims();
  c.audience = {"other", "mercato"};
  EXPECT_TRUE(verifier_.Verify(Sign(c)));
}

TEST_F(JwtVerifierTest, RejectsAlgNoneWithoutSignature) {
  const auto header =
      boost::json::serialize(boost::json::object{{"alg", "none"}, {"typ", "JWT"}, {"kid", kid_}});
  ExpectUnauthenticated(Base64UrlEncode(header) + "." + Base64UrlEncode(Payload()) + ".");
  ExpectUnauthenticated(Base64UrlEncode(header) + "." + Base64UrlEncode(Payload()));
}

TEST_F(JwtVerifierTest, RejectsAlgNoneWithAValidRsaSignature) {
  const auto header =
      boost::json::serialize(boost::json::object{{"alg", "none"}, {"typ", "JWT"}, {"kid", kid_}});
  ExpectUnauthenticated(SignRaw(header, Payload(), *PrimaryKey()));
}

TEST_F(JwtVerifierTest, RejectsHs256KeyedWithThePublicKeyPem) {
  const auto header =
      boost::json::serialize(boost::json::object{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid_}});
  const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(Payload());
  const std::string secret = *PublicKeyPem(*PrimaryKey());
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                      reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                      sizeof(mac), &mac_len),
            nullptr);
  ExpectUnauthenticated(
      input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), mac_len)));
}

TEST_F(JwtVerifierTest, RejectsOtherRsaAlgorithms) {
  for (std::string_view alg : {"RS512", "PS256", "rs256", "RS256 "}) {
    const auto header =
        boost::json::serialize(boost::json::object{{"alg", alg}, {"typ", "JWT"}, {"kid", kid_}});
    ExpectUnauthenticated(SignRaw(header, Payload(), *PrimaryKey()));
  }
}

TEST_F(JwtVerifierTest, RejectsWrongTypAndCritHeaders) {
  ExpectUnauthenticated(SignRaw(boost::json::serialize(boost::json::object{
                                    {"alg", "RS256"}, {"typ", "at+jwt"}, {"kid", kid_}}),
                                Payload(), *PrimaryKey()));
  ExpectUnauthenticated(
      SignRaw(boost::json::serialize(boost::json::object{
                  {"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid_}, {"crit", {"exp"}}}),
              Payload(), *PrimaryKey()));
}

TEST_F(JwtVerifierTest, RejectsStrippedSignature) {
  auto token = Sign(AccessClaims());
  ExpectUnauthenticated(token.substr(0, token.rfind('.') + 1));
}

TEST_F(JwtVerifierTest, RejectsTamperedPayloadWithOriginalSignature) {
  auto token = Sign(AccessClaims());
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  auto claims =
      boost::json::parse(*Base64UrlDecode(token.substr(first + 1, last - first - 1))).as_object();
  claims["roles"] = boost::json::array{"admin"};
  const std::string forged = token.substr(0, first + 1) +
                             Base64UrlEncode(boost::json::serialize(claims)) + token.substr(last);
  ExpectUnauthenticated(forged);
}

TEST_F(JwtVerifierTest, RejectsSignatureFromAnotherKeyUnderOurKid) {
  ExpectUnauthenticated(*SignRs256(AccessClaims(), *testing::SecondKey(), kid_));
}

TEST_F(JwtVerifierTest, AcceptsJustInsideLeewayAndRejectsPastIt) {
  auto token = Sign(AccessClaims());
  clock_.Advance(15min + 30s);  // exactly exp + leeway
  JwtVerifier uncached(
      JwtVerifier::Options{
          .issuer = "mercato-identity", .audience = "mercato", .cache_capacity = 0},
      resolver_, clock_);
  EXPECT_TRUE(uncached.Verify(token));
  clock_.SetWall(clock_.WallNow() + 1s);
  auto verified = uncached.Verify(token);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(JwtVerifierTest, RejectsMissingExp) {
  auto claims = AccessClaims().ToJson();
  claims.erase("exp");
  ExpectUnauthenticated(SignRaw(Header(kid_), boost::json::serialize(claims), *PrimaryKey()));
}

TEST_F(JwtVerifierTest, RejectsNotYetValid) {
  auto c = AccessClaims();
  c.not_before = clock_.WallNow() + 5min;
  ExpectUnauthenticated(Sign(c));
  c.not_before = clock_.WallNow() + 20s;  // within leeway: clock skew between hosts
  EXPECT_TRUE(verifier_.Verify(Sign(c)));
}

TEST_F(JwtVerifierTest, RejectsIssuedInTheFuture) {
  auto c = AccessClaims();
  c.issued_at = clock_.WallNow() + 5min;
  ExpectUnauthenticated(Sign(c));
}

TEST_F(JwtVerifierTest, RejectsWrongIssuerAudienceAndEmptySubject) {
  auto c = AccessClaims();
  c.issuer = "evil";
  ExpectUnauthenticated(Sign(c));
  c = AccessClaims();
  c.audience = {"other-api"};
  ExpectUnauthenticated(Sign(c));
  c.audience = {};
  ExpectUnauthenticated(Sign(c));
  c = AccessClaims();
  c.subject = "";
  ExpectUnauthenticated(Sign(c));
}

TEST_F(JwtVerifierTest, RejectsUnknownKid) {
  ExpectUnauthenticated(*SignRs256(AccessClaims(), *PrimaryKey(), "nosuchkid"));
}

TEST_F(JwtVerifierTest, RejectsPathAndSqlKidsWithoutAskingTheResolver) {
  for (const std::string& kid :
       std::vector<std::string>{"../../etc/passwd", "' OR 1=1 --", "", std::string("a\0b", 3)}) {
    ExpectUnauthenticated(SignRaw(Header(kid), Payload(), *PrimaryKey()));
  }
  ExpectUnauthenticated(SignRaw(Header(std::string(65, 'a')), Payload(), *PrimaryKey()));
  EXPECT_EQ(resolver_.lookups, 0);
}

TEST_F(JwtVerifierTest, RefreshTokenIsNotAnAccessToken) {
  auto c = AccessClaims();
  c.token_use = "refresh";
  auto refresh = Sign(c);
  ExpectUnauthenticated(refresh);

  auto refresh_options = options_;
  refresh_options.expected_token_use = "refresh";
  JwtVerifier refresh_verifier(refresh_options, resolver_, clock_);
  EXPECT_TRUE(refresh_verifier.Verify(refresh));
  EXPECT_FALSE(refresh_verifier.Verify(Sign(AccessClaims())));
}

TEST_F(JwtVerifierTest, RejectsOversizedTokenBeforeParsing) {
  auto c = AccessClaims();
  c.extra["pad"] = std::string(64 * 1024, 'x');
  ExpectUnauthenticated(Sign(c));
  ExpectUnauthenticated(std::string(64 * 1024, 'A'));
  EXPECT_EQ(resolver_.lookups, 0);
}

TEST_F(JwtVerifierTest, RejectsGarbage) {
  const auto good = Sign(AccessClaims());
  const auto sig = good.substr(good.rfind('.'));
  const auto payload = Base64UrlEncode(Payload());
  for (const std::string& bad : {
           std::string(),
           std::string("."),
           std::string(".."),
           std::string("..."),
           std::string("a.b"),
           good + ".AAAA",
           good + ".",
           "e30." + payload,                                      // two segments
           "!!!." + payload + sig,                                // header not base64url
           Base64UrlEncode(Header(kid_)) + "=." + payload + sig,  // padding
           Base64UrlEncode("not json") + "." + payload + sig,
           Base64UrlEncode("[1,2]") + "." + payload + sig,  // JSON, not an object
           Base64UrlEncode(Header(kid_)) + "." + payload + ".%%%",
           Base64UrlEncode(Header(kid_)) + ".e30" + sig,  // {} payload, wrong signature
           std::string(good.size(), '.'),
       }) {
    SCOPED_TRACE(bad.substr(0, 40));
    ExpectUnauthenticated(bad);
  }
}

TEST_F(JwtVerifierTest, RejectsValidlySignedNonJsonPayload) {
  ExpectUnauthenticated(SignRaw(Header(kid_), "not json", *PrimaryKey()));
  ExpectUnauthenticated(
      SignRaw(Header(kid_), R"({"exp":"tomorrow","iss":"mercato-identity"})", *PrimaryKey()));
}

TEST_F(JwtVerifierTest, RejectsNonStringRoles) {
  auto claims = AccessClaims().ToJson();
  claims["roles"] = boost::json::array{"customer", 7};
  ExpectUnauthenticated(SignRaw(Header(kid_), boost::json::serialize(claims), *PrimaryKey()));
}

TEST_F(JwtVerifierTest, CacheSkipsRsaForARepeatedToken) {
  auto token = Sign(AccessClaims());
  ASSERT_TRUE(verifier_.Verify(token));
  auto again = verifier_.Verify(token);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->subject, "user-42");
  EXPECT_EQ(verifier_.SignatureVerifications(), 1u);
  EXPECT_EQ(resolver_.lookups, 1);
}

TEST_F(JwtVerifierTest, CachedTokenIsRejectedOnceExpired) {
  auto token = Sign(AccessClaims());
  ASSERT_TRUE(verifier_.Verify(token));
  clock_.SetWall(clock_.WallNow() + 15min + 31s);
  ExpectUnauthenticated(token);
}

TEST_F(JwtVerifierTest, CacheDoesNotRememberFailures) {
  auto c = AccessClaims();
  c.issuer = "evil";
  auto token = Sign(c);
  ExpectUnauthenticated(token);
  ExpectUnauthenticated(token);
  EXPECT_EQ(verifier_.SignatureVerifications(), 2u);
}

TEST_F(JwtVerifierTest, CacheEvictsLeastRecentlyUsed) {
  auto options = options_;
  options.cache_capacity = 2;
  JwtVerifier small(options, resolver_, clock_);
  auto c = AccessClaims();
  std::vector<std::string> tokens;
  for (const char* jti : {"a", "b", "c"}) {
    c.jti = jti;
    tokens.push_back(Sign(c));
  }
  ASSERT_TRUE(small.Verify(tokens[0]));
  ASSERT_TRUE(small.Verify(tokens[1]));
  ASSERT_TRUE(small.Verify(tokens[0]));  // hit: a is now most recent
  ASSERT_TRUE(small.Verify(tokens[2]));  // evicts b
  EXPECT_EQ(small.SignatureVerifications(), 3u);
  ASSERT_TRUE(small.Verify(tokens[0]));
  EXPECT_EQ(small.SignatureVerifications(), 3u);
  ASSERT_TRUE(small.Verify(tokens[1]));
  EXPECT_EQ(small.SignatureVerifications(), 4u);
}

TEST(SignRs256, RefusesPublicKeysAndUnsafeKids) {
  auto public_key = LoadPublicKeyPem(*PublicKeyPem(*PrimaryKey()));
  ASSERT_TRUE(public_key);
  Claims c;
  EXPECT_FALSE(SignRs256(c, **public_key, "kid"));
  EXPECT_FALSE(SignRs256(c, *PrimaryKey(), "../x"));
}

}  // namespace
}  // namespace mercato::security
