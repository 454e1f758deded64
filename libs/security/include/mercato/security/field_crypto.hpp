// Encryption at rest for personal data (email, phone, addresses): a file-backed Keyring, a
// FieldCipher doing AES-256-GCM per column value, and a BlindIndex for equality lookups without
// storing plaintext. OpenSSL 3 EVP only; key material and plaintexts never reach logs or errors.
//
//   auto keyring = Keyring::LoadOrCreate("/var/lib/identity");   // start-up: throw on error
//   FieldCipher cipher(*keyring);
//   auto stored = cipher.Encrypt(email, "users.email:" + user_id);   // Result<std::string>
//   auto email_index = BlindIndex(*keyring, NormalizeEmail(email));  // Result<std::string> hex
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::security {

// A set of 256-bit data keys with ids 1..255 (one byte in every ciphertext), one of them current,
// plus the HMAC key of the blind index. Stored as <dir>/pii-keys.json, mode 0600:
//   {"current": 2, "keys": {"1": "<b64url>", "2": "<b64url>"}, "index_key": "<b64url>"}
// Keys are unpadded base64url (the library's strict codec, one spelling per key).
//
// Const methods are safe to share between threads. Rotate() is not: run it from an admin tool
// (one rotator at a time) and have the replicas reload; a replica that has not reloaded yet
// answers kFailedPrecondition for values under the new key until it does.
class Keyring {
 public:
  static constexpr std::size_t kKeySize = 32;
  using Key = std::array<uint8_t, kKeySize>;
  static constexpr std::string_view kFileName = "pii-keys.json";

  // Loads <directory>/pii-keys.json, or creates it with one random data key and an index key.
  // Creation is atomic and never overwrites a file another process created meanwhile (that file
  // wins and is loaded), so two replicas starting together cannot end up with different keys.
  // Errors: kFailedPrecondition when the file is malformed or readable by group/others;
  // kUnavailable when the directory or file cannot be read or written.
  static Result<Keyring> LoadOrCreate(const std::filesystem::path& directory);

  // Adds a fresh random key, makes it current and saves the file (temp file, fsync, rename).
  // Old keys stay so that old values still decrypt; FieldCipher reports them as needing
  // re-encryption, which the repository does on the next write (lazy rotation).
  // The index key is deliberately left alone: every stored blind index was computed with it, so
  // a new one would make every lookup miss. Changing it needs an explicit re-index job that
  // recomputes all indexes from the decrypted values, which is a migration, not a rotation.
  // kResourceExhausted once id 255 is used; kUnavailable when saving fails (memory unchanged).
  Result<void> Rotate();

  uint8_t CurrentKeyId() const { return current_; }
  bool HasKey(uint8_t id) const { return keys_.count(id) != 0; }
  std::size_t KeyCount() const { return keys_.size(); }

  Keyring(Keyring&&) noexcept = default;
  Keyring& operator=(Keyring&&) noexcept = default;
  Keyring(const Keyring&) = delete;  // one copy of the secrets in memory, wiped on destruction
  Keyring& operator=(const Keyring&) = delete;
  ~Keyring();

 private:
  friend class FieldCipher;
  friend Result<std::string> BlindIndex(const Keyring& keyring, std::string_view normalized_value);

  Keyring() = default;
  const Key* Find(uint8_t id) const;
  std::string ToJson() const;

  std::filesystem::path directory_;
  std::map<uint8_t, Key> keys_;
  uint8_t current_ = 0;
  Key index_key_{};
};

// What Decrypt returns. `needs_reencrypt` is true when the value was written under a key other
// than the current one: write it back through Encrypt when the row is next saved.
struct DecryptedField {
  std::string plaintext;
  bool needs_reencrypt = false;
};

// AES-256-GCM per value. A stored value is the unpadded base64url text of
//   version 0x01 (1) | key id (1) | random nonce (12) | ciphertext | tag (16)
// Text, not bytes, so it fits a TEXT column and JSON without a second encoding.
// The version and key id bytes are authenticated along with `associated_data`, which binds the
// value to its place ("users.email:<user id>"): a value copied to another row does not decrypt.
// Random 96-bit nonces are safe for about 2^32 encryptions per key; rotate well before that.
//
// Errors from Decrypt, never a crash whatever the input:
//   kInvalidArgument    not base64url, truncated, unknown version, tampered bytes, wrong
//                       associated data: the stored value itself is bad; retrying cannot help
//   kFailedPrecondition the key id is not in this keyring: the value may be fine, but this
//                       process lacks the key (keyring not reloaded after a rotation, or lost)
// GCM cannot tell a tampered value from a wrong associated data, so neither can the error.
class FieldCipher {
 public:
  explicit FieldCipher(const Keyring& keyring) : keyring_(keyring) {}

  // Encrypts under the current key. kInternal only if OpenSSL itself fails.
  Result<std::string> Encrypt(std::string_view plaintext, std::string_view associated_data) const;
  Result<DecryptedField> Decrypt(std::string_view stored, std::string_view associated_data) const;

 private:
  const Keyring& keyring_;  // must outlive the cipher; Rotate() must not run while in use
};

// Lower-case hex HMAC-SHA256 of `normalized_value` under the keyring's index key: a deterministic
// token to store beside the ciphertext and look rows up by (WHERE email_index = $1).
// Normalise first (trim, lower-case the email) or equal values will not match. It reveals which
// rows share a value, so index only columns that need lookups; prefix the column name
// ("email:" + value) if the same value in two columns must not be linkable.
Result<std::string> BlindIndex(const Keyring& keyring, std::string_view normalized_value);

}  // namespace mercato::security
