#include "app/pii.hpp"

#include <boost/json.hpp>

#include <system_error>
#include "mercato/security/secrets.hpp"

namespace mercato::identity::app {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string Where(std::string_view stream_id, std::string_view type, std::string_view field) {
  std::string where = "identity.events:";
  where.append(stream_id).append(":").append(type).append(".").append(field);
  return where;
}

// The field of `type` that holds personal data, or empty when the type has none.
std::string_view PersonalField(std::string_view type) {
  if (type == "UserRegistered" || type == "EmailChanged") return "email";
  if (type == "PhoneChanged") return "phone";
  if (type == "AddressAdded") return "address";
  return {};
}

}  // namespace

PiiVault::PiiVault(fs::path secrets_dir, security::Keyring keyring, std::string loaded_digest)
    : secrets_dir_(std::move(secrets_dir)),
      keyring_(std::make_shared<const security::Keyring>(std::move(keyring))),
      loaded_digest_(std::move(loaded_digest)) {}

Result<std::unique_ptr<PiiVault>> PiiVault::Open(const fs::path& secrets_dir) {
  std::error_code ec;
  if (!fs::exists(secrets_dir, ec)) {
    fs::create_directories(secrets_dir, ec);
    if (ec)
      return Error{ErrorCode::kUnavailable,
                   "cannot create " + secrets_dir.string() + ": " + ec.message()};
    fs::permissions(secrets_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  auto keyring = security::Keyring::LoadOrCreate(secrets_dir);
  if (!keyring) return keyring.error();
  auto digest = security::SecretFileDigest(secrets_dir / security::Keyring::kFileName);
  return std::unique_ptr<PiiVault>(
      new PiiVault(secrets_dir, std::move(*keyring), std::move(digest)));
}

Result<bool> PiiVault::ReloadIfChanged() {
  auto digest = security::SecretFileDigest(secrets_dir_ / security::Keyring::kFileName);
  {
    std::lock_guard lock(mutex_);
    if (digest == loaded_digest_) return false;
  }
  auto keyring = security::Keyring::LoadOrCreate(secrets_dir_);
  if (!keyring) return keyring.error();
  auto fresh = std::make_shared<const security::Keyring>(std::move(*keyring));
  std::lock_guard lock(mutex_);
  keyring_ = std::move(fresh);
  loaded_digest_ = std::move(digest);
  return true;
}

std::shared_ptr<const security::Keyring> PiiVault::Keyring() const {
  std::lock_guard lock(mutex_);
  return keyring_;
}

std::uint8_t PiiVault::CurrentKeyId() const { return Keyring()->CurrentKeyId(); }

Result<std::string> PiiVault::Seal(std::string_view plaintext, std::string_view where) const {
  auto keyring = Keyring();
  return security::FieldCipher(*keyring).Encrypt(plaintext, where);
}

Result<security::DecryptedField> PiiVault::Open(std::string_view sealed,
                                                std::string_view where) const {
  auto keyring = Keyring();
  return security::FieldCipher(*keyring).Decrypt(sealed, where);
}

Result<std::string> PiiVault::EmailIndex(std::string_view normalized_email) const {
  auto keyring = Keyring();
  return security::BlindIndex(*keyring, "email:" + std::string(normalized_email));
}

Result<std::string> PiiVault::ThrottleKey(std::string_view normalized_email) const {
  auto keyring = Keyring();
  return security::BlindIndex(*keyring, "login-throttle:" + std::string(normalized_email));
}

Result<json::value> SealEventData(const PiiVault& vault, std::string_view stream_id,
                                  std::string_view type, const json::value& data) {
  auto field = PersonalField(type);
  if (field.empty()) return data;
  const auto* object = data.if_object();
  const json::value* value = object ? object->if_contains(field) : nullptr;
  if (!value)
    return Error{ErrorCode::kInternal, std::string(type) + " without its " + std::string(field)};
  std::string plaintext;
  if (value->is_string()) {
    plaintext = std::string(value->as_string());
    if (plaintext.empty()) return data;  // PhoneChanged "" removes the phone: nothing to hide
  } else {
    plaintext = json::serialize(*value);  // the address object
  }
  auto sealed = vault.Seal(plaintext, Where(stream_id, type, field));
  if (!sealed) return sealed.error();
  json::object out = *object;
  out[field] = *sealed;
  return json::value(std::move(out));
}

Result<json::value> OpenEventData(const PiiVault& vault, std::string_view stream_id,
                                  std::string_view type, const json::value& data) {
  auto field = PersonalField(type);
  if (field.empty()) return data;
  const auto* object = data.if_object();
  const json::value* value = object ? object->if_contains(field) : nullptr;
  if (!value || !value->is_string()) {
    return Error{ErrorCode::kInternal,
                 "stored " + std::string(type) + " has no sealed " + std::string(field)};
  }
  if (value->as_string().empty()) return data;
  auto opened = vault.Open(value->as_string(), Where(stream_id, type, field));
  if (!opened) {
    return Error{ErrorCode::kInternal, "cannot decrypt " + std::string(type) + "." +
                                           std::string(field) + ": " + opened.error().message};
  }
  json::object out = *object;
  if (type == "AddressAdded") {
    std::error_code ec;
    auto address = json::parse(opened->plaintext, ec);
    if (ec) return Error{ErrorCode::kInternal, "decrypted AddressAdded.address is not JSON"};
    out[field] = std::move(address);
  } else {
    out[field] = opened->plaintext;
  }
  return json::value(std::move(out));
}

Result<json::value> SealSnapshot(const PiiVault& vault, std::string_view stream_id,
                                 const json::value& state) {
  auto sealed = vault.Seal(json::serialize(state), "identity.snapshots:" + std::string(stream_id));
  if (!sealed) return sealed.error();
  return json::value(json::object{{"sealed", *sealed}});
}

Result<json::value> OpenSnapshot(const PiiVault& vault, std::string_view stream_id,
                                 const json::value& sealed) {
  const auto* object = sealed.if_object();
  const json::value* text = object ? object->if_contains("sealed") : nullptr;
  if (!text || !text->is_string()) return Error{ErrorCode::kInternal, "snapshot is not sealed"};
  auto opened = vault.Open(text->as_string(), "identity.snapshots:" + std::string(stream_id));
  if (!opened)
    return Error{ErrorCode::kInternal, "cannot decrypt snapshot: " + opened.error().message};
  std::error_code ec;
  auto state = json::parse(opened->plaintext, ec);
  if (ec) return Error{ErrorCode::kInternal, "decrypted snapshot is not JSON"};
  return state;
}

}  // namespace mercato::identity::app
