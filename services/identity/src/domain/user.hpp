// The event-sourced User aggregate. Commands decide and validate, then return the events to
// append (no I/O, no clock: `now` is passed in); Apply folds one stored event into the state.
//
//   auto events = Register("u1", "Ada@Example.com", "Ada", hash, now);   // Result<vector<UserEvent>>
//   User user = Replay(*events);
//   auto renamed = user.ChangeName("Ada Lovelace", later);               // [NameChanged] or []
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "domain/user_events.hpp"
#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"

namespace mercato::identity::domain {

inline constexpr std::size_t kMaxEmailLength = 254;
inline constexpr std::size_t kMaxNameLength = 100;  // code points, after trimming
inline constexpr std::size_t kMaxAddresses = 10;
inline constexpr std::size_t kMaxPreferencesBytes = 4096;  // serialised JSON
// The storage layer snapshots after every kSnapshotEvery events (see SnapshotDue).
inline constexpr std::int64_t kSnapshotEvery = 50;

// Trims ASCII whitespace and lower-cases the whole address, local part included. RFC 5321 lets
// the local part be case-sensitive, but no mainstream provider treats it so, and keeping
// "Ada@x.io" and "ada@x.io" apart would allow two accounts for one mailbox and split the blind
// index. Provider tricks (dots, "+tag") are kept: they are not universal.
std::string NormalizeEmail(std::string_view email);
// NormalizeEmail, then validates: one '@', non-empty parts, a dot inside the domain, no spaces
// or control characters, at most 254 characters. invalid_argument with field "email".
Result<std::string> ParseEmail(std::string_view email);

using UserEvents = std::vector<UserEvent>;

class User {
 public:
  User() = default;

  // Folds one event in. A malformed event, an unknown type or a stream that breaks the aggregate's
  // invariants (anything before UserRegistered, a second UserRegistered, removing an address that
  // is not there) is `internal`: stored history is never the caller's fault. On error the state
  // is unchanged.
  Result<void> Apply(const UserEvent& event);

  // Commands. Each validates its input against the current state and returns the events that
  // record the change; an empty vector when nothing would change (a retry is harmless).
  // All require a registered user (failed_precondition otherwise).
  Result<UserEvents> ChangeEmail(std::string_view email, WallTime now) const;
  Result<UserEvents> ChangeName(std::string_view name, WallTime now) const;
  // E.164 ("+" then 8-15 digits); an empty phone removes the number.
  Result<UserEvents> ChangePhone(std::string_view phone, WallTime now) const;
  // The address id must be new; re-adding an identical address is a no-op.
  Result<UserEvents> AddAddress(const Address& address, WallTime now) const;
  Result<UserEvents> RemoveAddress(std::string_view address_id, WallTime now) const;
  // Replaces the whole preferences document; it must be an object of at most 4 KiB.
  Result<UserEvents> ChangePreferences(const boost::json::value& preferences, WallTime now) const;
  // Role names from customer, support, admin; at least one. "service" is for service tokens only.
  Result<UserEvents> ChangeRoles(const std::vector<std::string>& roles, WallTime now) const;
  // Unlike the other commands these fail (failed_precondition) when already in the state asked
  // for: the admin endpoints answer 409 so a stale admin screen is noticed.
  Result<UserEvents> Activate(WallTime now) const;
  Result<UserEvents> Deactivate(WallTime now) const;
  Result<UserEvents> ChangePassword(std::string_view new_hash, WallTime now) const;

  const std::string& id() const { return id_; }
  const std::string& email() const { return email_; }
  const std::string& name() const { return name_; }
  const std::string& phone() const { return phone_; }
  const std::vector<Address>& addresses() const { return addresses_; }
  const boost::json::object& preferences() const { return preferences_; }
  const std::set<Role>& roles() const { return roles_; }
  bool active() const { return active_; }
  const std::string& password_hash() const { return password_hash_; }
  WallTime created_at() const { return created_at_; }
  WallTime updated_at() const { return updated_at_; }
  // Number of events applied: the stream version the next append must expect.
  std::int64_t version() const { return version_; }
  bool registered() const { return version_ > 0; }

  bool operator==(const User&) const = default;

 private:
  friend Result<User> FromSnapshot(const boost::json::value& snapshot);

  template <class Payload>
  Result<void> ApplyAs(const UserEvent& event);
  Result<void> On(const UserRegistered& e, WallTime at);
  Result<void> On(const EmailChanged& e, WallTime at);
  Result<void> On(const NameChanged& e, WallTime at);
  Result<void> On(const PhoneChanged& e, WallTime at);
  Result<void> On(const AddressAdded& e, WallTime at);
  Result<void> On(const AddressRemoved& e, WallTime at);
  Result<void> On(const PreferencesChanged& e, WallTime at);
  Result<void> On(const RolesChanged& e, WallTime at);
  Result<void> On(const UserActivated& e, WallTime at);
  Result<void> On(const UserDeactivated& e, WallTime at);
  Result<void> On(const PasswordChanged& e, WallTime at);

  Result<void> RequireRegistered() const;

  std::string id_;
  std::string email_;
  std::string name_;
  std::string phone_;
  std::vector<Address> addresses_;
  boost::json::object preferences_;
  std::set<Role> roles_;
  bool active_ = false;
  std::string password_hash_;
  WallTime created_at_{};
  WallTime updated_at_{};
  std::int64_t version_ = 0;
};

// Starts a stream: [UserRegistered] for a new active customer. invalid_argument with the field
// ("id", "email", "name", "password_hash") when the input is wrong.
Result<UserEvents> Register(std::string_view id, std::string_view email, std::string_view name,
                            std::string_view password_hash, WallTime now);

// Rebuilds a user from the whole stream (or continues from `from`, e.g. a snapshot).
Result<User> Rehydrate(const UserEvents& events);
Result<User> Rehydrate(User from, const UserEvents& events);
// Rehydrate for trusted history (tests, tools): a broken stream is a bug, so it throws
// std::logic_error instead of returning an error.
User Replay(const UserEvents& events);
// The user as they were at `as_of`: the events up to the first one after `as_of` (a stream is
// append-only and ordered by version, so a later event is never skipped over to apply an even
// later one). not_found when the user did not exist yet.
Result<User> ReplayUntil(const UserEvents& events, WallTime as_of);

// Full state, version included, for the snapshot table. Times are integer nanoseconds since the
// Unix epoch so the round trip is exact (RFC 3339 in Mercato keeps milliseconds only).
boost::json::value ToSnapshot(const User& user);
// internal when the snapshot is malformed or of an unknown schema: the caller replays instead.
Result<User> FromSnapshot(const boost::json::value& snapshot);
// True when a snapshot should be written after the stream reached `version`.
constexpr bool SnapshotDue(std::int64_t version, std::int64_t every = kSnapshotEvery) {
  return every > 0 && version > 0 && version % every == 0;
}

}  // namespace mercato::identity::domain
