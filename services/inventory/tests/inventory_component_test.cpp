// inventory as a real process, with a real nats-server (catalog's ProductCreated events tell it
// which products exist) and the real identity service (tokens verified through its JWKS):
// receipts, 100 concurrent HTTP reservations for the last 10 units, idempotency per order, a
// 1-second TTL released by the sweeper, transitions, roles, bad input, the invariant report
// and the events on the INVENTORY stream.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "mercato/core/id.hpp"
#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/schema.hpp"
#include "mercato/testing/http_json.hpp"
#include "mercato/testing/identity.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::inventory {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Headers;
using testing::Int;
using testing::IsProblem;
using testing::Response;
using testing::ServiceProcess;
using testing::Str;

// The body of an answer as a JSON object (an empty one, and a failure, when it is not).
json::object Body(const Response& r) {
  if (!r) {
    ADD_FAILURE() << "request failed: " << r.error().message;
    return {};
  }
  return testing::BodyObject(*r);
}

class Inventory : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nats_ = new testing::NatsServer();
    identity_ = new ServiceProcess(testing::StartIdentityForTest());
    inventory_ = new ServiceProcess(ServiceProcess::Start(
        "inventory",
        {"--nats-url", nats_->url(), "--jwks-url", testing::JwksUrl(*identity_), "--sweep-interval",
         "100ms", "--outbox-poll", "200ms", "--low-stock-threshold", "3"},
        60s));
    admin_ = testing::AdminToken(*identity_);
    service_ = testing::ServiceToken(*identity_, "orders");
    customer_ = testing::RegisterCustomer(*identity_, "shopper").token;
    auto w1 = Post("/warehouses", R"({"id":"w1","name":"North"})", admin_);
    auto w2 = Post("/warehouses", R"({"id":"w2","name":"South"})", admin_);
    if (!w1 || w1->status != 201 || !w2 || w2->status != 201)
      throw std::runtime_error("warehouses: " + (w1 ? w1->body : ""));
  }
  static void TearDownTestSuite() {
    delete inventory_;
    delete identity_;
    delete nats_;
  }

  static Response Post(const std::string& path, const std::string& body, const std::string& token,
                       const std::string& method = "POST") {
    Headers h{{"Content-Type", "application/json"}};
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    return testing::Request(inventory_->port(), method, path, body, h, 30s);
  }
  static Response Get(const std::string& path, const std::string& token = {}) {
    Headers h;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    return testing::Request(inventory_->port(), "GET", path, {}, h, 30s);
  }

  // Announces a product the way catalog does (catalog.ProductCreated on the CATALOG stream) and
  // waits until inventory knows it.
  static std::string NewProduct() {
    const std::string id = "prod-" + NewId();
    auto broker = messaging::Broker::Connect({.url = nats_->url(), .name = "test-catalog"});
    if (!broker) throw std::runtime_error(broker.error().message);
    auto ensured = (*broker)->EnsureStream(messaging::StreamSpec::ForContext("CATALOG", "catalog"));
    if (!ensured) throw std::runtime_error(ensured.error().message);
    json::object data{{"product_id", id},
                      {"sku", "SKU-" + id.substr(5, 8)},
                      {"name", "Test product"},
                      {"price", {{"amount", 1999}, {"currency", "USD"}}},
                      {"categories", json::array{"test"}},
                      {"created_at", FormatRfc3339(Clock::Real().WallNow())}};
    auto event = messaging::MakeEvent("catalog", "ProductCreated", id, std::move(data));
    auto published =
        (*broker)->Publish(event.subject_name(), event.id, messaging::Serialize(event));
    if (!published) throw std::runtime_error(published.error().message);
    if (!testing::WaitFor(
            [&] {
              auto r = Get("/stock/" + id);
              return r && r->status == 200;
            },
            30s, 50ms)) {
      throw std::runtime_error("inventory never learned product " + id);
    }
    return id;
  }
  static void ReceiveUnits(const std::string& product, const std::string& warehouse, int quantity) {
    auto r = Post(
        "/stock/" + product + "/receipts",
        json::serialize(json::object{{"warehouse_id", warehouse}, {"quantity", quantity}}), admin_);
    if (!r || r->status != 201)
      throw std::runtime_error("receipt: " + (r ? r->body : r.error().message));
  }
  static std::string ReserveBody(const std::string& order, const std::string& product, int quantity,
                                 int ttl = 60) {
    return json::serialize(json::object{
        {"order_id", order},
        {"items", json::array{json::object{{"product_id", product}, {"quantity", quantity}}}},
        {"ttl_seconds", ttl}});
  }
  static json::object Stock(const std::string& product) { return Body(Get("/stock/" + product)); }

  static testing::NatsServer* nats_;
  static ServiceProcess* identity_;
  static ServiceProcess* inventory_;
  static std::string admin_, service_, customer_;
};
testing::NatsServer* Inventory::nats_ = nullptr;
ServiceProcess* Inventory::identity_ = nullptr;
ServiceProcess* Inventory::inventory_ = nullptr;
std::string Inventory::admin_, Inventory::service_, Inventory::customer_;

TEST_F(Inventory, ReceiptsShowPerWarehouseAndUnknownProductsAre404) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 7);
  ReceiveUnits(product, "w2", 5);
  auto stock = Stock(product);
  EXPECT_EQ(Int(stock, "available"), 12);
  EXPECT_EQ(Int(stock, "received"), 12);
  EXPECT_EQ(Int(stock, "reserved"), 0);
  EXPECT_EQ(Int(stock, "sold"), 0);
  EXPECT_EQ(stock.at("warehouses").as_array().size(), 2u);
  EXPECT_TRUE(IsProblem(Get("/stock/no-such-product"), 404));
  EXPECT_TRUE(IsProblem(
      Post("/stock/no-such-product/receipts", R"({"warehouse_id":"w1","quantity":1})", admin_),
      404));
  EXPECT_TRUE(IsProblem(
      Post("/stock/" + product + "/receipts", R"({"warehouse_id":"nowhere","quantity":1})", admin_),
      404));
}

TEST_F(Inventory, ARetriedReceiptWithAnIdempotencyKeyIsCountedOnce) {
  auto product = NewProduct();
  auto post = [&](int quantity) {
    return testing::Request(
        inventory_->port(), "POST", "/stock/" + product + "/receipts",
        json::serialize(json::object{{"warehouse_id", "w1"}, {"quantity", quantity}}),
        {{"Content-Type", "application/json"},
         {"Authorization", "Bearer " + admin_},
         {"Idempotency-Key", "receipt-" + product}},
        30s);
  };
  auto first = post(8);
  auto retry = post(8);
  ASSERT_TRUE(first && retry);
  EXPECT_EQ(first->status, 201) << first->body;
  EXPECT_EQ(retry->status, 200) << retry->body;
  EXPECT_EQ(Int(Stock(product), "received"), 8);
  EXPECT_TRUE(IsProblem(post(9), 422)) << "the same key for a different receipt";
}

TEST_F(Inventory, HundredConcurrentReservationsForTheLastTenUnits) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 6);
  ReceiveUnits(product, "w2", 4);
  std::atomic<int> created{0}, conflicts{0}, other{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 100; ++i) {
    racers.emplace_back([&, i] {
      auto r = Post("/reservations",
                    ReserveBody("race-" + product + "-" + std::to_string(i), product, 1), service_);
      if (r && r->status == 201) {
        ++created;
      } else if (IsProblem(r, 409)) {
        ++conflicts;
        auto shorts = Body(r).at("short_items").as_array();
        EXPECT_EQ(Str(shorts.at(0).as_object(), "product_id"), product);
        EXPECT_EQ(Int(shorts.at(0).as_object(), "available"), 0);
      } else {
        ++other;
      }
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(created.load(), 10);
  EXPECT_EQ(conflicts.load(), 90);
  EXPECT_EQ(other.load(), 0);
  auto stock = Stock(product);
  EXPECT_EQ(Int(stock, "available"), 0);
  EXPECT_EQ(Int(stock, "reserved"), 10);
  auto invariants = Body(Get("/admin/invariants", admin_));
  EXPECT_TRUE(invariants.at("ok").as_bool()) << json::serialize(invariants);
}

TEST_F(Inventory, TheSameRequestTwiceIsOneReservationAndADifferentOneIs422) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 5);
  const std::string order = "order-" + NewId();
  auto first = Post("/reservations", ReserveBody(order, product, 2), service_);
  auto second = Post("/reservations", ReserveBody(order, product, 2), service_);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 201) << first->body;
  EXPECT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(Str(Body(first), "id"), Str(Body(second), "id"));
  EXPECT_EQ(Int(Stock(product), "reserved"), 2);
  EXPECT_TRUE(IsProblem(Post("/reservations", ReserveBody(order, product, 3), service_), 422));
}

TEST_F(Inventory, AOneSecondReservationIsReleasedBySweeper) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 3);
  auto r = Post("/reservations", ReserveBody("order-" + NewId(), product, 3, 1), service_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id = Str(Body(r), "id");
  EXPECT_EQ(Int(Stock(product), "available"), 0);
  ASSERT_TRUE(testing::WaitFor([&] { return Int(Stock(product), "available") == 3; }, 10s, 100ms))
      << "the sweeper never released the expired reservation";
  EXPECT_EQ(Str(Body(Get("/reservations/" + id, service_)), "status"), "EXPIRED");
  EXPECT_TRUE(IsProblem(Post("/reservations/" + id + "/commit", "", service_), 409))
      << "too late to commit";
}

TEST_F(Inventory, CommitReleaseAndReturnMoveStockAndRepeatHarmlessly) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 10);
  auto a = Body(Post("/reservations", ReserveBody("order-" + NewId(), product, 4), service_));
  auto b = Body(Post("/reservations", ReserveBody("order-" + NewId(), product, 3), service_));
  const std::string ida = Str(a, "id"), idb = Str(b, "id");
  ASSERT_FALSE(ida.empty() || idb.empty());
  for (int i = 0; i < 2; ++i) {
    auto commit = Post("/reservations/" + ida + "/commit", "", service_);
    ASSERT_TRUE(commit);
    EXPECT_EQ(commit->status, 200) << commit->body;
    EXPECT_EQ(Str(Body(commit), "status"), "COMMITTED");
    auto release = Post("/reservations/" + idb, "", service_, "DELETE");
    ASSERT_TRUE(release);
    EXPECT_EQ(release->status, 200) << release->body;
  }
  auto stock = Stock(product);
  EXPECT_EQ(Int(stock, "sold"), 4);
  EXPECT_EQ(Int(stock, "available"), 6);
  EXPECT_TRUE(IsProblem(Post("/reservations/" + idb + "/commit", "", service_), 409))
      << "released cannot commit";
  EXPECT_TRUE(IsProblem(Post("/reservations/" + ida, "", service_, "DELETE"), 409))
      << "sold cannot be released";
  auto returned = Post("/reservations/" + ida + "/return", "", admin_);
  ASSERT_TRUE(returned);
  EXPECT_EQ(returned->status, 200) << returned->body;
  stock = Stock(product);
  EXPECT_EQ(Int(stock, "sold"), 0);
  EXPECT_EQ(Int(stock, "available"), 10);
  EXPECT_TRUE(IsProblem(Post("/reservations/no-such-id/commit", "", service_), 404));
}

TEST_F(Inventory, RolesAreCheckedByTheServiceItself) {
  auto product = NewProduct();
  EXPECT_TRUE(IsProblem(
      Post("/stock/" + product + "/receipts", R"({"warehouse_id":"w1","quantity":1})", ""), 401));
  EXPECT_TRUE(IsProblem(
      Post("/stock/" + product + "/receipts", R"({"warehouse_id":"w1","quantity":1})", customer_),
      403));
  EXPECT_TRUE(IsProblem(
      Post("/stock/" + product + "/receipts", R"({"warehouse_id":"w1","quantity":1})", service_),
      403))
      << "services reserve; only admins receive stock";
  EXPECT_TRUE(
      IsProblem(Post("/reservations", ReserveBody("o-" + NewId(), product, 1), customer_), 403));
  EXPECT_TRUE(IsProblem(Post("/warehouses", R"({"name":"Rogue"})", customer_), 403));
  EXPECT_TRUE(IsProblem(Get("/admin/invariants", service_), 403));
  EXPECT_TRUE(IsProblem(
      Post("/reservations", ReserveBody("o-" + NewId(), product, 1), "not-a-token"), 401));
  // Only the orders service (and admins) take reservations: another service's token may not.
  const std::string other = testing::ServiceToken(*identity_, "notifications");
  EXPECT_TRUE(
      IsProblem(Post("/reservations", ReserveBody("o-" + NewId(), product, 1), other), 403));
}

TEST_F(Inventory, BadInputIsA4xxProblemNeverA500) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 5);
  const std::vector<std::pair<std::string, std::string>> bad_reservations = {
      {"{not json", "malformed"},
      {"[]", "not an object"},
      {R"({"items":[{"product_id":"x","quantity":1}]})", "no order id"},
      {ReserveBody("o-neg", product, -1), "negative quantity"},
      {ReserveBody("o-zero", product, 0), "zero quantity"},
      {ReserveBody("o-huge", product, 2000000000), "huge quantity"},
      {R"({"order_id":"o-empty","items":[]})", "no items"},
      {R"({"order_id":"o-type","items":[{"product_id":7,"quantity":1}]})",
       "product id not a string"},
      {R"({"order_id":"o-float","items":[{"product_id":"p","quantity":1.5}]})",
       "fractional quantity"},
      {ReserveBody("o-ttl", product, 1, 0), "zero ttl"},
      {R"({"order_id":"o-dup","items":[{"product_id":")" + product +
           R"(","quantity":1},{"product_id":")" + product + R"(","quantity":1}]})",
       "product twice"},
  };
  for (const auto& [body, why] : bad_reservations) {
    auto r = Post("/reservations", body, service_);
    EXPECT_TRUE(IsProblem(r, 400)) << why;
  }
  EXPECT_TRUE(IsProblem(
      Post("/reservations", ReserveBody("o-unknown", "no-such-product", 1), service_), 404));
  EXPECT_TRUE(IsProblem(
      Post("/stock/" + product + "/receipts", R"({"warehouse_id":"w1","quantity":-3})", admin_),
      400));
  EXPECT_TRUE(
      IsProblem(Post("/stock/" + product + "/receipts", R"({"warehouse_id":"w1"})", admin_), 400));
  EXPECT_TRUE(IsProblem(Post("/warehouses", R"({"id":"w1","name":"Again"})", admin_), 409));
  EXPECT_EQ(Int(Stock(product), "available"), 5) << "nothing changed";
  EXPECT_TRUE(Body(Get("/admin/invariants", admin_)).at("ok").as_bool());
}

// Every state change is published once through the outbox, and matches its contract.
TEST_F(Inventory, EventsReachTheInventoryStream) {
  auto product = NewProduct();
  ReceiveUnits(product, "w1", 4);
  auto reserved =
      Body(Post("/reservations", ReserveBody("order-" + NewId(), product, 2), service_));
  const std::string id = Str(reserved, "id");
  ASSERT_EQ(Post("/reservations/" + id + "/commit", "", service_)->status, 200);
  ASSERT_EQ(Post("/reservations/" + id + "/return", "", service_)->status, 200);

  const char* source = std::getenv("MERCATO_SOURCE_DIR");
  auto contracts = messaging::SchemaRegistry::LoadDirectory(std::string(source ? source : ".") +
                                                            "/contracts/events");
  ASSERT_TRUE(contracts) << contracts.error().message;
  auto broker = messaging::Broker::Connect({.url = nats_->url(), .name = "test-reader"});
  ASSERT_TRUE(broker);
  std::map<std::string, int> seen;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        seen.clear();
        auto events = messaging::ReadStreamEvents(**broker, "INVENTORY");
        if (!events) return false;
        for (const auto& stored : *events) {
          const auto& event = stored.event;
          if (event.subject != product && event.subject != id) continue;
          auto valid = contracts->Validate(event);
          EXPECT_TRUE(valid) << event.subject_name() << ": "
                             << (valid ? "" : valid.error().message);
          ++seen[std::string(event.short_type())];
        }
        return seen["StockReturned"] == 1;
      },
      30s, 200ms));
  EXPECT_EQ(seen["StockReceived"], 1);
  EXPECT_EQ(seen["StockReserved"], 1);
  EXPECT_EQ(seen["ReservationCommitted"], 1);
  EXPECT_EQ(seen["StockReturned"], 1);
  EXPECT_EQ(seen["StockLow"], 1) << "4 → 2 units crossed the threshold of 3";
}

}  // namespace
}  // namespace mercato::inventory
