// The facts of the event-sourced User aggregate: one payload struct per event type, the generic
// UserEvent the event store persists, and the JSON mapping of each payload.
//
//   UserEvent e = MakeEvent(NameChanged{"Ada Lovelace"}, now);   // e.type == "NameChanged"
//   auto payload = FromJson<NameChanged>(e.data);                // Result<NameChanged>
#pragma once

#include <boost/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"

namespace mercato::identity::domain {

// kService is never assigned to a user: it exists for tokens from the client-credentials grant.
enum class Role { kCustomer, kSupport, kAdmin, kService };

std::string_view ToString(Role role);
// "customer" -> kCustomer; anything else is invalid_argument.
Result<Role> ParseRole(std::string_view name);

struct Address {
  std::string id;  // chosen by the caller (the app layer owns id generation, the domain has no RNG)
  std::string label;  // "home", "work"; optional
  std::string line1;
  std::string line2;  // optional
  std::string city;
  std::string postal_code;  // optional: not every country has postal codes
  std::string country;  // ISO 3166-1 alpha-2, upper case

  bool operator==(const Address&) const = default;
};

// One stored event. `data` is the payload as JSON so the store need not know the payload types.
struct UserEvent {
  std::string type;
  boost::json::value data;
  WallTime at;

  bool operator==(const UserEvent&) const = default;
};

struct UserRegistered {
  static constexpr std::string_view kType = "UserRegistered";
  std::string user_id;
  std::string email;
  std::string name;
  std::string password_hash;
};
struct EmailChanged {
  static constexpr std::string_view kType = "EmailChanged";
  std::string email;
};
struct NameChanged {
  static constexpr std::string_view kType = "NameChanged";
  std::string name;
};
struct PhoneChanged {
  static constexpr std::string_view kType = "PhoneChanged";
  std::string phone;  // empty: the phone number was removed
};
struct AddressAdded {
  static constexpr std::string_view kType = "AddressAdded";
  Address address;
};
struct AddressRemoved {
  static constexpr std::string_view kType = "AddressRemoved";
  std::string address_id;
};
struct PreferencesChanged {
  static constexpr std::string_view kType = "PreferencesChanged";
  boost::json::object preferences;  // the whole new document, not a patch: replay stays trivial
};
struct RolesChanged {
  static constexpr std::string_view kType = "RolesChanged";
  std::set<Role> roles;
};
struct UserActivated {
  static constexpr std::string_view kType = "UserActivated";
};
struct UserDeactivated {
  static constexpr std::string_view kType = "UserDeactivated";
};
struct PasswordChanged {
  static constexpr std::string_view kType = "PasswordChanged";
  std::string password_hash;  // opaque PHC string; the domain never hashes
};

boost::json::value ToJson(const Address& address);
Result<Address> AddressFromJson(const boost::json::value& json);

boost::json::value ToJson(const UserRegistered& e);
boost::json::value ToJson(const EmailChanged& e);
boost::json::value ToJson(const NameChanged& e);
boost::json::value ToJson(const PhoneChanged& e);
boost::json::value ToJson(const AddressAdded& e);
boost::json::value ToJson(const AddressRemoved& e);
boost::json::value ToJson(const PreferencesChanged& e);
boost::json::value ToJson(const RolesChanged& e);
boost::json::value ToJson(const UserActivated& e);
boost::json::value ToJson(const UserDeactivated& e);
boost::json::value ToJson(const PasswordChanged& e);

// Parses an event's data. Stored data that does not parse is corruption or a bug, never the
// caller's fault, so failures are `internal`.
template <class Payload>
Result<Payload> FromJson(const boost::json::value& data);

template <> Result<UserRegistered> FromJson<UserRegistered>(const boost::json::value& data);
template <> Result<EmailChanged> FromJson<EmailChanged>(const boost::json::value& data);
template <> Result<NameChanged> FromJson<NameChanged>(const boost::json::value& data);
template <> Result<PhoneChanged> FromJson<PhoneChanged>(const boost::json::value& data);
template <> Result<AddressAdded> FromJson<AddressAdded>(const boost::json::value& data);
template <> Result<AddressRemoved> FromJson<AddressRemoved>(const boost::json::value& data);
template <> Result<PreferencesChanged> FromJson<PreferencesChanged>(const boost::json::value& data);
template <> Result<RolesChanged> FromJson<RolesChanged>(const boost::json::value& data);
template <> Result<UserActivated> FromJson<UserActivated>(const boost::json::value& data);
template <> Result<UserDeactivated> FromJson<UserDeactivated>(const boost::json::value& data);
template <> Result<PasswordChanged> FromJson<PasswordChanged>(const boost::json::value& data);

template <class Payload>
UserEvent MakeEvent(const Payload& payload, WallTime at) {
  return UserEvent{std::string(Payload::kType), ToJson(payload), at};
}

}  // namespace mercato::identity::domain
