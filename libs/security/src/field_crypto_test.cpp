#include "mercato/security/field_crypto.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "mercato/security/base64url.hpp"

namespace mercato::security {
namespace {

constexpr std::string_view kEmail = "ada.lovelace@example.com";
constexpr std::string_view kAad = "users.email:user-1";

// A fresh directory per test, removed afterwards, so tests never share a keyring file.
class FieldCryptoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "fieldcrypto.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Keyring Load() { return Load(dir_); }
  static Keyring Load(const std::filesystem::path& dir) {
    auto keyring = Keyring::LoadOrCreate(dir);
    if (!keyring) throw std::runtime_error(keyring.error().message);
    return std::move(keyring).value();
  }
  std::filesystem::path KeyFile() const { return dir_ / Keyring::kFileName; }

  std::filesystem::path dir_;
};

std::string Raw(const std::string& stored) { return *Base64UrlDecode(stored); }

TEST_F(FieldCryptoTest, RoundTripReturnsThePlaintext) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto stored = cipher.Encrypt(kEmail, kAad);
  ASSERT_TRUE(stored);
  auto field = cipher.Decrypt(*stored, kAad);
  ASSERT_TRUE(field);
  EXPECT_EQ(field->plaintext, kEmail);
  EXPECT_FALSE(field->needs_reencrypt);
}

TEST_F(FieldCryptoTest, EmptyPlaintextRoundTrips) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto stored = cipher.Encrypt("", kAad);
  ASSERT_TRUE(stored);
  auto field = cipher.Decrypt(*stored, kAad);
  ASSERT_TRUE(field);
  EXPECT_EQ(field->plaintext, "");
}

TEST_F(FieldCryptoTest, LayoutIsVersionKeyIdNonceCiphertextTag) {
  Keyring keyring = Load();
  auto stored = FieldCipher(keyring).Encrypt(kEmail, kAad);
  ASSERT_TRUE(stored);
  std::string raw = Raw(*stored);
  ASSERT_EQ(raw.size(), 1 + 1 + 12 + kEmail.size() + 16);
  EXPECT_EQ(static_cast<uint8_t>(raw[0]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(raw[1]), 1);
}

TEST_F(FieldCryptoTest, SamePlaintextEncryptsDifferentlyEachTime) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto first = cipher.Encrypt(kEmail, kAad);
  auto second = cipher.Encrypt(kEmail, kAad);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_NE(*first, *second);
  EXPECT_NE(Raw(*first).substr(2, 12), Raw(*second).substr(2, 12));  // the nonces differ
}

TEST_F(FieldCryptoTest, CiphertextDoesNotContainThePlaintext) {
  Keyring keyring = Load();
  auto stored = FieldCipher(keyring).Encrypt(kEmail, kAad);
  ASSERT_TRUE(stored);
  EXPECT_EQ(Raw(*stored).find(kEmail), std::string::npos);
  EXPECT_EQ(stored->find("lovelace"), std::string::npos);
}

TEST_F(FieldCryptoTest, TamperingAnyRegionIsRejected) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto stored = cipher.Encrypt(kEmail, kAad);
  ASSERT_TRUE(stored);
  const std::string raw = Raw(*stored);
  struct Region {
    const char* name;
    std::size_t offset;
  };
  const Region regions[] = {
      {"version", 0}, {"key id", 1}, {"nonce", 2}, {"ciphertext", 14}, {"tag", raw.size() - 1}};
  for (const auto& region : regions) {
    std::string tampered = raw;
    tampered[region.offset] = static_cast<char>(tampered[region.offset] ^ 0x01);
    auto field = cipher.Decrypt(Base64UrlEncode(tampered), kAad);
    EXPECT_FALSE(field) << region.name;
  }
}

TEST_F(FieldCryptoTest, TamperedCiphertextAndTagAreInvalidArgument) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  const std::string raw = Raw(*cipher.Encrypt(kEmail, kAad));
  for (std::size_t offset : {std::size_t{2}, std::size_t{14}, raw.size() - 1}) {
    std::string tampered = raw;
    tampered[offset] = static_cast<char>(tampered[offset] ^ 0x80);
    auto field = cipher.Decrypt(Base64UrlEncode(tampered), kAad);
    ASSERT_FALSE(field) << offset;
    EXPECT_EQ(field.error().code, ErrorCode::kInvalidArgument) << offset;
  }
}

TEST_F(FieldCryptoTest, WrongAssociatedDataIsRejected) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto stored = cipher.Encrypt(kEmail, "users.email:user-1");
  ASSERT_TRUE(stored);
  auto other_row = cipher.Decrypt(*stored, "users.email:user-2");
  ASSERT_FALSE(other_row);
  EXPECT_EQ(other_row.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(cipher.Decrypt(*stored, "users.phone:user-1"));
  EXPECT_FALSE(cipher.Decrypt(*stored, ""));
}

TEST_F(FieldCryptoTest, UnknownKeyIdIsFailedPrecondition) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  std::string raw = Raw(*cipher.Encrypt(kEmail, kAad));
  raw[1] = static_cast<char>(42);
  auto field = cipher.Decrypt(Base64UrlEncode(raw), kAad);
  ASSERT_FALSE(field);
  EXPECT_EQ(field.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(FieldCryptoTest, TruncatedOrGarbageInputIsAnErrorNotACrash) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  const std::string raw = Raw(*cipher.Encrypt(kEmail, kAad));
  for (std::size_t size = 0; size < raw.size(); ++size) {
    auto field = cipher.Decrypt(Base64UrlEncode(raw.substr(0, size)), kAad);
    ASSERT_FALSE(field) << size;
    EXPECT_EQ(field.error().code, ErrorCode::kInvalidArgument) << size;
  }
  auto garbage = cipher.Decrypt("not base64url!", kAad);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(FieldCryptoTest, ErrorsDoNotContainThePlaintext) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto field = cipher.Decrypt(*cipher.Encrypt(kEmail, kAad), "users.email:user-2");
  ASSERT_FALSE(field);
  EXPECT_EQ(field.error().message.find("lovelace"), std::string::npos);
}

TEST_F(FieldCryptoTest, RotationKeepsOldValuesReadableAndFlagsThemForReencryption) {
  Keyring keyring = Load();
  FieldCipher cipher(keyring);
  auto old_value = cipher.Encrypt(kEmail, kAad);
  ASSERT_TRUE(old_value);

  ASSERT_TRUE(keyring.Rotate());
  EXPECT_EQ(keyring.CurrentKeyId(), 2);
  EXPECT_EQ(keyring.KeyCount(), 2u);

  auto field = cipher.Decrypt(*old_value, kAad);
  ASSERT_TRUE(field);
  EXPECT_EQ(field->plaintext, kEmail);
  EXPECT_TRUE(field->needs_reencrypt);

  auto new_value = cipher.Encrypt(field->plaintext, kAad);
  ASSERT_TRUE(new_value);
  EXPECT_EQ(static_cast<uint8_t>(Raw(*new_value)[1]), 2);
  auto reread = cipher.Decrypt(*new_value, kAad);
  ASSERT_TRUE(reread);
  EXPECT_FALSE(reread->needs_reencrypt);
}

TEST_F(FieldCryptoTest, RotationIsSavedAndKeepsTheIndexKey) {
  Keyring keyring = Load();
  auto index_before = BlindIndex(keyring, kEmail);
  ASSERT_TRUE(keyring.Rotate());
  auto index_after = BlindIndex(keyring, kEmail);
  ASSERT_TRUE(index_before);
  ASSERT_TRUE(index_after);
  EXPECT_EQ(*index_before, *index_after);

  Keyring reloaded = Load();
  EXPECT_EQ(reloaded.CurrentKeyId(), 2);
  EXPECT_TRUE(reloaded.HasKey(1));
  EXPECT_TRUE(reloaded.HasKey(2));
  EXPECT_EQ(*BlindIndex(reloaded, kEmail), *index_before);
}

TEST_F(FieldCryptoTest, KeyringFileIsCreatedMode0600AndReloadsTheSameKeys) {
  Keyring created = Load();
  struct stat st {};
  ASSERT_EQ(stat(KeyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(created.CurrentKeyId(), 1);
  // No temp file is left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);

  auto stored = FieldCipher(created).Encrypt(kEmail, kAad);
  ASSERT_TRUE(stored);
  Keyring reloaded = Load();
  auto field = FieldCipher(reloaded).Decrypt(*stored, kAad);
  ASSERT_TRUE(field);
  EXPECT_EQ(field->plaintext, kEmail);
  EXPECT_EQ(*BlindIndex(reloaded, kEmail), *BlindIndex(created, kEmail));
}

TEST_F(FieldCryptoTest, KeyringReadableByOthersIsRefused) {
  { Keyring created = Load(); }
  std::filesystem::permissions(KeyFile(), std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  auto keyring = Keyring::LoadOrCreate(dir_);
  ASSERT_FALSE(keyring);
  EXPECT_EQ(keyring.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(FieldCryptoTest, MalformedKeyringFilesAreRefused) {
  const char* bad_files[] = {
      "not json",
      R"({"current": 1, "keys": {}, "index_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
      R"({"current": 2, "keys": {"1": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
          "index_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
      R"({"current": 1, "keys": {"1": "AAAA"},
          "index_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
      R"({"current": 1, "keys": {"1": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})",
      R"({"current": 1, "keys": {"01": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
          "index_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
      R"({"current": 256, "keys": {"256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
          "index_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
  };
  for (const char* text : bad_files) {
    { std::ofstream(KeyFile()) << text; }
    std::filesystem::permissions(
        KeyFile(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto keyring = Keyring::LoadOrCreate(dir_);
    ASSERT_FALSE(keyring) << text;
    EXPECT_EQ(keyring.error().code, ErrorCode::kFailedPrecondition) << text;
  }
}

TEST_F(FieldCryptoTest, HandWrittenKeyringFileLoads) {
  // The documented format, so operators can restore keys from a backup by hand.
  {
    std::ofstream(KeyFile())
        << R"({"current": 7, "keys": {"3": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
               "7": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"},
               "index_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"})";
  }
  std::filesystem::permissions(
      KeyFile(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Keyring keyring = Load();
  EXPECT_EQ(keyring.CurrentKeyId(), 7);
  EXPECT_TRUE(keyring.HasKey(3));
  EXPECT_FALSE(keyring.HasKey(1));
  ASSERT_TRUE(keyring.Rotate());
  EXPECT_EQ(keyring.CurrentKeyId(), 8);
}

TEST_F(FieldCryptoTest, BlindIndexIsDeterministicHexAndDistinguishesValues) {
  Keyring keyring = Load();
  auto first = BlindIndex(keyring, kEmail);
  auto second = BlindIndex(keyring, kEmail);
  auto other = BlindIndex(keyring, "grace.hopper@example.com");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  ASSERT_TRUE(other);
  EXPECT_EQ(*first, *second);
  EXPECT_NE(*first, *other);
  EXPECT_EQ(first->size(), 64u);
  EXPECT_EQ(first->find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(FieldCryptoTest, BlindIndexDiffersBetweenIndexKeys) {
  Keyring keyring = Load();
  std::filesystem::path other_dir = dir_ / "other";
  std::filesystem::create_directory(other_dir);
  Keyring other = Load(other_dir);
  EXPECT_NE(*BlindIndex(keyring, kEmail), *BlindIndex(other, kEmail));
}

TEST_F(FieldCryptoTest, ValueFromAnotherKeyringDoesNotDecrypt) {
  Keyring keyring = Load();
  std::filesystem::path other_dir = dir_ / "other";
  std::filesystem::create_directory(other_dir);
  Keyring other = Load(other_dir);
  auto stored = FieldCipher(other).Encrypt(kEmail, kAad);  // same key id 1, different key
  ASSERT_TRUE(stored);
  auto field = FieldCipher(keyring).Decrypt(*stored, kAad);
  ASSERT_FALSE(field);
  EXPECT_EQ(field.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace mercato::security
