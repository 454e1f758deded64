#include "mercato/security/secrets.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace mercato::security {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards, so runs never see each other's files.
class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mercato-secrets-" + RandomToken(8));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static unsigned Mode(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<unsigned>(st.st_mode & 07777);
  }

  fs::path dir_;
};

TEST(RandomBytes, ReturnsRequestedSizeAndDiffers) {
  EXPECT_EQ(RandomBytes(0).size(), 0U);
  EXPECT_EQ(RandomBytes(33).size(), 33U);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

TEST(RandomToken, Is43UrlSafeCharactersByDefault) {
  const std::string token = RandomToken();
  EXPECT_EQ(token.size(), 43U);  // 32 bytes, unpadded base64url
  for (char c : token) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_')
        << c;
  }
  EXPECT_EQ(RandomToken(16).size(), 22U);
}

TEST(RandomToken, TwoTokensDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(RandomToken());
  EXPECT_EQ(seen.size(), 100U);
}

TEST(Sha256Hex, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("token", "token"));
  EXPECT_FALSE(ConstantTimeEquals("token", "tokeN"));
  EXPECT_FALSE(ConstantTimeEquals("token", "token2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_F(SecretFileTest, WritesMode0600AndReadsBack) {
  const fs::path path = dir_ / "signing.key";
  const std::string content("key\0material\n", 13);
  ASSERT_TRUE(WriteSecretFile(path, content));
  EXPECT_EQ(Mode(path), 0600U);
  auto read = ReadSecretFile(path);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, content);
}

TEST_F(SecretFileTest, ReplacesExistingFileAndLeavesNoTemporary) {
  const fs::path path = dir_ / "token";
  ASSERT_TRUE(WriteSecretFile(path, "old"));
  ASSERT_TRUE(WriteSecretFile(path, "new"));
  auto read = ReadSecretFile(path);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SecretFileTest, CreatesMissingParentsWith0700) {
  const fs::path path = dir_ / "a" / "b" / "secret";
  ASSERT_TRUE(WriteSecretFile(path, "s3cret"));
  EXPECT_EQ(Mode(dir_ / "a"), 0700U);
  EXPECT_EQ(Mode(dir_ / "a" / "b"), 0700U);
  EXPECT_EQ(Mode(path), 0600U);
}

TEST_F(SecretFileTest, ReadRejectsGroupOrWorldReadableFile) {
  const fs::path path = dir_ / "leaky";
  std::ofstream(path) << "s3cret";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);  // 0644
  auto read = ReadSecretFile(path);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(read.error().message.find(path.string()), std::string::npos);

  fs::permissions(path, fs::perms::owner_read | fs::perms::group_write);  // 0420
  auto group_writable = ReadSecretFile(path);
  ASSERT_FALSE(group_writable);
  EXPECT_EQ(group_writable.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(SecretFileTest, ReadReportsMissingFileAsNotFound) {
  auto read = ReadSecretFile(dir_ / "absent");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
}

TEST_F(SecretFileTest, ReadRejectsDirectory) {
  fs::create_directory(dir_ / "d");
  fs::permissions(dir_ / "d", fs::perms::owner_all);
  auto read = ReadSecretFile(dir_ / "d");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
// A replacement is noticed by content, even within one tick of the filesystem's clock.
TEST_F(SecretFileTest, DigestTellsReplacedContentApart) {
  const fs::path file = dir_ / "keys.json";
  EXPECT_EQ(SecretFileDigest(file), "") << "missing file";
  ASSERT_TRUE(WriteSecretFile(file, "one"));
  const std::string first = SecretFileDigest(file);
  EXPECT_EQ(first, Sha256Hex("one"));
  ASSERT_TRUE(WriteSecretFile(file, "two"));  // immediately: same mtime tick is likely
  EXPECT_NE(SecretFileDigest(file), first);
  ASSERT_TRUE(WriteSecretFile(file, "one"));
  EXPECT_EQ(SecretFileDigest(file), first) << "the same content is the same version";
}

}  // namespace mercato::security
