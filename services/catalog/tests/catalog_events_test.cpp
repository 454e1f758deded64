// catalog's integration events end to end, through a real nats-server: creating, editing,
// repricing, reviewing and deleting a product puts exactly one event per change on the CATALOG
// stream, each a CloudEvent that matches its contract in contracts/events/ and carries the values
// the change made.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "catalog_test_support.hpp"
#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/schema.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::catalog::component {
namespace {

using testing::ServiceProcess;
namespace json = boost::json;

std::string ContractsDir() {
  const char* source = std::getenv("MERCATO_SOURCE_DIR");
  return std::string(source ? source : ".") + "/contracts/events";
}

using messaging::StreamEvent;

class CatalogEvents : public ::testing::Test {
 protected:
  // Every message of the CATALOG stream about `product_id`, parsed, in stream order.
  std::vector<StreamEvent> EventsOf(const std::string& product_id) {
    auto broker = messaging::Broker::Connect({.url = nats_.url(), .name = "catalog-test"});
    if (!broker) {
      ADD_FAILURE() << "connect: " << broker.error().message;
      return {};
    }
    auto all = messaging::ReadStreamEvents(**broker, "CATALOG");
    if (!all) {
      ADD_FAILURE() << all.error().message;
      return {};
    }
    std::vector<StreamEvent> events;
    for (auto& e : *all) {
      if (e.event.subject == product_id) events.push_back(std::move(e));
    }
    return events;
  }

  static std::string Types(const std::vector<StreamEvent>& events) {
    std::string out;
    for (const auto& e : events) out += std::string(e.event.short_type()) + " ";
    return out;
  }

  testing::NatsServer nats_;
};

TEST_F(CatalogEvents, EveryChangePublishesOneContractEvent) {
  auto identity = StartIdentityForTest();
  auto catalog = StartCatalog(identity, {"--outbox-poll", "200ms"}, nats_.url());
  const uint16_t port = catalog.port();
  const std::string admin = AdminToken(identity);
  auto reviewer = RegisterCustomer(identity, "events");
  const std::string category = "cat-" + Unique();
  CreateCategory(port, admin, category);

  auto product = CreateProduct(port, admin,
                               json::object{{"name", "Event Kettle"},
                                            {"price", Money(2500)},
                                            {"categories", json::array{category}},
                                            {"description", "Boils."}});
  const std::string id = Str(product, "id");
  auto expect_status = [](const Response& r, int status, const char* what) {
    ASSERT_TRUE(r) << what << ": " << r.error().message;
    ASSERT_EQ(r->status, status) << what << ": " << r->body;
  };
  auto bearer = BearerHeader(admin);
  expect_status(SendJson(port, "PATCH", "/products/" + id, json::object{{"name", "Event Kettle 2"}},
                         {bearer}),
                200, "rename");
  expect_status(
      SendJson(port, "PATCH", "/products/" + id, json::object{{"price", Money(1999)}}, {bearer}),
      200, "reprice");
  expect_status(PostJson(port, "/products/" + id + "/reviews", json::object{{"rating", 4}},
                         {BearerHeader(reviewer.token)}),
                201, "review");
  expect_status(Call(port, "DELETE", "/products/" + id, {}, {bearer}), 204, "delete");

  const std::vector<std::string> expected{"ProductCreated", "ProductUpdated", "ProductUpdated",
                                          "PriceChanged",   "ReviewAdded",    "ProductDeleted"};
  std::vector<StreamEvent> events;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        events = EventsOf(id);
        return events.size() >= expected.size();
      },
      60s, 250ms))
      << "events so far: " << Types(events) << "\n"
      << catalog.Logs().substr(0, 6000);
  // A duplicate would come late: the relay polls every 200 ms. This condition should stay false,
  // so the wait runs out its time on success.
  EXPECT_FALSE(
      testing::WaitFor([&] { return EventsOf(id).size() > expected.size(); }, 1500ms, 100ms));
  events = EventsOf(id);

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
    EXPECT_EQ(e.type, "mercato.catalog." + type);
    EXPECT_EQ(e.source, "catalog");
    EXPECT_EQ(stream_event.subject, "catalog." + type);
    ASSERT_TRUE(contracts->Has("catalog." + type)) << "no contract catalog." << type << ".json";
    auto valid = contracts->Validate(e);
    EXPECT_TRUE(valid) << valid.error().message << " at " << valid.error().field << ": "
                       << json::serialize(e.data);
    ASSERT_TRUE(e.data.is_object());
    EXPECT_EQ(Str(e.data.as_object(), "product_id"), id);
  }
  EXPECT_EQ(ids.size(), events.size()) << "event ids must be distinct";
  ASSERT_EQ(events.size(), expected.size());

  const auto& created = events[0].event.data.as_object();
  EXPECT_EQ(Str(created, "sku"), Str(product, "sku"));
  EXPECT_EQ(Str(created, "name"), "Event Kettle");
  EXPECT_EQ(Int(Obj(created, "price"), "amount"), 2500);
  EXPECT_EQ(Str(Obj(created, "price"), "currency"), "USD");
  EXPECT_EQ(StringArray(created, "categories"), std::vector<std::string>{category});
  EXPECT_EQ(Str(created, "created_at"), Str(product, "created_at"));

  EXPECT_EQ(Str(events[1].event.data.as_object(), "name"), "Event Kettle 2");
  EXPECT_EQ(Int(Obj(events[2].event.data.as_object(), "price"), "amount"), 1999);
  const auto& repriced = events[3].event.data.as_object();
  EXPECT_EQ(Int(Obj(repriced, "old_price"), "amount"), 2500);
  EXPECT_EQ(Int(Obj(repriced, "new_price"), "amount"), 1999);
  EXPECT_EQ(Str(repriced, "changed_at"), Str(events[2].event.data.as_object(), "updated_at"));

  const auto& reviewed = events[4].event.data.as_object();
  EXPECT_EQ(Str(reviewed, "user_id"), reviewer.id);
  EXPECT_EQ(Int(reviewed, "rating"), 4);
  EXPECT_EQ(Int(reviewed, "rating_count"), 1);
  EXPECT_DOUBLE_EQ(Number(reviewed, "rating_average"), 4.0);
  EXPECT_FALSE(Str(reviewed, "review_id").empty());

  WallTime deleted_at;
  EXPECT_TRUE(ParseRfc3339(Str(events[5].event.data.as_object(), "deleted_at"), deleted_at));

  // With the bus on, its operator endpoints exist and are guarded like the catalog's writes.
  EXPECT_TRUE(IsProblem(Call(port, "GET", "/admin/dead-letters"), 401, {"unauthenticated"}));
  EXPECT_TRUE(
      IsProblem(Call(port, "GET", "/admin/dead-letters", {}, {BearerHeader(reviewer.token)}), 403,
                {"permission-denied"}));
  auto listed = Call(port, "GET", "/admin/dead-letters", {}, {bearer});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << listed->body;
}

}  // namespace
}  // namespace mercato::catalog::component
