#include "domain/user_events.hpp"

#include <array>
#include <utility>

namespace mercato::identity::domain {
namespace json = boost::json;

namespace {

constexpr std::array<std::pair<Role, std::string_view>, 4> kRoleNames = {{
    {Role::kCustomer, "customer"},
    {Role::kSupport, "support"},
    {Role::kAdmin, "admin"},
    {Role::kService, "service"},
}};

Error Corrupt(std::string_view type, std::string_view what) {
  return Error{ErrorCode::kInternal,
               std::string(type) + " data: " + std::string(what)};
}

Result<const json::object*> AsObject(std::string_view type, const json::value& data) {
  const auto* object = data.if_object();
  if (object == nullptr) return Corrupt(type, "not an object");
  return object;
}

Result<std::string> GetString(std::string_view type, const json::object& object,
                              std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return Corrupt(type, "missing string \"" + std::string(key) + "\"");
  }
  return std::string(value->get_string());
}

// Reads one string field of `type`'s payload into `out`, or returns the error from the caller.
#define MERCATO_READ_STRING(type, object, key, out)     \
  do {                                                  \
    auto read_ = GetString((type), (object), (key));    \
    if (!read_) return std::move(read_).error();        \
    (out) = std::move(*read_);                          \
  } while (false)

template <class Payload>
Result<Payload> SingleString(const json::value& data, std::string_view key,
                             std::string Payload::*member) {
  auto object = AsObject(Payload::kType, data);
  if (!object) return std::move(object).error();
  Payload payload;
  MERCATO_READ_STRING(Payload::kType, **object, key, payload.*member);
  return payload;
}

template <class Payload>
Result<Payload> Empty(const json::value& data) {
  auto object = AsObject(Payload::kType, data);
  if (!object) return std::move(object).error();
  return Payload{};
}

}  // namespace

std::string_view ToString(Role role) {
  for (const auto& [value, name] : kRoleNames) {
    if (value == role) return name;
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view name) {
  for (const auto& [value, known] : kRoleNames) {
    if (known == name) return value;
  }
  return Error{ErrorCode::kInvalidArgument, "unknown role \"" + std::string(name) + "\""};
}

json::value ToJson(const Address& address) {
  return json::object{{"id", address.id},         {"label", address.label},
                      {"line1", address.line1},   {"line2", address.line2},
                      {"city", address.city},     {"postal_code", address.postal_code},
                      {"country", address.country}};
}

Result<Address> AddressFromJson(const json::value& json) {
  constexpr std::string_view kWhat = "Address";
  auto object = AsObject(kWhat, json);
  if (!object) return std::move(object).error();
  Address address;
  MERCATO_READ_STRING(kWhat, **object, "id", address.id);
  MERCATO_READ_STRING(kWhat, **object, "label", address.label);
  MERCATO_READ_STRING(kWhat, **object, "line1", address.line1);
  MERCATO_READ_STRING(kWhat, **object, "line2", address.line2);
  MERCATO_READ_STRING(kWhat, **object, "city", address.city);
  MERCATO_READ_STRING(kWhat, **object, "postal_code", address.postal_code);
  MERCATO_READ_STRING(kWhat, **object, "country", address.country);
  return address;
}

json::value ToJson(const UserRegistered& e) {
  return json::object{{"user_id", e.user_id},
                      {"email", e.email},
                      {"name", e.name},
                      {"password_hash", e.password_hash}};
}
json::value ToJson(const EmailChanged& e) { return json::object{{"email", e.email}}; }
json::value ToJson(const NameChanged& e) { return json::object{{"name", e.name}}; }
json::value ToJson(const PhoneChanged& e) { return json::object{{"phone", e.phone}}; }
json::value ToJson(const AddressAdded& e) { return json::object{{"address", ToJson(e.address)}}; }
json::value ToJson(const AddressRemoved& e) {
  return json::object{{"address_id", e.address_id}};
}
json::value ToJson(const PreferencesChanged& e) {
  return json::object{{"preferences", e.preferences}};
}
json::value ToJson(const RolesChanged& e) {
  json::array roles;
  for (Role role : e.roles) roles.emplace_back(ToString(role));
  return json::object{{"roles", std::move(roles)}};
}
json::value ToJson(const UserActivated&) { return json::object{}; }
json::value ToJson(const UserDeactivated&) { return json::object{}; }
json::value ToJson(const PasswordChanged& e) {
  return json::object{{"password_hash", e.password_hash}};
}

template <>
Result<UserRegistered> FromJson<UserRegistered>(const json::value& data) {
  constexpr auto kType = UserRegistered::kType;
  auto object = AsObject(kType, data);
  if (!object) return std::move(object).error();
  UserRegistered e;
  MERCATO_READ_STRING(kType, **object, "user_id", e.user_id);
  MERCATO_READ_STRING(kType, **object, "email", e.email);
  MERCATO_READ_STRING(kType, **object, "name", e.name);
  MERCATO_READ_STRING(kType, **object, "password_hash", e.password_hash);
  return e;
}

template <>
Result<EmailChanged> FromJson<EmailChanged>(const json::value& data) {
  return SingleString(data, "email", &EmailChanged::email);
}

template <>
Result<NameChanged> FromJson<NameChanged>(const json::value& data) {
  return SingleString(data, "name", &NameChanged::name);
}

template <>
Result<PhoneChanged> FromJson<PhoneChanged>(const json::value& data) {
  return SingleString(data, "phone", &PhoneChanged::phone);
}

template <>
Result<AddressAdded> FromJson<AddressAdded>(const json::value& data) {
  auto object = AsObject(AddressAdded::kType, data);
  if (!object) return std::move(object).error();
  const auto* address_json = (*object)->if_contains("address");
  if (address_json == nullptr) return Corrupt(AddressAdded::kType, "missing \"address\"");
  auto address = AddressFromJson(*address_json);
  if (!address) return std::move(address).error();
  return AddressAdded{std::move(*address)};
}

template <>
Result<AddressRemoved> FromJson<AddressRemoved>(const json::value& data) {
  return SingleString(data, "address_id", &AddressRemoved::address_id);
}

template <>
Result<PreferencesChanged> FromJson<PreferencesChanged>(const json::value& data) {
  auto object = AsObject(PreferencesChanged::kType, data);
  if (!object) return std::move(object).error();
  const auto* preferences = (*object)->if_contains("preferences");
  if (preferences == nullptr || !preferences->is_object()) {
    return Corrupt(PreferencesChanged::kType, "missing object \"preferences\"");
  }
  return PreferencesChanged{preferences->get_object()};
}

template <>
Result<RolesChanged> FromJson<RolesChanged>(const json::value& data) {
  auto object = AsObject(RolesChanged::kType, data);
  if (!object) return std::move(object).error();
  const auto* roles = (*object)->if_contains("roles");
  if (roles == nullptr || !roles->is_array()) {
    return Corrupt(RolesChanged::kType, "missing array \"roles\"");
  }
  RolesChanged e;
  for (const auto& role : roles->get_array()) {
    if (!role.is_string()) return Corrupt(RolesChanged::kType, "role is not a string");
    auto parsed = ParseRole(role.get_string());
    if (!parsed) return Corrupt(RolesChanged::kType, parsed.error().message);
    e.roles.insert(*parsed);
  }
  return e;
}

template <>
Result<UserActivated> FromJson<UserActivated>(const json::value& data) {
  return Empty<UserActivated>(data);
}

template <>
Result<UserDeactivated> FromJson<UserDeactivated>(const json::value& data) {
  return Empty<UserDeactivated>(data);
}

template <>
Result<PasswordChanged> FromJson<PasswordChanged>(const json::value& data) {
  return SingleString(data, "password_hash", &PasswordChanged::password_hash);
}

#undef MERCATO_READ_STRING

}  // namespace mercato::identity::domain
