// Unit tests of the event-sourced User aggregate: commands, Apply, replay, temporal queries and
// snapshots. Pure domain: times are plain WallTime values, no clock, no store.
#include "domain/user.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace mercato::identity::domain {
namespace {

namespace json = boost::json;
using std::chrono::hours;

const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));
WallTime At(int hour) { return kT0 + hours(hour); }

constexpr std::string_view kHash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";

// Applies every event to `user`, failing the test on the first rejected one.
void ApplyAll(User& user, const UserEvents& events) {
  for (const auto& event : events) {
    auto applied = user.Apply(event);
    ASSERT_TRUE(applied) << applied.error().message;
  }
}

// Runs a command result through Apply and appends its events to the history.
void Commit(User& user, UserEvents& history, const Result<UserEvents>& result) {
  ASSERT_TRUE(result) << result.error().message;
  ApplyAll(user, *result);
  history.insert(history.end(), result->begin(), result->end());
}

Address HomeAddress(std::string id = "a1") {
  return Address{std::move(id), "home", "1 Main St", "", "Springfield", "12345", "us"};
}

struct Registered {
  User user;
  UserEvents history;
};

Registered RegisteredUser() {
  Registered r;
  auto events = Register("u1", "  Ada@Example.COM ", "  Ada Lovelace ", kHash, At(0));
  EXPECT_TRUE(events);
  if (events) Commit(r.user, r.history, events);
  return r;
}

void ExpectInvalid(const Result<UserEvents>& result, std::string_view field) {
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().field, field);
}

TEST(User, RegisterEmitsUserRegisteredAndStartsActiveCustomer) {
  auto events = Register("u1", "  Ada@Example.COM ", "  Ada Lovelace ", kHash, At(0));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "UserRegistered");
  EXPECT_EQ((*events)[0].at, At(0));

  User user = Replay(*events);
  EXPECT_EQ(user.id(), "u1");
  EXPECT_EQ(user.email(), "ada@example.com");
  EXPECT_EQ(user.name(), "Ada Lovelace");
  EXPECT_EQ(user.password_hash(), kHash);
  EXPECT_EQ(user.roles(), std::set<Role>{Role::kCustomer});
  EXPECT_TRUE(user.active());
  EXPECT_EQ(user.created_at(), At(0));
  EXPECT_EQ(user.updated_at(), At(0));
  EXPECT_EQ(user.version(), 1);
}

TEST(User, RegisterRejectsBadInputWithTheField) {
  ExpectInvalid(Register("", "a@b.io", "Ada", kHash, At(0)), "id");
  ExpectInvalid(Register("u1", "not-an-email", "Ada", kHash, At(0)), "email");
  ExpectInvalid(Register("u1", "a@b.io", "   ", kHash, At(0)), "name");
  ExpectInvalid(Register("u1", "a@b.io", std::string(101, 'x'), kHash, At(0)), "name");
  ExpectInvalid(Register("u1", "a@b.io", "Ada", "", At(0)), "password_hash");
  EXPECT_TRUE(Register("u1", "a@b.io", std::string(100, 'x'), kHash, At(0)));
}

TEST(User, NameLengthCountsCharactersNotBytes) {
  std::string hundred_e_acute;
  for (int i = 0; i < 100; ++i) hundred_e_acute += "\xC3\xA9";
  EXPECT_TRUE(Register("u1", "a@b.io", hundred_e_acute, kHash, At(0)));
  ExpectInvalid(Register("u1", "a@b.io", hundred_e_acute + "x", kHash, At(0)), "name");
}

TEST(User, NormalizeEmailTrimsAndLowerCasesBothParts) {
  EXPECT_EQ(NormalizeEmail("  Ada.Lovelace+Tag@Example.COM\t"), "ada.lovelace+tag@example.com");
  EXPECT_EQ(NormalizeEmail("ada@example.com"), "ada@example.com");
  EXPECT_EQ(NormalizeEmail(""), "");
}

TEST(User, ParseEmailValidatesShape) {
  EXPECT_EQ(ParseEmail(" A@B.io ").value(), "a@b.io");
  for (std::string_view bad : {"", "ab.io", "a@@b.io", "a@b@c.io", "@b.io", "a@", "a@bio", "a@.io",
                               "a@b.", "a b@c.io", "a@b\x01.io"}) {
    auto parsed = ParseEmail(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(parsed.error().field, "email") << bad;
  }
  const std::string domain = "@example.com";  // 12 characters
  EXPECT_TRUE(ParseEmail(std::string(254 - domain.size(), 'a') + domain));
  EXPECT_FALSE(ParseEmail(std::string(255 - domain.size(), 'a') + domain));
}

TEST(User, ChangeEmailEmitsNormalisedEmail) {
  auto [user, history] = RegisteredUser();
  auto events = user.ChangeEmail(" Grace@Navy.MIL ", At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "EmailChanged");
  ApplyAll(user, *events);
  EXPECT_EQ(user.email(), "grace@navy.mil");
  EXPECT_EQ(user.updated_at(), At(1));
  EXPECT_EQ(user.version(), 2);
  ExpectInvalid(user.ChangeEmail("nope", At(2)), "email");
}

TEST(User, ChangeNameEmitsTrimmedName) {
  auto [user, history] = RegisteredUser();
  auto events = user.ChangeName(" Ada King ", At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "NameChanged");
  ApplyAll(user, *events);
  EXPECT_EQ(user.name(), "Ada King");
  ExpectInvalid(user.ChangeName("", At(2)), "name");
}

TEST(User, ChangePhoneAcceptsE164AndClears) {
  auto [user, history] = RegisteredUser();
  auto events = user.ChangePhone("+442071838750", At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "PhoneChanged");
  ApplyAll(user, *events);
  EXPECT_EQ(user.phone(), "+442071838750");

  for (std::string_view bad :
       {"442071838750", "+1234567", "+1234567890123456", "+44 20 7183", "+44a071838750"}) {
    ExpectInvalid(user.ChangePhone(bad, At(2)), "phone");
  }
  EXPECT_TRUE(user.ChangePhone("+12345678", At(2)));         // 8 digits
  EXPECT_TRUE(user.ChangePhone("+123456789012345", At(2)));  // 15 digits

  auto cleared = user.ChangePhone("", At(3));
  ASSERT_TRUE(cleared);
  ApplyAll(user, *cleared);
  EXPECT_EQ(user.phone(), "");
}

TEST(User, AddAddressNormalisesAndStores) {
  auto [user, history] = RegisteredUser();
  auto events = user.AddAddress(HomeAddress(), At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "AddressAdded");
  ApplyAll(user, *events);
  ASSERT_EQ(user.addresses().size(), 1u);
  EXPECT_EQ(user.addresses()[0].country, "US");
  EXPECT_EQ(user.addresses()[0].city, "Springfield");
}

TEST(User, AddAddressReportsTheInvalidField) {
  auto [user, history] = RegisteredUser();
  Address bad_country = HomeAddress();
  bad_country.country = "USA";
  ExpectInvalid(user.AddAddress(bad_country, At(1)), "addresses[0].country");
  Address digits_country = HomeAddress();
  digits_country.country = "1A";
  ExpectInvalid(user.AddAddress(digits_country, At(1)), "addresses[0].country");
  Address no_line1 = HomeAddress();
  no_line1.line1 = "  ";
  ExpectInvalid(user.AddAddress(no_line1, At(1)), "addresses[0].line1");
  Address no_city = HomeAddress();
  no_city.city.clear();
  ExpectInvalid(user.AddAddress(no_city, At(1)), "addresses[0].city");

  Commit(user, history, user.AddAddress(HomeAddress("a1"), At(1)));
  Address no_id = HomeAddress("");
  ExpectInvalid(user.AddAddress(no_id, At(2)), "addresses[1].id");
}

TEST(User, AddAddressDuplicateIdWithOtherContentIsAlreadyExists) {
  auto [user, history] = RegisteredUser();
  Commit(user, history, user.AddAddress(HomeAddress("a1"), At(1)));
  Address other = HomeAddress("a1");
  other.city = "Shelbyville";
  auto result = user.AddAddress(other, At(2));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAlreadyExists);
}

TEST(User, AddAddressStopsAtTen) {
  auto [user, history] = RegisteredUser();
  for (int i = 0; i < 10; ++i) {
    Commit(user, history, user.AddAddress(HomeAddress("a" + std::to_string(i)), At(1)));
  }
  auto eleventh = user.AddAddress(HomeAddress("a10"), At(2));
  ASSERT_FALSE(eleventh);
  EXPECT_EQ(eleventh.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(eleventh.error().field, "addresses");
}

TEST(User, RemoveAddressRemovesOrIsNotFound) {
  auto [user, history] = RegisteredUser();
  Commit(user, history, user.AddAddress(HomeAddress("a1"), At(1)));
  Commit(user, history, user.AddAddress(HomeAddress("a2"), At(1)));
  auto events = user.RemoveAddress("a1", At(2));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "AddressRemoved");
  ApplyAll(user, *events);
  ASSERT_EQ(user.addresses().size(), 1u);
  EXPECT_EQ(user.addresses()[0].id, "a2");

  auto missing = user.RemoveAddress("a1", At(3));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(User, ChangePreferencesReplacesTheDocument) {
  auto [user, history] = RegisteredUser();
  const json::value prefs = json::parse(R"({"newsletter":true,"currency":"EUR"})");
  auto events = user.ChangePreferences(prefs, At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "PreferencesChanged");
  ApplyAll(user, *events);
  EXPECT_EQ(json::value(user.preferences()), prefs);

  ExpectInvalid(user.ChangePreferences(json::array{1, 2}, At(2)), "preferences");
  ExpectInvalid(user.ChangePreferences(json::object{{"note", std::string(4096, 'x')}}, At(2)),
                "preferences");
  EXPECT_TRUE(user.ChangePreferences(json::object{{"n", std::string(4096 - 8, 'x')}}, At(2)));
}

TEST(User, ChangeRolesAcceptsUserRolesOnly) {
  auto [user, history] = RegisteredUser();
  auto events = user.ChangeRoles({"support", "admin", "support"}, At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "RolesChanged");
  ApplyAll(user, *events);
  EXPECT_EQ(user.roles(), (std::set<Role>{Role::kSupport, Role::kAdmin}));

  ExpectInvalid(user.ChangeRoles({}, At(2)), "roles");
  ExpectInvalid(user.ChangeRoles({"customer", "service"}, At(2)), "roles[1]");
  ExpectInvalid(user.ChangeRoles({"root"}, At(2)), "roles[0]");
}

TEST(User, DeactivateThenActivateAndRepeatsFail) {
  auto [user, history] = RegisteredUser();
  auto again = user.Activate(At(1));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);

  auto off = user.Deactivate(At(1));
  ASSERT_TRUE(off);
  ASSERT_EQ(off->size(), 1u);
  EXPECT_EQ((*off)[0].type, "UserDeactivated");
  ApplyAll(user, *off);
  EXPECT_FALSE(user.active());
  auto off_again = user.Deactivate(At(2));
  ASSERT_FALSE(off_again);
  EXPECT_EQ(off_again.error().code, ErrorCode::kFailedPrecondition);

  auto on = user.Activate(At(2));
  ASSERT_TRUE(on);
  EXPECT_EQ((*on)[0].type, "UserActivated");
  ApplyAll(user, *on);
  EXPECT_TRUE(user.active());
}

TEST(User, ChangePasswordStoresTheNewHash) {
  auto [user, history] = RegisteredUser();
  auto events = user.ChangePassword("$argon2id$new", At(1));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "PasswordChanged");
  ApplyAll(user, *events);
  EXPECT_EQ(user.password_hash(), "$argon2id$new");
  ExpectInvalid(user.ChangePassword("", At(2)), "password_hash");
}

TEST(User, CommandsThatChangeNothingEmitNoEvents) {
  auto [user, history] = RegisteredUser();
  Commit(user, history, user.AddAddress(HomeAddress("a1"), At(1)));
  Commit(user, history, user.ChangePhone("+12345678", At(1)));
  Commit(user, history, user.ChangePreferences(json::object{{"k", 1}}, At(1)));

  const std::vector<Result<UserEvents>> no_ops = {
      user.ChangeEmail("ADA@example.com ", At(2)),
      user.ChangeName("Ada Lovelace  ", At(2)),
      user.ChangePhone("+12345678", At(2)),
      user.AddAddress(HomeAddress("a1"), At(2)),
      user.ChangePreferences(json::object{{"k", 1}}, At(2)),
      user.ChangeRoles({"customer"}, At(2)),
      user.ChangePassword(kHash, At(2)),
  };
  for (std::size_t i = 0; i < no_ops.size(); ++i) {
    ASSERT_TRUE(no_ops[i]) << i;
    EXPECT_TRUE(no_ops[i]->empty()) << i;
  }
}

TEST(User, CommandsOnUnregisteredUserFailPrecondition) {
  User nobody;
  auto result = nobody.ChangeName("Ada", At(0));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
}

// A long, varied history used by the replay and snapshot tests.
UserEvents LongHistory(User* final_state) {
  auto [user, history] = RegisteredUser();
  for (int i = 1; i <= 60; ++i) {
    Commit(user, history, user.ChangeName("Name " + std::to_string(i), At(i)));
    if (i % 5 == 0)
      Commit(user, history, user.AddAddress(HomeAddress("a" + std::to_string(i)), At(i)));
    if (i % 10 == 0) Commit(user, history, user.RemoveAddress("a" + std::to_string(i - 5), At(i)));
    if (i % 7 == 0) Commit(user, history, user.ChangePreferences(json::object{{"i", i}}, At(i)));
    if (i % 11 == 0) Commit(user, history, user.Deactivate(At(i)));
    if (i % 11 == 1 && i > 1) Commit(user, history, user.Activate(At(i)));
  }
  Commit(user, history, user.ChangeRoles({"admin"}, At(61)));
  Commit(user, history, user.ChangePhone("+4915112345678", At(61)));
  Commit(user, history, user.ChangeEmail("lovelace@example.org", At(62)));
  Commit(user, history, user.ChangePassword("$argon2id$later", At(62)));
  if (final_state != nullptr) *final_state = user;
  return history;
}

TEST(User, ReplayOfLongHistoryEqualsApplyingOneByOne) {
  User applied;
  const UserEvents history = LongHistory(&applied);
  ASSERT_GT(history.size(), 80u);

  User replayed = Replay(history);
  EXPECT_EQ(replayed, applied);
  EXPECT_EQ(replayed.version(), static_cast<std::int64_t>(history.size()));
  auto rehydrated = Rehydrate(history);
  ASSERT_TRUE(rehydrated);
  EXPECT_EQ(*rehydrated, applied);
}

TEST(User, EventsSurviveAJsonRoundTrip) {
  const UserEvents history = LongHistory(nullptr);
  UserEvents reparsed;
  for (const auto& event : history) {
    reparsed.push_back({event.type, json::parse(json::serialize(event.data)), event.at});
  }
  EXPECT_EQ(Replay(reparsed), Replay(history));
}

TEST(User, ReplayUntilReturnsTheEarlierName) {
  auto [user, history] = RegisteredUser();
  Commit(user, history, user.ChangeName("Ada King", At(10)));

  auto before = ReplayUntil(history, At(9));
  ASSERT_TRUE(before);
  EXPECT_EQ(before->name(), "Ada Lovelace");
  EXPECT_EQ(before->version(), 1);

  auto at_rename = ReplayUntil(history, At(10));
  ASSERT_TRUE(at_rename);
  EXPECT_EQ(at_rename->name(), "Ada King");

  auto too_early = ReplayUntil(history, At(0) - hours(1));
  ASSERT_FALSE(too_early);
  EXPECT_EQ(too_early.error().code, ErrorCode::kNotFound);
}

TEST(User, SnapshotRoundTripEqualsReplayedState) {
  User applied;
  const UserEvents history = LongHistory(&applied);
  const json::value snapshot = ToSnapshot(applied);
  auto restored = FromSnapshot(json::parse(json::serialize(snapshot)));
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(*restored, Replay(history));
  EXPECT_EQ(restored->version(), static_cast<std::int64_t>(history.size()));
}

TEST(User, SnapshotPlusRemainingEventsEqualsFullReplay) {
  const UserEvents history = LongHistory(nullptr);
  const std::size_t cut = 50;
  ASSERT_TRUE(SnapshotDue(static_cast<std::int64_t>(cut)));
  const UserEvents head(history.begin(), history.begin() + cut);
  const UserEvents tail(history.begin() + cut, history.end());

  auto from_snapshot = FromSnapshot(ToSnapshot(Replay(head)));
  ASSERT_TRUE(from_snapshot);
  auto resumed = Rehydrate(*from_snapshot, tail);
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(*resumed, Replay(history));
}

TEST(User, FromSnapshotRejectsMalformedDocuments) {
  const json::value good = ToSnapshot(RegisteredUser().user);
  ASSERT_TRUE(FromSnapshot(good));

  json::value wrong_schema = good;
  wrong_schema.as_object()["schema"] = 99;
  json::value missing_email = good;
  missing_email.as_object().erase("email");
  json::value bad_role = good;
  bad_role.as_object()["roles"] = json::array{"emperor"};
  for (const json::value& bad : {wrong_schema, missing_email, bad_role, json::value("x")}) {
    auto restored = FromSnapshot(bad);
    ASSERT_FALSE(restored);
    EXPECT_EQ(restored.error().code, ErrorCode::kInternal);
  }
}

TEST(User, ApplyRejectsMalformedStreams) {
  const UserEvents registered = RegisteredUser().history;
  auto expect_internal = [](const UserEvents& events) {
    auto user = Rehydrate(events);
    ASSERT_FALSE(user);
    EXPECT_EQ(user.error().code, ErrorCode::kInternal);
  };
  const UserEvent rename = MakeEvent(NameChanged{"Ada"}, At(1));

  expect_internal({rename});                        // before UserRegistered
  expect_internal({registered[0], registered[0]});  // registered twice
  expect_internal({registered[0], {"UserDeleted", json::object{}, At(1)}});  // unknown type
  expect_internal({registered[0], {"NameChanged", json::object{{"name", 42}}, At(1)}});
  expect_internal({registered[0], {"NameChanged", json::array{}, At(1)}});
  expect_internal(
      {registered[0], {"RolesChanged", json::object{{"roles", json::array{"x"}}}, At(1)}});
  expect_internal({registered[0], MakeEvent(AddressRemoved{"nope"}, At(1))});
  expect_internal({registered[0], MakeEvent(UserActivated{}, At(1))});  // already active
  expect_internal({registered[0], MakeEvent(AddressAdded{HomeAddress()}, At(1)),
                   MakeEvent(AddressAdded{HomeAddress()}, At(2))});  // duplicate address id
  EXPECT_THROW(Replay({rename}), std::logic_error);
}

TEST(User, RejectedEventLeavesStateUnchanged) {
  auto [user, history] = RegisteredUser();
  const User before = user;
  auto applied = user.Apply(MakeEvent(AddressRemoved{"nope"}, At(5)));
  ASSERT_FALSE(applied);
  EXPECT_EQ(user, before);
}

TEST(User, SnapshotDueEveryN) {
  EXPECT_FALSE(SnapshotDue(0, 50));
  EXPECT_FALSE(SnapshotDue(49, 50));
  EXPECT_TRUE(SnapshotDue(50, 50));
  EXPECT_TRUE(SnapshotDue(100, 50));
  EXPECT_FALSE(SnapshotDue(10, 0));
}

}  // namespace
}  // namespace mercato::identity::domain
