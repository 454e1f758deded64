// identity's RS256 signing keys: created on first start in <secrets>/jwt-keys.json (0600),
// rotated by `identity rotate-signing-key`, reloaded by the running service when the file
// changes. A rotated-out key is kept, and published in the JWKS, until every token it signed has
// expired; then the next rotation drops it. The set is also the KeyResolver identity's own
// verifier uses, so identity never fetches its own JWKS over HTTP.
//
//   auto keys = SigningKeys::LoadOrCreate(secrets / "jwt-keys.json", retire_after, clock);
//   auto [kid, key] = (*keys)->Current();   // sign with this
//   std::string body = (*keys)->JwksJson(); // GET /.well-known/jwks.json
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/security/keys.hpp"

namespace mercato::identity::app {

struct SigningKey {
  std::string kid;
  security::KeyPtr key;  // private
  WallTime created_at{};
  std::optional<WallTime> retired_at;  // nullopt for the current key
};

// The key file: {"current": kid, "keys": [{"kid", "private_key_pem", "created_at", "retired_at"}]}.
struct SigningKeyFile {
  std::string current;
  std::vector<SigningKey> keys;
};
Result<SigningKeyFile> ReadSigningKeyFile(const std::filesystem::path& file);
Result<void> WriteSigningKeyFile(const std::filesystem::path& file, const SigningKeyFile& keys);

// Adds a fresh key as current, retires the previous one now, and drops keys retired more than
// `keep_retired` ago (their tokens have expired). Returns the new kid. For the CLI; the running
// service picks the change up with ReloadIfChanged.
Result<std::string> RotateSigningKey(const std::filesystem::path& file, std::chrono::seconds keep_retired,
                                     const Clock& clock);

class SigningKeys final : public security::KeyResolver {
 public:
  // `keep_retired`: how long a retired key stays published (access-token TTL plus leeway).
  static Result<std::unique_ptr<SigningKeys>> LoadOrCreate(const std::filesystem::path& file,
                                                           std::chrono::seconds keep_retired,
                                                           const Clock& clock);

  // Reloads when the file's modification time changed. True when it reloaded.
  Result<bool> ReloadIfChanged();

  // The current key and its kid.
  std::pair<std::string, security::KeyPtr> Current() const;
  // {"keys": [...]} of the current key and the retired keys still within keep_retired.
  std::string JwksJson() const;
  std::size_t PublishedCount() const;

  // KeyResolver: public half of a published key; unauthenticated for any other kid.
  Result<security::KeyPtr> Resolve(std::string_view kid) override;

 private:
  SigningKeys(std::filesystem::path file, std::chrono::seconds keep_retired, const Clock& clock)
      : file_(std::move(file)), keep_retired_(keep_retired), clock_(clock) {}
  Result<void> Load();
  std::size_t PublishedCountLocked() const;  // requires mutex_

  std::filesystem::path file_;
  std::chrono::seconds keep_retired_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  SigningKeyFile keys_;
  std::string jwks_;
  std::filesystem::file_time_type loaded_mtime_{};
};

}  // namespace mercato::identity::app
