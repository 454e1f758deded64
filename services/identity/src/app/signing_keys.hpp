// identity's RS256 signing keys: created on first start in <secrets>/jwt-keys.json (0600),
// rotated by `identity rotate-signing-key`, reloaded by the running service when the file
// changes. Rotation is publish-then-sign: a new key is published in the JWKS at once but signs
// only from its `activates_at` (a delay longer than the services' JWKS refresh interval), so no
// service ever meets a token whose key it could not have fetched yet. The key it replaces stays
// published until every token it signed has expired (keep_retired after the successor took
// over). The set is also the KeyResolver identity's own verifier uses.
//
//   auto keys = SigningKeys::LoadOrCreate(secrets / "jwt-keys.json", keep_retired, clock);
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
  WallTime activates_at{};  // signs from then until the next key activates
};

// The key file: {"keys": [{"kid", "private_key_pem", "created_at", "activates_at"}]}, ordered by
// activation. The signing key at time t is the last one with activates_at <= t.
struct SigningKeyFile {
  std::vector<SigningKey> keys;

  // The key signing at `now` (the first key when none is active yet, which only a clock step
  // back can cause).
  const SigningKey& Active(WallTime now) const;
  // Keys to publish at `now`: every key not yet active, the active one, and earlier ones whose
  // successor activated at most keep_retired ago (their tokens may still be valid).
  std::vector<const SigningKey*> Published(WallTime now, std::chrono::seconds keep_retired) const;
};
Result<SigningKeyFile> ReadSigningKeyFile(const std::filesystem::path& file);
Result<void> WriteSigningKeyFile(const std::filesystem::path& file, const SigningKeyFile& keys);

struct Rotation {
  std::string kid;
  WallTime activates_at{};
};
// Adds a fresh key that signs from now + activation_delay, and drops keys no longer published
// (their tokens have expired). For the CLI; the running service picks the file up with
// ReloadIfChanged and switches to the new key on time by itself.
Result<Rotation> RotateSigningKey(const std::filesystem::path& file,
                                  std::chrono::seconds keep_retired,
                                  std::chrono::seconds activation_delay, const Clock& clock);

class SigningKeys final : public security::KeyResolver {
 public:
  // `keep_retired`: how long a replaced key stays published (access-token TTL plus leeway).
  static Result<std::unique_ptr<SigningKeys>> LoadOrCreate(const std::filesystem::path& file,
                                                           std::chrono::seconds keep_retired,
                                                           const Clock& clock);

  // Reloads when the file changed, and rebuilds the JWKS when the published set changed with
  // time. True when either happened.
  Result<bool> ReloadIfChanged();

  // The key signing now and its kid.
  std::pair<std::string, security::KeyPtr> Current() const;
  // {"keys": [...]} of the published keys (as of the last load or ReloadIfChanged).
  std::string JwksJson() const;
  std::size_t PublishedCount() const;

  // KeyResolver: a published key; unauthenticated for any other kid.
  Result<security::KeyPtr> Resolve(std::string_view kid) override;

 private:
  SigningKeys(std::filesystem::path file, std::chrono::seconds keep_retired, const Clock& clock)
      : file_(std::move(file)), keep_retired_(keep_retired), clock_(clock) {}
  Result<void> Load();
  std::vector<std::string> PublishedKidsLocked(WallTime now) const;  // requires mutex_

  std::filesystem::path file_;
  std::chrono::seconds keep_retired_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  SigningKeyFile keys_;
  std::vector<std::string> published_kids_;  // what jwks_ holds
  std::string jwks_;
  std::string loaded_digest_;  // SecretFileDigest of the key file as loaded
};

}  // namespace mercato::identity::app
