#include "app/signing_keys.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <system_error>

#include "mercato/security/jwks.hpp"
#include "mercato/security/secrets.hpp"

namespace mercato::identity::app {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

Error Corrupt(const fs::path& file, std::string_view why) {
  return Error{ErrorCode::kFailedPrecondition, file.string() + ": " + std::string(why)};
}

Result<SigningKey> NewKey(WallTime now, WallTime activates_at) {
  auto key = security::GenerateRsaKey(2048);
  if (!key) return key.error();
  auto kid = security::KeyId(**key);
  if (!kid) return kid.error();
  return SigningKey{*kid, *key, now, activates_at};
}

}  // namespace

const SigningKey& SigningKeyFile::Active(WallTime now) const {
  const SigningKey* active = &keys.front();
  for (const auto& k : keys) {
    if (k.activates_at <= now) active = &k;
  }
  return *active;
}

std::vector<const SigningKey*> SigningKeyFile::Published(WallTime now,
                                                         std::chrono::seconds keep_retired) const {
  std::vector<const SigningKey*> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // A key retires when its successor activates.
    bool retired_long_ago = i + 1 < keys.size() && keys[i + 1].activates_at <= now &&
                            now - keys[i + 1].activates_at > keep_retired;
    if (!retired_long_ago) out.push_back(&keys[i]);
  }
  return out;
}

Result<SigningKeyFile> ReadSigningKeyFile(const fs::path& file) {
  auto text = security::ReadSecretFile(file);
  if (!text) return text.error();
  std::error_code ec;
  auto doc = json::parse(*text, ec);
  if (ec || !doc.is_object()) return Corrupt(file, "not a JSON object");
  const auto* keys = doc.as_object().if_contains("keys");
  if (!keys || !keys->is_array() || keys->as_array().empty())
    return Corrupt(file, "needs a non-empty \"keys\" array");
  SigningKeyFile out;
  for (const auto& entry : keys->as_array()) {
    const auto* o = entry.if_object();
    const json::value* kid = o ? o->if_contains("kid") : nullptr;
    const json::value* pem = o ? o->if_contains("private_key_pem") : nullptr;
    const json::value* created = o ? o->if_contains("created_at") : nullptr;
    const json::value* activates = o ? o->if_contains("activates_at") : nullptr;
    if (!kid || !kid->is_string() || !pem || !pem->is_string() || !created ||
        !created->is_string()) {
      return Corrupt(file, "a key needs kid, private_key_pem and created_at");
    }
    auto key = security::LoadPrivateKeyPem(pem->as_string());
    if (!key) return Corrupt(file, "a private key does not load");
    auto derived = security::KeyId(**key);
    if (!derived || *derived != kid->as_string())
      return Corrupt(file, "a kid does not match its key");
    SigningKey k{std::string(kid->as_string()), *key, {}, {}};
    if (!ParseRfc3339(created->as_string(), k.created_at)) return Corrupt(file, "bad created_at");
    k.activates_at = k.created_at;
    if (activates &&
        (!activates->is_string() || !ParseRfc3339(activates->as_string(), k.activates_at))) {
      return Corrupt(file, "bad activates_at");
    }
    out.keys.push_back(std::move(k));
  }
  std::stable_sort(out.keys.begin(), out.keys.end(), [](const SigningKey& a, const SigningKey& b) {
    return a.activates_at < b.activates_at;
  });
  return out;
}

Result<void> WriteSigningKeyFile(const fs::path& file, const SigningKeyFile& keys) {
  json::array entries;
  for (const auto& k : keys.keys) {
    auto pem = security::PrivateKeyPem(*k.key);
    if (!pem) return pem.error();
    entries.push_back(json::object{{"kid", k.kid},
                                   {"private_key_pem", *pem},
                                   {"created_at", FormatRfc3339(k.created_at)},
                                   {"activates_at", FormatRfc3339(k.activates_at)}});
  }
  return security::WriteSecretFile(
      file, json::serialize(json::object{{"keys", std::move(entries)}}) + "\n");
}

Result<Rotation> RotateSigningKey(const fs::path& file, std::chrono::seconds keep_retired,
                                  std::chrono::seconds activation_delay, const Clock& clock) {
  auto keys = ReadSigningKeyFile(file);
  if (!keys) return keys.error();
  const WallTime now = clock.WallNow();
  // Never before the newest existing key: rotations stay in order even when run back to back.
  WallTime activates_at = std::max(now + activation_delay, keys->keys.back().activates_at);
  auto fresh = NewKey(now, activates_at);
  if (!fresh) return fresh.error();
  SigningKeyFile next;
  for (const SigningKey* k : keys->Published(now, keep_retired)) next.keys.push_back(*k);
  next.keys.push_back(*fresh);
  if (auto written = WriteSigningKeyFile(file, next); !written) return written.error();
  return Rotation{fresh->kid, fresh->activates_at};
}

Result<std::unique_ptr<SigningKeys>> SigningKeys::LoadOrCreate(const fs::path& file,
                                                               std::chrono::seconds keep_retired,
                                                               const Clock& clock) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    const WallTime now = clock.WallNow();
    auto first = NewKey(now, now);
    if (!first) return first.error();
    SigningKeyFile keys;
    keys.keys.push_back(std::move(*first));
    if (auto written = WriteSigningKeyFile(file, keys); !written) return written.error();
  }
  std::unique_ptr<SigningKeys> out(new SigningKeys(file, keep_retired, clock));
  if (auto loaded = out->Load(); !loaded) return loaded.error();
  return out;
}

std::vector<std::string> SigningKeys::PublishedKidsLocked(WallTime now) const {
  std::vector<std::string> kids;
  for (const SigningKey* k : keys_.Published(now, keep_retired_)) kids.push_back(k->kid);
  return kids;
}

Result<void> SigningKeys::Load() {
  auto digest = security::SecretFileDigest(file_);  // before reading: see SecretFileDigest
  auto keys = ReadSigningKeyFile(file_);
  if (!keys) return keys.error();
  const WallTime now = clock_.WallNow();
  std::vector<security::KeyPtr> published;
  std::vector<std::string> kids;
  for (const SigningKey* k : keys->Published(now, keep_retired_)) {
    published.push_back(k->key);
    kids.push_back(k->kid);
  }
  auto jwks = security::BuildJwks(published);
  if (!jwks) return jwks.error();
  std::lock_guard lock(mutex_);
  keys_ = std::move(*keys);
  published_kids_ = std::move(kids);
  jwks_ = std::move(*jwks);
  loaded_digest_ = std::move(digest);
  return Ok();
}

Result<bool> SigningKeys::ReloadIfChanged() {
  {
    std::lock_guard lock(mutex_);
    if (security::SecretFileDigest(file_) == loaded_digest_ &&
        PublishedKidsLocked(clock_.WallNow()) == published_kids_) {
      return false;
    }
  }
  if (auto loaded = Load(); !loaded) return loaded.error();
  return true;
}

std::size_t SigningKeys::PublishedCount() const {
  std::lock_guard lock(mutex_);
  return published_kids_.size();
}

std::pair<std::string, security::KeyPtr> SigningKeys::Current() const {
  std::lock_guard lock(mutex_);
  const SigningKey& active = keys_.Active(clock_.WallNow());
  return {active.kid, active.key};
}

std::string SigningKeys::JwksJson() const {
  std::lock_guard lock(mutex_);
  return jwks_;
}

Result<security::KeyPtr> SigningKeys::Resolve(std::string_view kid) {
  std::lock_guard lock(mutex_);
  for (const SigningKey* k : keys_.Published(clock_.WallNow(), keep_retired_)) {
    if (k->kid == kid) return k->key;
  }
  return Error{ErrorCode::kUnauthenticated, "unknown key id"};
}

}  // namespace mercato::identity::app
