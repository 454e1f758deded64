#include "mercato/security/base64url.hpp"

#include <gtest/gtest.h>

namespace mercato::security {
namespace {

TEST(Base64Url, RoundTripsEveryRemainderLength) {
  const std::string bytes("\x00\xff\xfe\x01\x7f\x80\x3e\x3f\xfb", 9);
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(bytes.substr(0, n)));
    ASSERT_TRUE(decoded) << n;
    EXPECT_EQ(*decoded, bytes.substr(0, n));
  }
}

TEST(Base64Url, EncodesUrlAlphabetWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("hi"), "aGk");
}

TEST(Base64Url, RejectsPaddingAndForeignCharacters) {
  for (std::string_view bad : {"aGk=", "aG+k", "aG/k", "aG k", "a", "aGk.", "aGl"}) {
    auto decoded = Base64UrlDecode(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace mercato::security
