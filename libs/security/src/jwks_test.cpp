#include "mercato/security/jwks.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mercato/core/clock.hpp"
#include "test_support.hpp"

namespace mercato::security {
namespace {

using namespace std::chrono_literals;
using testing::PrimaryKey;
using testing::SecondKey;

Claims AccessClaims(const Clock& clock) {
  Claims c;
  c.issuer = "mercato-identity";
  c.subject = "user-7";
  c.audience = {"mercato"};
  c.issued_at = clock.WallNow();
  c.expires_at = clock.WallNow() + 1h;
  return c;
}

std::string SignWith(const KeyPtr& key, const Clock& clock) {
  return *SignRs256(AccessClaims(clock), *key, *KeyId(*key));
}

TEST(ParseJwks, KeepsRsaSigningKeysOnly) {
  auto rsa = *ExportPublicJwk(*PrimaryKey());
  auto enc = *ExportPublicJwk(*SecondKey());
  enc["use"] = "enc";
  auto rs512 = *ExportPublicJwk(*SecondKey());
  rs512["alg"] = "RS512";
  rs512["kid"] = "other";
  boost::json::object ec{{"kty", "EC"}, {"kid", "ec1"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}};
  boost::json::object broken{{"kty", "RSA"}, {"kid", "broken"}, {"n", "!!"}, {"e", "AQAB"}};
  const auto body =
      boost::json::serialize(boost::json::object{{"keys", {rsa, enc, rs512, ec, broken, 42}}});
  auto keys = ParseJwks(body);
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->begin()->first, rsa.at("kid").as_string());
}

TEST(ParseJwks, RejectsNonJwksDocuments) {
  EXPECT_FALSE(ParseJwks("not json"));
  EXPECT_FALSE(ParseJwks("[]"));
  EXPECT_FALSE(ParseJwks(R"({"keys":{}})"));
}

class JwksCacheTest : public ::testing::Test {
 protected:
  JwksCache::FetchFn Fetch() {
    return [this]() -> Result<std::string> {
      ++fetches_;
      if (!body_) return Error{ErrorCode::kUnavailable, "identity down"};
      return *body_;
    };
  }

  FakeClock clock_;
  std::optional<std::string> body_ = *BuildJwks({PrimaryKey()});
  int fetches_ = 0;
  JwksCache cache_{Fetch(), clock_};
  JwtVerifier verifier_{{.issuer = "mercato-identity", .audience = "mercato"}, cache_, clock_};
};

TEST_F(JwksCacheTest, FirstUnknownKidFetchesAndKnownKidsDoNot) {
  EXPECT_TRUE(verifier_.Verify(SignWith(PrimaryKey(), clock_)));
  EXPECT_EQ(fetches_, 1);
  clock_.Advance(1h);
  EXPECT_TRUE(cache_.Resolve(*KeyId(*PrimaryKey())));
  EXPECT_EQ(fetches_, 1);
}

TEST_F(JwksCacheTest, UnknownKidWithinIntervalDoesNotFetchAgain) {
  ASSERT_TRUE(cache_.Refresh());
  EXPECT_EQ(fetches_, 1);
  auto first = cache_.Resolve("unknownkid1");
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(fetches_, 1);  // the Refresh above was within the interval

  clock_.Advance(31s);
  EXPECT_FALSE(cache_.Resolve("unknownkid2"));
  EXPECT_EQ(fetches_, 2);
  clock_.Advance(10s);
  auto second = cache_.Resolve("unknownkid3");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(fetches_, 2);

  clock_.Advance(21s);
  EXPECT_FALSE(cache_.Resolve("unknownkid4"));
  EXPECT_EQ(fetches_, 3);
  EXPECT_EQ(cache_.FetchCount(), 3u);
}

TEST_F(JwksCacheTest, RotationPicksUpNewKeyAfterIntervalAndKeepsOldOne) {
  ASSERT_TRUE(verifier_.Verify(SignWith(PrimaryKey(), clock_)));
  body_ = *BuildJwks({PrimaryKey(), SecondKey()});
  // Within the interval the new kid is unknown and nothing is fetched.
  auto early = verifier_.Verify(SignWith(SecondKey(), clock_));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(fetches_, 1);

  clock_.Advance(30s);
  EXPECT_TRUE(verifier_.Verify(SignWith(SecondKey(), clock_)));
  EXPECT_EQ(fetches_, 2);
  JwtVerifier uncached({.issuer = "mercato-identity", .audience = "mercato", .cache_capacity = 0},
                       cache_, clock_);
  EXPECT_TRUE(uncached.Verify(SignWith(PrimaryKey(), clock_)));
  EXPECT_TRUE(uncached.Verify(SignWith(SecondKey(), clock_)));
  EXPECT_EQ(fetches_, 2);
}

TEST_F(JwksCacheTest, FetchFailureIsUnavailableAndRateLimited) {
  body_.reset();
  auto first = verifier_.Verify(SignWith(PrimaryKey(), clock_));
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(verifier_.Verify(SignWith(PrimaryKey(), clock_)));
  EXPECT_EQ(fetches_, 1);
  body_ = *BuildJwks({PrimaryKey()});
  clock_.Advance(30s);
  EXPECT_TRUE(verifier_.Verify(SignWith(PrimaryKey(), clock_)));
  EXPECT_EQ(fetches_, 2);
}

}  // namespace
}  // namespace mercato::security
