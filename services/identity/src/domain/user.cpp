#include "domain/user.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace mercato::identity::domain {
namespace json = boost::json;

namespace {

constexpr std::int64_t kSnapshotSchema = 1;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}
char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpperAscii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool HasControl(std::string_view text) { return std::any_of(text.begin(), text.end(), IsControl); }

// Lengths people see are in characters, not bytes: count UTF-8 lead bytes.
std::size_t CodePoints(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

Error Invalid(std::string message, std::string field) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

Error Broken(std::string message) { return Error{ErrorCode::kInternal, std::move(message)}; }

Result<std::string> ParseName(std::string_view name) {
  const auto trimmed = Trim(name);
  if (trimmed.empty()) return Invalid("name is required", "name");
  if (CodePoints(trimmed) > kMaxNameLength) return Invalid("name is longer than 100 characters", "name");
  if (HasControl(trimmed)) return Invalid("name contains control characters", "name");
  return std::string(trimmed);
}

Result<std::string> ParsePhone(std::string_view phone) {
  const auto trimmed = Trim(phone);
  if (trimmed.empty()) return std::string();
  const auto digits = trimmed.substr(1);
  const bool e164 = trimmed.front() == '+' && digits.size() >= 8 && digits.size() <= 15 &&
                    std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!e164) return Invalid("phone must be E.164: + and 8-15 digits", "phone");
  return std::string(trimmed);
}

// Checks one text field of an address: trims it, then enforces required-ness and length.
Result<std::string> AddressField(std::string_view value, std::string_view prefix, std::string_view name,
                                 bool required, std::size_t max_length) {
  const std::string field = std::string(prefix) + std::string(name);
  const auto trimmed = Trim(value);
  if (required && trimmed.empty()) return Invalid(field + " is required", field);
  if (CodePoints(trimmed) > max_length) {
    return Invalid(field + " is longer than " + std::to_string(max_length) + " characters", field);
  }
  if (HasControl(trimmed)) return Invalid(field + " contains control characters", field);
  return std::string(trimmed);
}

Result<Address> ParseAddress(const Address& input, std::string_view prefix) {
  struct Rule {
    std::string Address::*member;
    std::string_view name;
    bool required;
    std::size_t max_length;
  };
  static constexpr std::array<Rule, 6> kRules = {{
      {&Address::id, "id", true, 64},
      {&Address::label, "label", false, 50},
      {&Address::line1, "line1", true, 200},
      {&Address::line2, "line2", false, 200},
      {&Address::city, "city", true, 100},
      {&Address::postal_code, "postal_code", false, 16},
  }};
  Address address;
  for (const auto& rule : kRules) {
    auto value = AddressField(input.*rule.member, prefix, rule.name, rule.required, rule.max_length);
    if (!value) return std::move(value).error();
    address.*rule.member = std::move(*value);
  }
  // Only the shape is checked (two letters): keeping the ISO 3166 table current is not the
  // domain's job, and a wrong-but-well-formed code fails at shipping, where it is visible.
  const std::string field = std::string(prefix) + "country";
  const auto country = Trim(input.country);
  if (country.size() != 2 ||
      !std::all_of(country.begin(), country.end(), [](char c) {
        const char upper = ToUpperAscii(c);
        return upper >= 'A' && upper <= 'Z';
      })) {
    return Invalid("country must be an ISO 3166-1 alpha-2 code", field);
  }
  address.country = {ToUpperAscii(country[0]), ToUpperAscii(country[1])};
  return address;
}

Result<std::set<Role>> ParseUserRoles(const std::vector<std::string>& names) {
  if (names.empty()) return Invalid("at least one role is required", "roles");
  std::set<Role> roles;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string field = "roles[" + std::to_string(i) + "]";
    auto role = ParseRole(names[i]);
    if (!role) return Invalid("unknown role \"" + names[i] + "\"", field);
    if (*role == Role::kService) return Invalid("the service role is for service tokens only", field);
    roles.insert(*role);
  }
  return roles;
}

UserEvents One(UserEvent event) {
  UserEvents events;
  events.push_back(std::move(event));
  return events;
}

std::int64_t ToNanos(WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
WallTime FromNanos(std::int64_t nanos) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos)));
}

}  // namespace

std::string NormalizeEmail(std::string_view email) {
  std::string normalized(Trim(email));
  std::transform(normalized.begin(), normalized.end(), normalized.begin(), ToLowerAscii);
  return normalized;
}

Result<std::string> ParseEmail(std::string_view email) {
  std::string normalized = NormalizeEmail(email);
  auto invalid = [](std::string message) { return Invalid(std::move(message), "email"); };
  if (normalized.empty()) return invalid("email is required");
  if (normalized.size() > kMaxEmailLength) return invalid("email is longer than 254 characters");
  const auto at = normalized.find('@');
  if (at == std::string::npos || normalized.find('@', at + 1) != std::string::npos) {
    return invalid("email must contain exactly one @");
  }
  const std::string_view local = std::string_view(normalized).substr(0, at);
  const std::string_view domain = std::string_view(normalized).substr(at + 1);
  if (local.empty() || domain.empty()) return invalid("email needs a local part and a domain");
  // A dot strictly inside the domain: "a@.io" and "a@io." are typos, not addresses.
  const auto dot = domain.find('.');
  if (dot == std::string_view::npos || domain.front() == '.' || domain.back() == '.') {
    return invalid("email domain must contain a dot");
  }
  if (std::any_of(normalized.begin(), normalized.end(), [](char c) { return IsSpace(c) || IsControl(c); })) {
    return invalid("email must not contain spaces or control characters");
  }
  return normalized;
}

// --- Commands -------------------------------------------------------------------------------

Result<UserEvents> Register(std::string_view id, std::string_view email, std::string_view name,
                            std::string_view password_hash, WallTime now) {
  if (Trim(id).empty()) return Invalid("id is required", "id");
  auto parsed_email = ParseEmail(email);
  if (!parsed_email) return std::move(parsed_email).error();
  auto parsed_name = ParseName(name);
  if (!parsed_name) return std::move(parsed_name).error();
  if (password_hash.empty()) return Invalid("password_hash is required", "password_hash");
  return One(MakeEvent(UserRegistered{std::string(Trim(id)), std::move(*parsed_email),
                                      std::move(*parsed_name), std::string(password_hash)},
                       now));
}

Result<void> User::RequireRegistered() const {
  if (!registered()) return Error{ErrorCode::kFailedPrecondition, "user is not registered"};
  return Ok();
}

Result<UserEvents> User::ChangeEmail(std::string_view email, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  auto parsed = ParseEmail(email);
  if (!parsed) return std::move(parsed).error();
  if (*parsed == email_) return UserEvents{};
  return One(MakeEvent(EmailChanged{std::move(*parsed)}, now));
}

Result<UserEvents> User::ChangeName(std::string_view name, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  auto parsed = ParseName(name);
  if (!parsed) return std::move(parsed).error();
  if (*parsed == name_) return UserEvents{};
  return One(MakeEvent(NameChanged{std::move(*parsed)}, now));
}

Result<UserEvents> User::ChangePhone(std::string_view phone, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  auto parsed = ParsePhone(phone);
  if (!parsed) return std::move(parsed).error();
  if (*parsed == phone_) return UserEvents{};
  return One(MakeEvent(PhoneChanged{std::move(*parsed)}, now));
}

Result<UserEvents> User::AddAddress(const Address& address, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  const std::string prefix = "addresses[" + std::to_string(addresses_.size()) + "].";
  auto parsed = ParseAddress(address, prefix);
  if (!parsed) return std::move(parsed).error();
  const auto existing = std::find_if(addresses_.begin(), addresses_.end(),
                                     [&](const Address& a) { return a.id == parsed->id; });
  if (existing != addresses_.end()) {
    if (*existing == *parsed) return UserEvents{};
    return Error{ErrorCode::kAlreadyExists, "address " + parsed->id + " exists", prefix + "id"};
  }
  // failed_precondition rather than resource_exhausted: waiting does not help, removing one does.
  if (addresses_.size() >= kMaxAddresses) {
    return Error{ErrorCode::kFailedPrecondition, "at most 10 addresses", "addresses"};
  }
  return One(MakeEvent(AddressAdded{std::move(*parsed)}, now));
}

Result<UserEvents> User::RemoveAddress(std::string_view address_id, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  const bool present = std::any_of(addresses_.begin(), addresses_.end(),
                                   [&](const Address& a) { return a.id == address_id; });
  if (!present) {
    return Error{ErrorCode::kNotFound, "no address " + std::string(address_id), "address_id"};
  }
  return One(MakeEvent(AddressRemoved{std::string(address_id)}, now));
}

Result<UserEvents> User::ChangePreferences(const json::value& preferences, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  if (!preferences.is_object()) return Invalid("preferences must be a JSON object", "preferences");
  if (json::serialize(preferences).size() > kMaxPreferencesBytes) {
    return Invalid("preferences are larger than 4 KiB", "preferences");
  }
  if (preferences.get_object() == preferences_) return UserEvents{};
  return One(MakeEvent(PreferencesChanged{preferences.get_object()}, now));
}

Result<UserEvents> User::ChangeRoles(const std::vector<std::string>& roles, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  auto parsed = ParseUserRoles(roles);
  if (!parsed) return std::move(parsed).error();
  if (*parsed == roles_) return UserEvents{};
  return One(MakeEvent(RolesChanged{std::move(*parsed)}, now));
}

Result<UserEvents> User::Activate(WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  if (active_) return Error{ErrorCode::kFailedPrecondition, "user is already active"};
  return One(MakeEvent(UserActivated{}, now));
}

Result<UserEvents> User::Deactivate(WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  if (!active_) return Error{ErrorCode::kFailedPrecondition, "user is already inactive"};
  return One(MakeEvent(UserDeactivated{}, now));
}

Result<UserEvents> User::ChangePassword(std::string_view new_hash, WallTime now) const {
  if (auto ok = RequireRegistered(); !ok) return std::move(ok).error();
  if (new_hash.empty()) return Invalid("password_hash is required", "password_hash");
  if (new_hash == password_hash_) return UserEvents{};
  return One(MakeEvent(PasswordChanged{std::string(new_hash)}, now));
}

// --- Apply ----------------------------------------------------------------------------------
// Apply re-checks only what the state itself depends on (stream shape, address ids, the
// active flag), never the command rules: history written under older rules must still replay.

template <class Payload>
Result<void> User::ApplyAs(const UserEvent& event) {
  auto payload = FromJson<Payload>(event.data);
  if (!payload) return std::move(payload).error();
  if constexpr (std::is_same_v<Payload, UserRegistered>) {
    if (registered()) return Broken("UserRegistered after the stream started");
  } else {
    if (!registered()) return Broken(std::string(Payload::kType) + " before UserRegistered");
  }
  // Handlers check before they mutate, so a rejected event leaves the state as it was.
  if (auto applied = On(*payload, event.at); !applied) return applied;
  updated_at_ = event.at;
  ++version_;
  return Ok();
}

Result<void> User::Apply(const UserEvent& event) {
  using Handler = Result<void> (User::*)(const UserEvent&);
  static constexpr std::array<std::pair<std::string_view, Handler>, 11> kHandlers = {{
      {UserRegistered::kType, &User::ApplyAs<UserRegistered>},
      {EmailChanged::kType, &User::ApplyAs<EmailChanged>},
      {NameChanged::kType, &User::ApplyAs<NameChanged>},
      {PhoneChanged::kType, &User::ApplyAs<PhoneChanged>},
      {AddressAdded::kType, &User::ApplyAs<AddressAdded>},
      {AddressRemoved::kType, &User::ApplyAs<AddressRemoved>},
      {PreferencesChanged::kType, &User::ApplyAs<PreferencesChanged>},
      {RolesChanged::kType, &User::ApplyAs<RolesChanged>},
      {UserActivated::kType, &User::ApplyAs<UserActivated>},
      {UserDeactivated::kType, &User::ApplyAs<UserDeactivated>},
      {PasswordChanged::kType, &User::ApplyAs<PasswordChanged>},
  }};
  for (const auto& [type, handler] : kHandlers) {
    if (type == event.type) return (this->*handler)(event);
  }
  return Broken("unknown event type \"" + event.type + "\"");
}

Result<void> User::On(const UserRegistered& e, WallTime at) {
  if (e.user_id.empty()) return Broken("UserRegistered without a user id");
  id_ = e.user_id;
  email_ = e.email;
  name_ = e.name;
  password_hash_ = e.password_hash;
  roles_ = {Role::kCustomer};
  active_ = true;
  created_at_ = at;
  return Ok();
}

Result<void> User::On(const EmailChanged& e, WallTime) {
  email_ = e.email;
  return Ok();
}

Result<void> User::On(const NameChanged& e, WallTime) {
  name_ = e.name;
  return Ok();
}

Result<void> User::On(const PhoneChanged& e, WallTime) {
  phone_ = e.phone;
  return Ok();
}

Result<void> User::On(const AddressAdded& e, WallTime) {
  const bool duplicate = std::any_of(addresses_.begin(), addresses_.end(),
                                     [&](const Address& a) { return a.id == e.address.id; });
  if (duplicate) return Broken("AddressAdded with a duplicate id " + e.address.id);
  addresses_.push_back(e.address);
  return Ok();
}

Result<void> User::On(const AddressRemoved& e, WallTime) {
  const auto it = std::find_if(addresses_.begin(), addresses_.end(),
                               [&](const Address& a) { return a.id == e.address_id; });
  if (it == addresses_.end()) return Broken("AddressRemoved for unknown address " + e.address_id);
  addresses_.erase(it);
  return Ok();
}

Result<void> User::On(const PreferencesChanged& e, WallTime) {
  preferences_ = e.preferences;
  return Ok();
}

Result<void> User::On(const RolesChanged& e, WallTime) {
  if (e.roles.empty()) return Broken("RolesChanged to no roles");
  roles_ = e.roles;
  return Ok();
}

Result<void> User::On(const UserActivated&, WallTime) {
  if (active_) return Broken("UserActivated on an active user");
  active_ = true;
  return Ok();
}

Result<void> User::On(const UserDeactivated&, WallTime) {
  if (!active_) return Broken("UserDeactivated on an inactive user");
  active_ = false;
  return Ok();
}

Result<void> User::On(const PasswordChanged& e, WallTime) {
  password_hash_ = e.password_hash;
  return Ok();
}

// --- Replay ---------------------------------------------------------------------------------

Result<User> Rehydrate(User from, const UserEvents& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (auto applied = from.Apply(events[i]); !applied) {
      Error error = std::move(applied).error();
      error.message = "event " + std::to_string(from.version() + 1) + ": " + error.message;
      return error;
    }
  }
  return from;
}

Result<User> Rehydrate(const UserEvents& events) { return Rehydrate(User{}, events); }

User Replay(const UserEvents& events) {
  auto user = Rehydrate(events);
  if (!user) throw std::logic_error("broken user stream: " + user.error().message);
  return std::move(*user);
}

Result<User> ReplayUntil(const UserEvents& events, WallTime as_of) {
  User user;
  for (const auto& event : events) {
    if (event.at > as_of) break;
    if (auto applied = user.Apply(event); !applied) return std::move(applied).error();
  }
  if (!user.registered()) return Error{ErrorCode::kNotFound, "user did not exist at that time"};
  return user;
}

// --- Snapshots ------------------------------------------------------------------------------

json::value ToSnapshot(const User& user) {
  json::array addresses;
  for (const auto& address : user.addresses()) addresses.push_back(ToJson(address));
  json::array roles;
  for (Role role : user.roles()) roles.emplace_back(ToString(role));
  return json::object{
      {"schema", kSnapshotSchema},
      {"id", user.id()},
      {"email", user.email()},
      {"name", user.name()},
      {"phone", user.phone()},
      {"addresses", std::move(addresses)},
      {"preferences", user.preferences()},
      {"roles", std::move(roles)},
      {"active", user.active()},
      {"password_hash", user.password_hash()},
      {"created_at_ns", ToNanos(user.created_at())},
      {"updated_at_ns", ToNanos(user.updated_at())},
      {"version", user.version()},
  };
}

Result<User> FromSnapshot(const json::value& snapshot) {
  const auto* object = snapshot.if_object();
  if (object == nullptr) return Broken("snapshot is not an object");
  auto string_at = [&](std::string_view key, std::string& out) {
    const auto* value = object->if_contains(key);
    if (value == nullptr || !value->is_string()) return false;
    out = std::string(value->get_string());
    return true;
  };
  auto int_at = [&](std::string_view key, std::int64_t& out) {
    const auto* value = object->if_contains(key);
    if (value == nullptr || !value->is_int64()) return false;
    out = value->get_int64();
    return true;
  };

  std::int64_t schema = 0;
  if (!int_at("schema", schema) || schema != kSnapshotSchema) return Broken("unknown snapshot schema");

  User user;
  std::int64_t created = 0;
  std::int64_t updated = 0;
  const auto* active = object->if_contains("active");
  const auto* preferences = object->if_contains("preferences");
  const auto* addresses = object->if_contains("addresses");
  const auto* roles = object->if_contains("roles");
  const bool shaped = string_at("id", user.id_) && string_at("email", user.email_) &&
                      string_at("name", user.name_) && string_at("phone", user.phone_) &&
                      string_at("password_hash", user.password_hash_) &&
                      int_at("created_at_ns", created) && int_at("updated_at_ns", updated) &&
                      int_at("version", user.version_) && active != nullptr && active->is_bool() &&
                      preferences != nullptr && preferences->is_object() && addresses != nullptr &&
                      addresses->is_array() && roles != nullptr && roles->is_array();
  if (!shaped) return Broken("snapshot is missing fields");
  if (user.version_ < 1 || user.id_.empty()) return Broken("snapshot of an unregistered user");

  user.active_ = active->get_bool();
  user.preferences_ = preferences->get_object();
  user.created_at_ = FromNanos(created);
  user.updated_at_ = FromNanos(updated);
  for (const auto& address_json : addresses->get_array()) {
    auto address = AddressFromJson(address_json);
    if (!address) return std::move(address).error();
    user.addresses_.push_back(std::move(*address));
  }
  for (const auto& role : roles->get_array()) {
    if (!role.is_string()) return Broken("snapshot role is not a string");
    auto parsed = ParseRole(role.get_string());
    if (!parsed) return Broken("snapshot has an unknown role");
    user.roles_.insert(*parsed);
  }
  return user;
}

}  // namespace mercato::identity::domain
