#include "mercato/security/password.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mercato::security {
namespace {

// Hashing at the defaults costs ~150 ms; only DefaultParamsRoundTrip pays it.
constexpr PasswordParams kCheap{.memory_kib = 256, .iterations = 1, .parallelism = 1};

TEST(HashPassword, DefaultParamsRoundTripInPhcForm) {
  auto phc = HashPassword("correct horse battery");
  ASSERT_TRUE(phc);
  EXPECT_TRUE(phc->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *phc;
  EXPECT_TRUE(VerifyPassword("correct horse battery", *phc));
}

TEST(HashPassword, PhcCarriesSaltAndHashOfExpectedLength) {
  auto phc = HashPassword("correct horse battery", kCheap);
  ASSERT_TRUE(phc);
  // Unpadded standard base64: 16 bytes -> 22 chars, 32 bytes -> 43 chars.
  const std::string prefix = "$argon2id$v=19$m=256,t=1,p=1$";
  ASSERT_TRUE(phc->starts_with(prefix)) << *phc;
  const std::string rest = phc->substr(prefix.size());
  const size_t dollar = rest.find('$');
  ASSERT_NE(dollar, std::string::npos);
  EXPECT_EQ(dollar, 22U);
  EXPECT_EQ(rest.size() - dollar - 1, 43U);
}

TEST(VerifyPassword, RejectsWrongPassword) {
  auto phc = HashPassword("correct horse battery", kCheap);
  ASSERT_TRUE(phc);
  EXPECT_FALSE(VerifyPassword("correct horse batterY", *phc));
  EXPECT_FALSE(VerifyPassword("", *phc));
}

TEST(VerifyPassword, RejectsMalformedOrHostileStrings) {
  EXPECT_FALSE(VerifyPassword("x", ""));
  EXPECT_FALSE(VerifyPassword("x", "plaintext"));
  EXPECT_FALSE(VerifyPassword("x", "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA"));
  // A corrupt row must not make a login allocate 4 TiB.
  EXPECT_FALSE(VerifyPassword("x", "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA"));
}

TEST(HashPassword, SaltsEachHash) {
  auto first = HashPassword("correct horse battery", kCheap);
  auto second = HashPassword("correct horse battery", kCheap);
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
  EXPECT_TRUE(VerifyPassword("correct horse battery", *second));
}

TEST(ParsePasswordHashParams, ReadsCostsBack) {
  auto params = ParsePasswordHashParams("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
  ASSERT_TRUE(params);
  EXPECT_EQ(params->memory_kib, 19456U);
  EXPECT_EQ(params->iterations, 2U);
  EXPECT_EQ(params->parallelism, 1U);
}

TEST(ParsePasswordHashParams, RejectsOtherShapes) {
  for (std::string_view bad :
       {"", "$argon2id$v=19$m=1,t=1$c2FsdA$aGFzaA", "$argon2id$v=16$m=1,t=1,p=1$c2FsdA$aGFzaA",
        "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=x,t=1,p=1$c2FsdA$aGFzaA",
        "$argon2id$v=19$m=1,t=1,p=1$$aGFzaA", "$argon2id$v=19$t=1,m=1,p=1$c2FsdA$aGFzaA"}) {
    auto params = ParsePasswordHashParams(bad);
    ASSERT_FALSE(params) << bad;
    EXPECT_EQ(params.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(NeedsRehash, TrueOnlyWhenStoredCostIsWeaker) {
  const PasswordParams current;
  EXPECT_FALSE(NeedsRehash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", current));
  EXPECT_FALSE(NeedsRehash("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", current));
  EXPECT_TRUE(NeedsRehash("$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$aGFzaA", current));
  EXPECT_TRUE(NeedsRehash("$argon2id$v=19$m=19456,t=1,p=1$c2FsdA$aGFzaA", current));
  EXPECT_TRUE(NeedsRehash("$2b$12$somebcrypthash", current));
  auto cheap = HashPassword("correct horse battery", kCheap);
  ASSERT_TRUE(cheap);
  EXPECT_TRUE(NeedsRehash(*cheap, current));
  EXPECT_FALSE(NeedsRehash(*cheap, kCheap));
}

void ExpectRejected(std::string_view password, std::string_view email = "shopper@example.com") {
  auto result = CheckPasswordPolicy(password, email);
  ASSERT_FALSE(result) << password;
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << password;
  EXPECT_EQ(result.error().field, "password") << password;
}

TEST(CheckPasswordPolicy, AcceptsAGoodPassphrase) {
  EXPECT_TRUE(CheckPasswordPolicy("violet tram under kettle", "shopper@example.com"));
}

TEST(CheckPasswordPolicy, RejectsShorterThan12) {
  ExpectRejected("");
  ExpectRejected("violet tram");                                            // 11
  EXPECT_TRUE(CheckPasswordPolicy("violet trams", "shopper@example.com"));  // 12
}

TEST(CheckPasswordPolicy, RejectsLongerThan128) {
  ExpectRejected(std::string(129, 'k'));
  EXPECT_TRUE(CheckPasswordPolicy(std::string(128, 'k'), "shopper@example.com"));
}

TEST(CheckPasswordPolicy, CountsCodePointsNotBytes) {
  // "пароль" is 12 bytes but 6 code points; twice is 12 code points / 24 bytes.
  EXPECT_TRUE(CheckPasswordPolicy("парольпароль", "shopper@example.com"));
  ExpectRejected("парольпарол");  // 11 code points, 22 bytes
  // 129 two-byte code points exceed the limit; 128 do not, though both are over 128 bytes.
  std::string many;
  for (int i = 0; i < 128; ++i) many += "ж";
  EXPECT_TRUE(CheckPasswordPolicy(many, "shopper@example.com"));
  ExpectRejected(many + "ж");
}

TEST(CheckPasswordPolicy, RejectsInvalidUtf8) {
  ExpectRejected("violet tram \xff");
  ExpectRejected("violet tram \xc0\xaf");  // overlong "/"
}

TEST(CheckPasswordPolicy, RejectsEmailLocalPartCaseInsensitively) {
  ExpectRejected("ShopperOfTheYear", "shopper@example.com");
  ExpectRejected("longlocalpart1", "LongLocalPart1@example.com");
  // A short local part only forbids equality, not containment.
  EXPECT_TRUE(CheckPasswordPolicy("violet joinery tram", "jo@example.com"));
}

TEST(CheckPasswordPolicy, RejectsCommonPasswordsCaseInsensitively) {
  ExpectRejected("passwordpassword");
  ExpectRejected("123456789012");
  ExpectRejected("QwertyUiop12");
  ExpectRejected("iloveyou1234");
}

}  // namespace
}  // namespace mercato::security
