// The event backbone end to end, through the hello sample and a real nats-server: the
// transactional outbox, the relay, the idempotent consumer and dead letters, with the process
// killed at the worst moments (MERCATO_FAULT fault points) and the broker taken away.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <set>

#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/schema.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::hello {
namespace {

using namespace std::chrono_literals;
using testing::ServiceProcess;
using Env = std::vector<std::pair<std::string, std::string>>;

std::string ContractsDir() {
  const char* source = std::getenv("MERCATO_SOURCE_DIR");
  return std::string(source ? source : ".") + "/contracts/events";
}

std::string ItemBody(const std::string& name, int64_t price) {
  return boost::json::serialize(boost::json::object{
      {"name", name}, {"price", {{"amount", price}, {"currency", "USD"}}}, {"weight_g", 10}});
}

class HelloEvents : public ::testing::Test {
 protected:
  std::vector<std::string> Args() const {
    return {
        "--nats-url",    nats_.url(), "--consumer-ack-wait", "2s", "--consumer-max-deliver", "3",
        "--outbox-poll", "200ms"};
  }
  ServiceProcess StartHello(const Env& env = {}) {
    return ServiceProcess::Start("hello", Args(), 20s, env);
  }
  // PUT /items/{id}; the status, or 0 when the connection broke (a process killed mid-request).
  static int Put(uint16_t port, const std::string& id, const std::string& name, int64_t price) {
    auto r = testing::Request(port, "PUT", "/items/" + id, ItemBody(name, price),
                              {{"Content-Type", "application/json"}});
    return r ? r->status : 0;
  }
  static int64_t Updates(uint16_t port, const std::string& id) {
    auto r = testing::Get(port, "/items/" + id + "/stats");
    if (!r || r->status != 200) return 0;
    return boost::json::parse(r->body).as_object().at("updates").as_int64();
  }
  // Every message of the HELLO stream, parsed.
  std::vector<messaging::Event> StreamEvents() {
    std::vector<messaging::Event> events;
    auto broker = messaging::Broker::Connect({.url = nats_.url(), .name = "test"});
    EXPECT_TRUE(broker);
    if (!broker) return events;
    auto stored = messaging::ReadStreamEvents(**broker, "HELLO");
    EXPECT_TRUE(stored) << (stored ? "" : stored.error().message);
    if (!stored) return events;
    for (auto& e : *stored) events.push_back(std::move(e.event));
    return events;
  }
  size_t CopiesInStream(const std::string& item_id) {
    size_t n = 0;
    for (const auto& e : StreamEvents()) n += e.subject == item_id;
    return n;
  }

  testing::NatsServer nats_;
};

TEST_F(HelloEvents, EventCarriesTheTraceAndMatchesItsContract) {
  auto hello = StartHello();
  const std::string trace_id = "5b8efff798038103d269b633813fc60c";
  auto r = testing::Request(hello.port(), "PUT", "/items/traced", ItemBody("Lamp", 4200),
                            {{"Content-Type", "application/json"},
                             {"traceparent", "00-" + trace_id + "-eee19b7ec3c1b174-01"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  ASSERT_TRUE(testing::WaitFor([&] { return Updates(hello.port(), "traced") == 1; }, 10s))
      << hello.Logs();

  auto events = StreamEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto& event = events[0];
  EXPECT_EQ(event.type, "mercato.hello.ItemUpdated");
  EXPECT_EQ(event.subject, "traced");
  auto trace = obs::TraceContext::Parse(event.traceparent);
  ASSERT_TRUE(trace) << event.traceparent;
  EXPECT_EQ(trace->TraceIdHex(), trace_id);

  auto contracts = messaging::SchemaRegistry::LoadDirectory(ContractsDir());
  ASSERT_TRUE(contracts) << contracts.error().message;
  auto valid = contracts->Validate(event);
  EXPECT_TRUE(valid) << valid.error().message << " at " << valid.error().field;
}

TEST_F(HelloEvents, RelayKilledBeforePublishingPublishesOnceAfterRestart) {
  auto hello = StartHello({{"MERCATO_FAULT", "relay.before_publish"}});
  Put(hello.port(), "crash-1", "Kettle", 1500);  // the commit happens; the relay then dies
  EXPECT_EQ(hello.process().Wait(10s), 128 + SIGKILL) << hello.Logs();
  EXPECT_EQ(CopiesInStream("crash-1"), 0u) << "killed before publishing";

  hello.Restart(Args());
  ASSERT_TRUE(testing::WaitFor([&] { return Updates(hello.port(), "crash-1") == 1; }, 15s))
      << hello.Logs();
  EXPECT_EQ(CopiesInStream("crash-1"), 1u);
  auto item = testing::Get(hello.port(), "/items/crash-1");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->status, 200) << "the business row committed with its event";
}

TEST_F(HelloEvents, RelayKilledAfterTheAckBeforeMarkingDoesNotDuplicate) {
  auto hello = StartHello({{"MERCATO_FAULT", "relay.after_publish_before_mark"}});
  Put(hello.port(), "crash-2", "Toaster", 2500);
  EXPECT_EQ(hello.process().Wait(10s), 128 + SIGKILL) << hello.Logs();
  EXPECT_EQ(CopiesInStream("crash-2"), 1u) << "JetStream acknowledged it before the kill";

  hello.Restart(Args());  // the relay publishes the unmarked row again: same Nats-Msg-Id
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto m = testing::Get(hello.port(), "/metrics");
        return m && m->body.find("mercato_outbox_pending_rows{service=\"hello\"} 0") !=
                        std::string::npos;
      },
      15s))
      << hello.Logs();
  ASSERT_TRUE(testing::WaitFor([&] { return Updates(hello.port(), "crash-2") >= 1; }, 15s));
  auto metrics = testing::Get(hello.port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("mercato_outbox_published_total{service=\"hello\"} 1"),
            std::string::npos)
      << "the restarted relay should have republished the unmarked row";
  EXPECT_EQ(CopiesInStream("crash-2"), 1u) << "the broker dropped the duplicate";
  EXPECT_EQ(Updates(hello.port(), "crash-2"), 1);
}

TEST_F(HelloEvents, ConsumerKilledAfterItsEffectBeforeTheAckAppliesOnce) {
  auto hello = StartHello({{"MERCATO_FAULT", "consumer.after_effect_before_ack"}});
  Put(hello.port(), "crash-3", "Blender", 3500);
  EXPECT_EQ(hello.process().Wait(10s), 128 + SIGKILL) << hello.Logs();

  hello.Restart(Args());  // the event is redelivered after ack-wait; the inbox remembers it
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto m = testing::Get(hello.port(), "/metrics");
        return m && m->body.find("outcome=\"duplicate\"") != std::string::npos;
      },
      15s))
      << "the redelivery should be recognised as a duplicate\n"
      << hello.Logs();
  EXPECT_EQ(Updates(hello.port(), "crash-3"), 1);
}

TEST_F(HelloEvents, BrokerDownForTenSecondsLosesAndDuplicatesNothing) {
  auto hello = StartHello();
  constexpr int kItems = 10;
  constexpr int kEvents = 1000;
  int accepted = 0;
  auto put = [&](int i) {
    accepted += Put(hello.port(), "bulk-" + std::to_string(i % kItems), "Bulk", 100 + i) / 100 == 2;
  };

  for (int i = 0; i < 300; ++i) put(i);
  nats_.Stop();
  auto stopped_at = std::chrono::steady_clock::now();
  for (int i = 300; i < kEvents; ++i) put(i);  // accepted: the outbox holds them
  ASSERT_TRUE(
      testing::WaitFor([&] { return std::chrono::steady_clock::now() - stopped_at >= 10s; }, 20s));
  nats_.Start();
  EXPECT_EQ(accepted, kEvents);

  ASSERT_TRUE(testing::WaitFor(
      [&] {
        int64_t total = 0;
        for (int k = 0; k < kItems; ++k)
          total += Updates(hello.port(), "bulk-" + std::to_string(k));
        return total == kEvents;
      },
      60s))
      << hello.Logs().substr(0, 4000);
  for (int k = 0; k < kItems; ++k)
    EXPECT_EQ(Updates(hello.port(), "bulk-" + std::to_string(k)), kEvents / kItems);

  Result<http::BlockingResponse> metrics = Error{ErrorCode::kInternal, "not fetched"};
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        metrics = testing::Get(hello.port(), "/metrics");
        return metrics && metrics->body.find("mercato_outbox_pending_rows{service=\"hello\"} 0") !=
                              std::string::npos;
      },
      10s))
      << "the outbox should drain to zero";
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("mercato_outbox_publish_failures_total{service=\"hello\"} 0\n"),
            std::string::npos)
      << "publishing should have failed while the broker was down";
  std::set<std::string> ids;
  size_t messages = 0;
  for (const auto& e : StreamEvents()) {
    ids.insert(e.id);
    ++messages;
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(messages, static_cast<size_t>(kEvents)) << "no event twice in the stream";
}

TEST_F(HelloEvents, PoisonEventIsDeadLetteredAndLaterEventsFlow) {
  auto hello = StartHello();
  ASSERT_EQ(Put(hello.port(), "bad-1", "poison", 100), 201);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r = testing::Get(hello.port(), "/admin/dead-letters");
        return r && r->status == 200 &&
               boost::json::parse(r->body).as_object().at("total").as_int64() == 1;
      },
      20s))
      << hello.Logs();
  auto letters =
      boost::json::parse(testing::Get(hello.port(), "/admin/dead-letters")->body).as_object();
  auto letter = letters.at("items").as_array().at(0).as_object();
  EXPECT_EQ(letter.at("subject").as_string(), "hello.ItemUpdated");
  EXPECT_EQ(letter.at("deliveries").as_int64(), 3);
  EXPECT_NE(std::string(letter.at("error").as_string()).find("poison"), std::string::npos);

  ASSERT_EQ(Put(hello.port(), "good-1", "Vase", 900), 201);
  EXPECT_TRUE(testing::WaitFor([&] { return Updates(hello.port(), "good-1") == 1; }, 10s));

  auto metrics = testing::Get(hello.port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("mercato_consumer_dead_lettered_total{consumer=\"hello\"} 1"),
            std::string::npos);

  auto replay = testing::Request(
      hello.port(), "POST",
      "/admin/dead-letters/" + std::to_string(letter.at("sequence").as_int64()) + "/replay");
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 202);
  auto bad_sequence = testing::Request(hello.port(), "POST", "/admin/dead-letters/abc/replay");
  ASSERT_TRUE(bad_sequence);
  EXPECT_EQ(bad_sequence->status, 400);
}

TEST_F(HelloEvents, EventsOfOneItemAreAppliedInTheOrderTheyWereWritten) {
  auto hello = StartHello();
  for (int price = 1; price <= 60; ++price) {
    ASSERT_EQ(Put(hello.port(), "ordered-" + std::to_string(price % 3), "Clock", price) / 100, 2);
  }
  for (int k = 0; k < 3; ++k) {
    std::string id = "ordered-" + std::to_string(k);
    ASSERT_TRUE(testing::WaitFor([&] { return Updates(hello.port(), id) == 20; }, 20s));
    auto stats =
        boost::json::parse(testing::Get(hello.port(), "/items/" + id + "/stats")->body).as_object();
    std::vector<int64_t> seen;
    for (auto& p : stats.at("price_history").as_array()) seen.push_back(p.as_int64());
    std::vector<int64_t> written;
    for (int price = 1; price <= 60; ++price) {
      if (price % 3 == k) written.push_back(price);
    }
    EXPECT_EQ(seen, written) << id;
  }
}

TEST_F(HelloEvents, ReadinessReportsTheBrokerAndWritesGoOnWithoutIt) {
  auto hello = StartHello();
  auto ready = testing::Get(hello.port(), "/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find("\"name\":\"nats\""), std::string::npos) << ready->body;
  nats_.Stop();
  // Reported but not critical: writes keep working (the outbox holds their events).
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = testing::Get(hello.port(), "/health/ready");
        return r && r->status == 200 &&
               r->body.find("\"name\":\"nats\",\"status\":\"down\"") != std::string::npos;
      },
      10s))
      << "readiness should report the broker down";
  EXPECT_EQ(Put(hello.port(), "while-down", "Mug", 300), 201);
  nats_.Start();
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = testing::Get(hello.port(), "/health/ready");
        return r && r->body.find("\"name\":\"nats\",\"status\":\"up\"") != std::string::npos;
      },
      15s));
  EXPECT_TRUE(testing::WaitFor([&] { return Updates(hello.port(), "while-down") == 1; }, 15s));
}

}  // namespace
}  // namespace mercato::hello
