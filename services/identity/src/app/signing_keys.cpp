#include "app/signing_keys.hpp"

#include <boost/json.hpp>
#include <system_error>

#include "mercato/security/jwks.hpp"
#include "mercato/security/secrets.hpp"

namespace mercato::identity::app {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

fs::file_time_type MtimeOf(const fs::path& file) {
  std::error_code ec;
  auto t = fs::last_write_time(file, ec);
  return ec ? fs::file_time_type{} : t;
}

Error Corrupt(const fs::path& file, std::string_view why) {
  return Error{ErrorCode::kFailedPrecondition, file.string() + ": " + std::string(why)};
}

Result<SigningKey> NewKey(const Clock& clock) {
  auto key = security::GenerateRsaKey(2048);
  if (!key) return key.error();
  auto kid = security::KeyId(**key);
  if (!kid) return kid.error();
  return SigningKey{*kid, *key, clock.WallNow(), std::nullopt};
}

// Published: the current key, and retired keys whose tokens may still be unexpired.
bool Published(const SigningKey& key, const std::string& current, WallTime now,
               std::chrono::seconds keep_retired) {
  if (key.kid == current) return true;
  return key.retired_at && now - *key.retired_at <= keep_retired;
}

}  // namespace

Result<SigningKeyFile> ReadSigningKeyFile(const fs::path& file) {
  auto text = security::ReadSecretFile(file);
  if (!text) return text.error();
  std::error_code ec;
  auto doc = json::parse(*text, ec);
  if (ec || !doc.is_object()) return Corrupt(file, "not a JSON object");
  const auto& root = doc.as_object();
  const auto* current = root.if_contains("current");
  const auto* keys = root.if_contains("keys");
  if (!current || !current->is_string() || !keys || !keys->is_array()) {
    return Corrupt(file, "needs \"current\" and \"keys\"");
  }
  SigningKeyFile out;
  out.current = std::string(current->as_string());
  for (const auto& entry : keys->as_array()) {
    const auto* o = entry.if_object();
    const json::value* kid = o ? o->if_contains("kid") : nullptr;
    const json::value* pem = o ? o->if_contains("private_key_pem") : nullptr;
    const json::value* created = o ? o->if_contains("created_at") : nullptr;
    const json::value* retired = o ? o->if_contains("retired_at") : nullptr;
    if (!kid || !kid->is_string() || !pem || !pem->is_string() || !created || !created->is_string()) {
      return Corrupt(file, "a key needs kid, private_key_pem and created_at");
    }
    auto key = security::LoadPrivateKeyPem(pem->as_string());
    if (!key) return Corrupt(file, "a private key does not load");
    auto derived = security::KeyId(**key);
    if (!derived || *derived != kid->as_string()) return Corrupt(file, "a kid does not match its key");
    SigningKey k{std::string(kid->as_string()), *key, {}, std::nullopt};
    if (!ParseRfc3339(created->as_string(), k.created_at)) return Corrupt(file, "bad created_at");
    if (retired && retired->is_string() && !retired->as_string().empty()) {
      WallTime at{};
      if (!ParseRfc3339(retired->as_string(), at)) return Corrupt(file, "bad retired_at");
      k.retired_at = at;
    }
    out.keys.push_back(std::move(k));
  }
  bool found = false;
  for (const auto& k : out.keys) found = found || k.kid == out.current;
  if (!found) return Corrupt(file, "the current kid is not among the keys");
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
                                   {"retired_at", k.retired_at ? FormatRfc3339(*k.retired_at) : ""}});
  }
  json::object root{{"current", keys.current}, {"keys", std::move(entries)}};
  return security::WriteSecretFile(file, json::serialize(root) + "\n");
}

Result<std::string> RotateSigningKey(const fs::path& file, std::chrono::seconds keep_retired,
                                     const Clock& clock) {
  auto keys = ReadSigningKeyFile(file);
  if (!keys) return keys.error();
  auto fresh = NewKey(clock);
  if (!fresh) return fresh.error();
  const WallTime now = clock.WallNow();
  SigningKeyFile next;
  for (auto& k : keys->keys) {
    if (k.kid == keys->current) k.retired_at = now;
    if (Published(k, fresh->kid, now, keep_retired)) next.keys.push_back(std::move(k));
  }
  next.current = fresh->kid;
  next.keys.push_back(std::move(*fresh));
  if (auto written = WriteSigningKeyFile(file, next); !written) return written.error();
  return next.current;
}

Result<std::unique_ptr<SigningKeys>> SigningKeys::LoadOrCreate(const fs::path& file,
                                                               std::chrono::seconds keep_retired,
                                                               const Clock& clock) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    auto first = NewKey(clock);
    if (!first) return first.error();
    SigningKeyFile keys;
    keys.current = first->kid;
    keys.keys.push_back(std::move(*first));
    if (auto written = WriteSigningKeyFile(file, keys); !written) return written.error();
  }
  std::unique_ptr<SigningKeys> out(new SigningKeys(file, keep_retired, clock));
  if (auto loaded = out->Load(); !loaded) return loaded.error();
  return out;
}

Result<void> SigningKeys::Load() {
  auto mtime = MtimeOf(file_);
  auto keys = ReadSigningKeyFile(file_);
  if (!keys) return keys.error();
  const WallTime now = clock_.WallNow();
  std::vector<security::KeyPtr> published;
  for (const auto& k : keys->keys) {
    if (Published(k, keys->current, now, keep_retired_)) published.push_back(k.key);
  }
  auto jwks = security::BuildJwks(published);
  if (!jwks) return jwks.error();
  std::lock_guard lock(mutex_);
  keys_ = std::move(*keys);
  jwks_ = std::move(*jwks);
  loaded_mtime_ = mtime;
  return Ok();
}

Result<bool> SigningKeys::ReloadIfChanged() {
  {
    std::lock_guard lock(mutex_);
    if (MtimeOf(file_) == loaded_mtime_) {
      // Unchanged file, but a retired key may have aged out of the published set: rebuild the
      // JWKS when the count of published keys would change.
      const WallTime now = clock_.WallNow();
      std::size_t count = 0;
      for (const auto& k : keys_.keys) count += Published(k, keys_.current, now, keep_retired_);
      if (count == PublishedCountLocked()) return false;
    }
  }
  if (auto loaded = Load(); !loaded) return loaded.error();
  return true;
}

std::size_t SigningKeys::PublishedCountLocked() const {
  auto parsed = security::ParseJwks(jwks_);
  return parsed ? parsed->size() : 0;
}

std::size_t SigningKeys::PublishedCount() const {
  std::lock_guard lock(mutex_);
  return PublishedCountLocked();
}

std::pair<std::string, security::KeyPtr> SigningKeys::Current() const {
  std::lock_guard lock(mutex_);
  for (const auto& k : keys_.keys) {
    if (k.kid == keys_.current) return {k.kid, k.key};
  }
  return {};  // unreachable: ReadSigningKeyFile checks the current kid is present
}

std::string SigningKeys::JwksJson() const {
  std::lock_guard lock(mutex_);
  return jwks_;
}

Result<security::KeyPtr> SigningKeys::Resolve(std::string_view kid) {
  std::lock_guard lock(mutex_);
  const WallTime now = clock_.WallNow();
  for (const auto& k : keys_.keys) {
    if (k.kid == kid && Published(k, keys_.current, now, keep_retired_)) return k.key;
  }
  return Error{ErrorCode::kUnauthenticated, "unknown key id"};
}

}  // namespace mercato::identity::app
