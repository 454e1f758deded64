// Personal data at rest for identity: the PII keyring (reloaded when an operator rotates it),
// and the sealing of the personal fields inside stored events and snapshots. The read model's
// columns are sealed by the repository with the same vault.
//
//   auto vault = PiiVault::Open(data_dir / "secrets");                  // start-up
//   auto sealed = SealEventData(*vault, user_id, "EmailChanged", data);  // before Append
//   auto plain = OpenEventData(*vault, user_id, "EmailChanged", stored);  // after Load
#pragma once

#include <boost/json/value.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/security/field_crypto.hpp"

namespace mercato::identity::app {

class PiiVault {
 public:
  // Loads <secrets_dir>/pii-keys.json, creating it (one data key, one index key) on first start.
  static Result<std::unique_ptr<PiiVault>> Open(const std::filesystem::path& secrets_dir);

  // Reloads the keyring when its file changed since the last load (an operator ran
  // `identity rotate-pii-key`). True when it reloaded. Thread-safe.
  Result<bool> ReloadIfChanged();

  // AES-256-GCM under the current key; `where` is the associated data binding the value to its
  // place ("users.email:<id>"), so a value copied elsewhere does not decrypt.
  Result<std::string> Seal(std::string_view plaintext, std::string_view where) const;
  // The plaintext, and whether it was sealed under an older key (re-seal it on the next write).
  Result<security::DecryptedField> Open(std::string_view sealed, std::string_view where) const;
  // The blind index of a normalised email: the lookup key stored instead of the address.
  Result<std::string> EmailIndex(std::string_view normalized_email) const;
  // A keyed hash for in-memory throttling keys (never stored): same key as the blind index, with
  // a distinct prefix so the two are not linkable.
  Result<std::string> ThrottleKey(std::string_view normalized_email) const;

  std::uint8_t CurrentKeyId() const;

 private:
  PiiVault(std::filesystem::path secrets_dir, security::Keyring keyring, std::string loaded_digest);
  std::shared_ptr<const security::Keyring> Keyring() const;

  std::filesystem::path secrets_dir_;
  mutable std::mutex mutex_;
  std::shared_ptr<const security::Keyring> keyring_;  // swapped whole on reload
  std::string loaded_digest_;  // SecretFileDigest of the keyring file as loaded
};

// The personal fields of each event type, sealed in place for the event store:
//   UserRegistered.email, EmailChanged.email, PhoneChanged.phone (when not empty),
//   AddressAdded.address (the whole object, sealed as one string).
// Other types pass through unchanged. `stream_id` and the type and field are bound as
// associated data. Errors are internal (a broken keyring), never the caller's.
Result<boost::json::value> SealEventData(const PiiVault& vault, std::string_view stream_id,
                                         std::string_view type, const boost::json::value& data);
// The inverse of SealEventData: the domain's plaintext payload.
Result<boost::json::value> OpenEventData(const PiiVault& vault, std::string_view stream_id,
                                         std::string_view type, const boost::json::value& data);

// A snapshot's whole state sealed as one value: {"sealed": "<ciphertext>"}.
Result<boost::json::value> SealSnapshot(const PiiVault& vault, std::string_view stream_id,
                                        const boost::json::value& state);
Result<boost::json::value> OpenSnapshot(const PiiVault& vault, std::string_view stream_id,
                                        const boost::json::value& sealed);

}  // namespace mercato::identity::app
