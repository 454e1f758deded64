// The Bus as a service uses it: configuration from flags, background provisioning, readiness.
#include "mercato/messaging/bus.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "mercato/messaging/event.hpp"
#include "test_support.hpp"

namespace mercato::messaging {
namespace {

using namespace std::chrono_literals;

config::Config LoadConfig(const std::string& nats_url, const std::string& data_dir) {
  auto schema = service::BaseSchema(0);
  AddConfig(schema, "");
  std::vector<std::string> args = {"bus-test", "--nats-url", nats_url, "--data-dir", data_dir};
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return config::Config::Load("bustest", schema, static_cast<int>(argv.size()), argv.data());
}

// A consumer of another context's stream must not wait for that context's producer to create
// the stream: services that consume each other would otherwise never become ready together.
TEST(Bus, ProvisionsTheStreamsItConsumesSoServicesStartInAnyOrder) {
  testing::NatsServer nats;
  testing::TempDir dir;
  service::Service service("bustest", LoadConfig(nats.url(), dir.path() + "/data"));
  auto db = OpenMigratedForTest(dir.path() + "/bus.db",
                                "CREATE TABLE effects (event_id TEXT PRIMARY KEY)");
  std::atomic<int> applied{0};
  {
    Bus bus(service, *db, {});  // publishes nothing itself; nobody has created ORDERS yet
    ASSERT_TRUE(bus.enabled());
    ConsumerOptions options;
    options.stream = "ORDERS";
    options.filter_subject = "orders.>";
    bus.Consume(options).On("orders.OrderConfirmed", [&](storage::Connection& tx, const Event& e) -> Result<void> {
      auto saved = tx.Execute("INSERT INTO effects (event_id) VALUES ($1)", {e.id});
      if (!saved) return saved.error();
      ++applied;
      return Ok();
    });
    bus.Start();
    ASSERT_TRUE(testing::WaitFor([&] { return bus.ready(); }, 15s)) << "the consumer never subscribed";

    auto producer = ConnectForTest(nats, "orders");
    auto last = producer->LastSequence("ORDERS");
    ASSERT_TRUE(last) << "the consumer's bus should have created ORDERS: " << last.error().message;
    const Event event = MakeEvent("orders", "OrderConfirmed", "o-1", boost::json::object{{"n", 1}});
    ASSERT_TRUE(producer->Publish(event.subject_name(), event.id, Serialize(event)));
    EXPECT_TRUE(testing::WaitFor([&] { return applied.load() == 1; }, 10s));
  }
}

TEST(Bus, WithoutANatsUrlItIsDisabledAndRefusesConsumers) {
  testing::TempDir dir;
  service::Service service("bustest", LoadConfig("", dir.path() + "/data"));
  auto db = OpenMigratedForTest(dir.path() + "/bus.db", "CREATE TABLE t (x INTEGER)");
  Bus bus(service, *db, {StreamSpec::ForContext("ORDERS", "orders")});
  EXPECT_FALSE(bus.enabled());
  EXPECT_THROW(bus.Consume(ConsumerOptions{}), std::logic_error);
  bus.Start();   // a no-op
  bus.Notify();  // likewise
  EXPECT_FALSE(bus.ready());
}

}  // namespace
}  // namespace mercato::messaging
