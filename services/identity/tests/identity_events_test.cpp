// identity's integration events end to end, through a real nats-server: one event per change of a
// user on the IDENTITY stream, each matching its contract in contracts/events/, none carrying
// personal data; and a registration made while the broker is down still published exactly once.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "identity_test_support.hpp"
#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/schema.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::identity::component {
namespace {

using testing::ServiceProcess;

std::string ContractsDir() {
  const char* source = std::getenv("MERCATO_SOURCE_DIR");
  return std::string(source ? source : ".") + "/contracts/events";
}

using messaging::StreamEvent;

class IdentityEvents : public ::testing::Test {
 protected:
  ServiceProcess StartWithBus() { return StartIdentity({"--outbox-poll", "200ms"}, nats_.url()); }

  // Every message of the IDENTITY stream, parsed.
  std::vector<StreamEvent> StreamEvents() {
    auto broker = messaging::Broker::Connect({.url = nats_.url(), .name = "identity-test"});
    if (!broker) {
      ADD_FAILURE() << "connect: " << broker.error().message;
      return {};
    }
    auto events = messaging::ReadStreamEvents(**broker, "IDENTITY");
    if (!events) {
      ADD_FAILURE() << events.error().message;
      return {};
    }
    return std::move(*events);
  }

  std::vector<StreamEvent> EventsOf(const std::string& user_id) {
    std::vector<StreamEvent> mine;
    for (auto& e : StreamEvents()) {
      if (e.event.subject == user_id) mine.push_back(std::move(e));
    }
    return mine;
  }

  static std::string Types(const std::vector<StreamEvent>& events) {
    std::string out;
    for (const auto& e : events) out += std::string(e.event.short_type()) + " ";
    return out;
  }

  testing::NatsServer nats_;
};

TEST_F(IdentityEvents, EveryChangePublishesOneContractEventWithoutPersonalData) {
  auto identity = StartWithBus();
  const uint16_t port = identity.port();
  const std::string tag = Unique();
  const std::string email = "events-" + tag + "@example.com";
  const std::string new_email = "events-moved-" + tag + "@example.com";
  const std::string phone =
      "+4420" +
      std::to_string(70000000 +
                     std::stoul(security::Sha256Hex(tag).substr(0, 6), nullptr, 16) % 9999999);
  const std::string line1 = "221B Eventful Street " + tag;
  const std::string city = "Publishtown-" + tag;

  auto user = RegisterUser(port, email, "Eve Events");
  auto tokens = Login(port, user);
  auto bearer = BearerHeader(tokens.access);
  auto expect_ok = [](const Response& r, int status, const char* what) {
    ASSERT_TRUE(r) << what << ": " << r.error().message;
    ASSERT_EQ(r->status, status) << what << ": " << r->body;
  };

  expect_ok(
      SendJson(port, "PATCH", "/users/me", boost::json::object{{"name", "Eve Renamed"}}, {bearer}),
      200, "name");
  expect_ok(SendJson(port, "PATCH", "/users/me",
                     boost::json::object{{"email", new_email}, {"current_password", user.password}},
                     {bearer}),
            200, "email");
  expect_ok(SendJson(port, "PATCH", "/users/me", boost::json::object{{"phone", phone}}, {bearer}),
            200, "phone");
  auto added = PostJson(port, "/users/me/addresses",
                        boost::json::object{{"label", "home"},
                                            {"line1", line1},
                                            {"city", city},
                                            {"postal_code", "EV1 1NT"},
                                            {"country", "GB"}},
                        {bearer});
  expect_ok(added, 201, "address");
  const std::string address_id = Str(BodyObject(*added), "id");
  expect_ok(Call(port, "DELETE", "/users/me/addresses/" + address_id, {}, {bearer}), 204,
            "address removal");
  expect_ok(SendJson(port, "PUT", "/users/me/preferences",
                     boost::json::object{{"newsletter", false}}, {bearer}),
            200, "preferences");
  const std::string new_password = "Heron-Ledger-Saffron-62";
  expect_ok(
      SendJson(port, "PATCH", "/users/me",
               boost::json::object{{"password", new_password}, {"current_password", user.password}},
               {bearer}),
      200, "password");

  auto admin = Login(port, AdminUser(identity));
  expect_ok(PostJson(port, "/users/" + user.id + "/roles",
                     boost::json::object{{"roles", boost::json::array{"customer", "support"}}},
                     {BearerHeader(admin.access)}),
            200, "roles");
  expect_ok(
      Call(port, "POST", "/users/" + user.id + "/deactivate", {}, {BearerHeader(admin.access)}),
      200, "deactivate");
  expect_ok(Call(port, "POST", "/users/" + user.id + "/activate", {}, {BearerHeader(admin.access)}),
            200, "activate");

  const std::vector<std::string> expected{"UserRegistered",     "NameChanged",     "EmailChanged",
                                          "PhoneChanged",       "AddressAdded",    "AddressRemoved",
                                          "PreferencesChanged", "PasswordChanged", "RolesChanged",
                                          "UserDeactivated",    "UserActivated"};
  std::vector<StreamEvent> events;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        events = EventsOf(user.id);
        return events.size() >= expected.size();
      },
      60s, 250ms))
      << "events so far: " << Types(events) << "\n"
      << identity.Logs().substr(0, 6000);
  // A little longer for a duplicate that would arrive late: the relay runs every 200 ms. This
  // waits for a condition that should stay false, so it runs out its time on success.
  EXPECT_FALSE(
      testing::WaitFor([&] { return EventsOf(user.id).size() > expected.size(); }, 1500ms, 100ms));
  events = EventsOf(user.id);

  std::vector<std::string> types;
  for (const auto& e : events) types.emplace_back(e.event.short_type());
  EXPECT_EQ(types, expected) << "one event per change, in the order of the changes";

  auto contracts = messaging::SchemaRegistry::LoadDirectory(ContractsDir());
  ASSERT_TRUE(contracts) << contracts.error().message;
  std::set<std::string> ids;
  for (const auto& stream_event : events) {
    const auto& e = stream_event.event;
    const std::string type(e.short_type());
    SCOPED_TRACE(type);
    ids.insert(e.id);
    EXPECT_EQ(e.type, "mercato.identity." + type);
    EXPECT_EQ(e.source, "identity");
    EXPECT_EQ(e.subject, user.id);
    EXPECT_EQ(stream_event.subject, "identity." + type);
    EXPECT_TRUE(contracts->Has("identity." + type))
        << "no contract " << ContractsDir() << "/identity." << type << ".json";
    if (contracts->Has("identity." + type)) {
      auto valid = contracts->Validate(e);
      EXPECT_TRUE(valid) << valid.error().message << " at " << valid.error().field << ": "
                         << boost::json::serialize(e.data);
    }
    ASSERT_TRUE(e.data.is_object()) << stream_event.raw;
    const auto& data = e.data.as_object();
    EXPECT_EQ(Str(data, "user_id"), user.id);
    for (const auto& secret : {email, new_email, phone, phone.substr(1), line1, city,
                               std::string(kPassword), new_password, std::string("$argon2")}) {
      EXPECT_FALSE(Contains(stream_event.raw, secret))
          << "'" << secret << "' on the bus: " << stream_event.raw;
    }
    EXPECT_FALSE(data.contains("email") || data.contains("phone") ||
                 data.contains("password_hash") || data.contains("address"))
        << boost::json::serialize(data);
    if (type == "NameChanged") {
      EXPECT_EQ(Str(data, "name"), "Eve Renamed");
    }
    if (type == "AddressAdded" || type == "AddressRemoved") {
      EXPECT_EQ(Str(data, "address_id"), address_id);
    }
    if (type == "RolesChanged") {
      auto roles = StringArray(data, "roles");
      EXPECT_TRUE(HasString(roles, "support") && HasString(roles, "customer"))
          << boost::json::serialize(data);
    }
  }
  EXPECT_EQ(ids.size(), events.size()) << "event ids must be distinct";
}

TEST_F(IdentityEvents, RegistrationWhileTheBrokerIsDownIsPublishedOnceItIsBack) {
  auto identity = StartWithBus();
  // The stream exists and the relay is connected before the outage.
  auto first = RegisterUser(identity.port(), UniqueEmail("before-outage"), "Before");
  ASSERT_TRUE(testing::WaitFor([&] { return EventsOf(first.id).size() == 1; }, 60s, 250ms))
      << identity.Logs().substr(0, 6000);

  nats_.Stop();
  auto during = RegisterUser(identity.port(), UniqueEmail("during-outage"), "During");
  auto login = Login(identity.port(), during);  // the service works without its broker
  EXPECT_FALSE(login.access.empty());
  nats_.Start();

  ASSERT_TRUE(testing::WaitFor([&] { return EventsOf(during.id).size() >= 1; }, 90s, 250ms))
      << "the registration made during the outage never reached the stream\n"
      << identity.Logs().substr(0, 6000);
  EXPECT_FALSE(testing::WaitFor([&] { return EventsOf(during.id).size() > 1; }, 1500ms, 100ms));
  auto events = EventsOf(during.id);
  ASSERT_EQ(events.size(), 1u) << Types(events);
  EXPECT_EQ(events[0].event.type, "mercato.identity.UserRegistered");
  EXPECT_FALSE(Contains(events[0].raw, during.email));
  EXPECT_EQ(EventsOf(first.id).size(), 1u)
      << "the event from before the outage was published again";

  std::set<std::string> ids;
  auto all = StreamEvents();
  for (const auto& e : all) ids.insert(e.event.id);
  EXPECT_EQ(ids.size(), all.size()) << "no event twice in the stream";
}

// The bus' operator endpoints (dead letters) are guarded: identity requires an admin token.
TEST_F(IdentityEvents, DeadLetterEndpointsNeedAnAdminToken) {
  auto identity = StartWithBus();
  auto customer = Login(identity.port(), RegisterUser(identity.port(), UniqueEmail("dlq"), "Dlq"));
  auto admin = Login(identity.port(), AdminUser(identity));

  auto anonymous = Call(identity.port(), "GET", "/admin/dead-letters");
  EXPECT_TRUE(IsProblem(anonymous, 401, {"unauthenticated"})) << Describe(anonymous);
  EXPECT_EQ(anonymous->Header("WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  auto as_customer = GetWith(identity.port(), "/admin/dead-letters", customer.access);
  EXPECT_TRUE(IsProblem(as_customer, 403, {"permission-denied"})) << Describe(as_customer);
  auto replay = Call(identity.port(), "POST", "/admin/dead-letters/1/replay", "",
                     {BearerHeader(customer.access)});
  EXPECT_TRUE(IsProblem(replay, 403, {"permission-denied"})) << Describe(replay);

  // The admin gets through the guard (the list itself may wait for the broker's stream).
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r = GetWith(identity.port(), "/admin/dead-letters", admin.access);
        return r && r->status == 200;
      },
      30s, 200ms));
  auto listed = GetWith(identity.port(), "/admin/dead-letters", admin.access);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(BodyObject(*listed).contains("items")) << listed->body;
}

}  // namespace
}  // namespace mercato::identity::component
