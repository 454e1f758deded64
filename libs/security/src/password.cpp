#include "mercato/security/password.hpp"

#include <argon2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include "mercato/security/secrets.hpp"

namespace mercato::security {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinCodePoints = 12;
constexpr size_t kMaxCodePoints = 128;
// A stored string asking for more than this is corrupt or hostile; refusing it keeps one bad row
// from allocating gigabytes on a login.
constexpr uint32_t kMaxMemoryKib = 1U << 20;  // 1 GiB
constexpr uint32_t kMaxIterations = 64;

// Best-known leaked passwords (RockYou, HIBP and vendor top-lists), lower case. Most of those
// lists are shorter than 12 characters and already fail the length rule; the short classics stay
// so the list documents itself, and the long entries are what the rule actually catches.
constexpr auto kCommonPasswords = std::to_array<std::string_view>({
    // The classics, all shorter than 12.
    "password",
    "123456",
    "123456789",
    "12345678",
    "12345",
    "1234567",
    "1234567890",
    "qwerty",
    "abc123",
    "password1",
    "111111",
    "123123",
    "000000",
    "iloveyou",
    "admin",
    "welcome",
    "monkey",
    "dragon",
    "letmein",
    "football",
    "qwerty123",
    "1q2w3e4r",
    "sunshine",
    "princess",
    "trustno1",
    "baseball",
    "master",
    "shadow",
    "superman",
    "passw0rd",
    "p@ssw0rd",
    "qwertyuiop",
    // Digits and repeats.
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789012345",
    "1234567890123456",
    "1234567812345678",
    "123456123456",
    "123123123123",
    "121212121212",
    "112233445566",
    "123412341234",
    "123321123321",
    "098765432109",
    "987654321098",
    "098765432112",
    "000000000000",
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
    "666666666666",
    "777777777777",
    "888888888888",
    "999999999999",
    "012345678901",
    "1234567890-=",
    "!@#$%^&*()_+",
    "1234567890qwerty",
    "1234567890abc",
    "abc1234567890",
    "aaaaaaaaaaaa",
    "abcabcabcabc",
    "abc123abc123",
    "abcd1234abcd",
    "abcdefghijkl",
    "abcdefghijklmnop",
    "abcdefghijklmnopqrstuvwxyz",
    "a1b2c3d4e5f6",
    // Keyboard walks.
    "qwertyuiop12",
    "qwertyuiop123",
    "qwertyuiop1234",
    "qwertyuiopasdf",
    "qwertyuiopasdfghjkl",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwerty123456",
    "qwerty12345678",
    "qwerty123456789",
    "qwertyqwerty",
    "123456qwerty",
    "qwertyasdfgh",
    "qwerasdfzxcv",
    "1234qwerasdf",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "1qaz@wsx3edc",
    "!qaz@wsx#edc",
    "1qazxsw23edc",
    "zaq12wsxcde3",
    "zaq1xsw2cde3",
    "qazwsxedcrfv",
    "qazwsxedc123",
    "1q2w3e4r5t6y",
    "1q2w3e4r5t6y7u",
    "1q2w3e4r5t6y7u8i",
    "q1w2e3r4t5y6",
    "qweasdzxc123",
    "qwe123qwe123",
    "asdfghjkl123",
    "asdfghjkl1234",
    "asdfasdfasdf",
    "zxcvbnm123456",
    "zxcvbnmasdfghjkl",
    "poiuytrewq12",
    "mnbvcxz12345",
    // "password" and friends.
    "passwordpassword",
    "password1234",
    "password12345",
    "password123456",
    "password123!",
    "password!123",
    "password1111",
    "password0000",
    "password2020",
    "password2021",
    "password2022",
    "password2023",
    "password2024",
    "password2025",
    "passwordpassword1",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "p@ssw0rd123!",
    "qwertypassword",
    "mypassword123",
    "mypassword1234",
    "mysecretpassword",
    "secretpassword",
    "secretpassword1",
    "supersecret123",
    "supersecretpassword",
    "masterpassword",
    "newpassword123",
    "changeme1234",
    "changeme123!",
    "changemenow!",
    "defaultpassword",
    "administrator",
    "administrator1",
    "admin1234567",
    "admin123456789",
    "adminadmin123",
    "rootpassword",
    "letmein12345",
    "letmein123456",
    "letmeinletmein",
    "letmeinplease",
    "opensesame123",
    "welcome12345",
    "welcome123456",
    "welcome1234!",
    "welcomewelcome",
    "trustno1trustno1",
    "iloveyou1234",
    "iloveyou12345",
    "iloveyou123456",
    "iloveyouiloveyou",
    // Names, teams, pop culture.
    "monkey123456",
    "dragon123456",
    "football1234",
    "football12345",
    "baseball1234",
    "basketball123",
    "soccer123456",
    "superman1234",
    "batman123456",
    "spiderman123",
    "princess1234",
    "princess12345",
    "sunshine1234",
    "starwars1234",
    "whatever1234",
    "computer1234",
    "internet1234",
    "michael12345",
    "jennifer1234",
    "pokemon12345",
    "minecraft123",
    "minecraft1234",
    "fortnite1234",
    "babygirl1234",
    "chocolate123",
    "chocolate1234",
    "butterfly123",
    "butterfly1234",
    "sunflower123",
    "liverpool123",
    "manchesterunited",
    "summer123456",
    "winter123456",
    "jesuschrist1",
    "godisgood123",
    "blessed12345",
    "hello12345678",
    "helloworld123",
    "helloworld1234",
    "correcthorsebatterystaple",
    "thequickbrownfox",
    "thequickbrownfoxjumpsoverthelazydog",
    "mercato123456",
});

constexpr bool IsLowerCaseAndUnique() {
  for (size_t i = 0; i < kCommonPasswords.size(); ++i) {
    for (char c : kCommonPasswords[i]) {
      if (c >= 'A' && c <= 'Z') return false;
    }
    for (size_t j = i + 1; j < kCommonPasswords.size(); ++j) {
      if (kCommonPasswords[i] == kCommonPasswords[j]) return false;
    }
  }
  return true;
}
// Lookups lower-case the candidate, so an upper-case entry could never match.
static_assert(IsLowerCaseAndUnique(), "kCommonPasswords entries must be lower case and unique");

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Number of code points, or nullopt for malformed UTF-8 (overlong forms, surrogates, > U+10FFFF,
// truncated sequences), which would make "12 characters" meaningless.
std::optional<size_t> CountCodePoints(std::string_view text) {
  size_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t cp = 0;
    if (lead < 0x80) {
      length = 1;
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1FU;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0FU;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07U;
    } else {
      return std::nullopt;
    }
    if (i + length > text.size()) return std::nullopt;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (next & 0x3FU);
    }
    constexpr std::array<uint32_t, 5> kMinForLength = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    i += length;
    ++count;
  }
  return count;
}

bool ParseUint(std::string_view text, uint32_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

Error BadPolicy(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), "password"};
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, const PasswordParams& params) {
  const std::string salt = RandomBytes(kSaltBytes);
  std::string encoded(argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                        kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Error{ErrorCode::kInternal,
                 std::string("argon2id hashing failed: ") + argon2_error_message(rc)};
  }
  encoded.resize(encoded.find('\0'));  // argon2_encodedlen counts the terminator
  return encoded;
}

Result<PasswordParams> ParsePasswordHashParams(std::string_view phc) {
  const Error bad{ErrorCode::kInvalidArgument, "not an argon2id v19 PHC string"};
  // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
  auto parts = Split(phc, '$');
  if (parts.size() != 6 || !parts[0].empty() || parts[1] != "argon2id" || parts[2] != "v=19" ||
      parts[4].empty() || parts[5].empty()) {
    return bad;
  }
  auto costs = Split(parts[3], ',');
  PasswordParams params;
  if (costs.size() != 3 || !costs[0].starts_with("m=") || !costs[1].starts_with("t=") ||
      !costs[2].starts_with("p=") || !ParseUint(costs[0].substr(2), params.memory_kib) ||
      !ParseUint(costs[1].substr(2), params.iterations) ||
      !ParseUint(costs[2].substr(2), params.parallelism)) {
    return bad;
  }
  return params;
}

bool VerifyPassword(std::string_view password, std::string_view phc) {
  auto params = ParsePasswordHashParams(phc);
  if (!params || params->memory_kib > kMaxMemoryKib || params->iterations > kMaxIterations) {
    return false;
  }
  const std::string encoded(phc);  // libargon2 wants a NUL-terminated string
  // argon2id_verify recomputes the hash and compares in constant time.
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

bool NeedsRehash(std::string_view phc, const PasswordParams& current) {
  auto stored = ParsePasswordHashParams(phc);
  return !stored || stored->memory_kib < current.memory_kib ||
         stored->iterations < current.iterations;
}

Result<void> CheckPasswordPolicy(std::string_view password, std::string_view email) {
  auto length = CountCodePoints(password);
  if (!length) return BadPolicy("password is not valid UTF-8");
  if (*length < kMinCodePoints) return BadPolicy("password must be at least 12 characters");
  if (*length > kMaxCodePoints) return BadPolicy("password must be at most 128 characters");

  const std::string lowered = AsciiLower(password);
  const size_t at = email.rfind('@');
  const std::string local = AsciiLower(email.substr(0, at == std::string_view::npos ? 0 : at));
  if (!local.empty() &&
      (lowered == local || (local.size() >= 3 && lowered.find(local) != std::string::npos))) {
    return BadPolicy("password must not contain the email address");
  }
  if (std::find(kCommonPasswords.begin(), kCommonPasswords.end(), lowered) !=
      kCommonPasswords.end()) {
    return BadPolicy("password is too common");
  }
  return Ok();
}

}  // namespace mercato::security
