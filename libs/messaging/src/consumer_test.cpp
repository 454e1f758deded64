// The idempotent consumer against a real nats-server and real SQLite files: redelivery,
// poison messages and the dead-letter stream, per-aggregate order across lanes, graceful Stop().
#include "mercato/messaging/consumer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mercato/messaging/outbox.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/nats_server.hpp"
#include "test_support.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::messaging {
namespace {

using namespace std::chrono_literals;
using storage::Connection;

// No uniqueness on event_id on purpose: a double effect must show up as a second row. seq is the
// order effects were applied in.
constexpr std::string_view kEffectsSchema =
    "CREATE TABLE effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, "
    "aggregate TEXT NOT NULL, n INTEGER NOT NULL)";

class EventConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = Connect("delivery");
    auto stream = broker_->EnsureStream(StreamSpec::ForContext("ORDERS", "orders"));
    ASSERT_TRUE(stream) << stream.error().message;
    db_ = OpenDatabase(dir_.path() + "/delivery.db");
  }

  std::unique_ptr<Broker> Connect(const std::string& name) { return ConnectForTest(nats_, name); }

  static std::unique_ptr<storage::Database> OpenDatabase(const std::string& path) {
    return OpenMigratedForTest(path, kEffectsSchema);
  }

  ConsumerOptions Options() {
    return {.service = "delivery",
            .stream = "ORDERS",
            .filter_subject = "orders.>",
            .ack_wait = 5s,
            .max_deliver = 3,
            .concurrency = 4,
            .batch = 32,
            .fetch_timeout = 200ms,
            .nak_delay = 50ms};
  }

  static Event OrderEvent(const std::string& aggregate, int64_t n) {
    return MakeEvent("orders", "OrderConfirmed", aggregate, boost::json::object{{"n", n}},
                     obs::TraceContext::NewRoot());
  }

  Result<PublishAck> Publish(const Event& event, const std::string& msg_id) {
    return broker_->Publish(event.subject_name(), msg_id, Serialize(event));
  }

  static Result<void> RecordEffect(Connection& tx, const Event& e) {
    const auto* n = e.data.is_object() ? e.data.as_object().if_contains("n") : nullptr;
    if (n == nullptr || !n->is_int64()) return Error{ErrorCode::kInvalidArgument, "no n", "data.n"};
    auto saved = tx.Execute("INSERT INTO effects (event_id, aggregate, n) VALUES ($1, $2, $3)",
                            {e.id, e.subject, n->as_int64()});
    if (!saved) return saved.error();
    return Ok();
  }

  int64_t QueryInt(std::string_view sql, const std::vector<storage::Value>& params = {}) {
    auto rows = db_->ReadBlocking([&](Connection& c) { return c.Query(sql, params); });
    if (!rows || rows->empty()) return -1;
    return (*rows)[0].Int(0);
  }
  int64_t Effects() { return QueryInt("SELECT count(*) FROM effects"); }
  int64_t EffectsOf(const std::string& event_id) {
    return QueryInt("SELECT count(*) FROM effects WHERE event_id = $1", {event_id});
  }
  int64_t DistinctEffects() { return QueryInt("SELECT count(DISTINCT event_id) FROM effects"); }

  double Processed(const std::string& outcome) {
    return metrics_
        .AddCounter("mercato_consumer_processed_total", "", {"consumer", "subject", "outcome"})
        .WithLabels({"delivery", "orders.OrderConfirmed", outcome})
        .Value();
  }
  double Counter(const std::string& name) {
    return metrics_.AddCounter(name, "", {"consumer"}).WithLabels({"delivery"}).Value();
  }

  testing::NatsServer nats_;
  testing::TempDir dir_;
  obs::Registry metrics_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<storage::Database> db_;
};

TEST_F(EventConsumerTest, SameEventUnderTwoMessageIdsIsAppliedOnce) {
  EventConsumer consumer(*db_, *broker_, Options(), metrics_);
  consumer.On("orders.OrderConfirmed", RecordEffect);
  ASSERT_TRUE(consumer.Start());

  // Two messages the broker cannot deduplicate (different Nats-Msg-Id) carrying one CloudEvent:
  // what a redelivery after a lost ack, or a republish after a relay crash, looks like.
  const Event event = OrderEvent("o-1", 1);
  ASSERT_TRUE(Publish(event, "x-1"));
  ASSERT_TRUE(Publish(event, "x-2"));

  ASSERT_TRUE(testing::WaitFor([&] { return Processed("ok") + Processed("duplicate") == 2; }, 10s));
  EXPECT_EQ(Processed("ok"), 1);
  EXPECT_EQ(Processed("duplicate"), 1);
  EXPECT_EQ(EffectsOf(event.id), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM mercato_inbox WHERE event_id = $1", {event.id}), 1);
}

TEST_F(EventConsumerTest, EventsWithoutAHandlerAreAcknowledgedAndCountedAsIgnored) {
  EventConsumer consumer(*db_, *broker_, Options(), metrics_);
  consumer.On("orders.OrderConfirmed", RecordEffect);
  ASSERT_TRUE(consumer.Start());
  const Event other = MakeEvent("orders", "OrderCancelled", "o-1", boost::json::object{});
  ASSERT_TRUE(broker_->Publish(other.subject_name(), other.id, Serialize(other)));
  ASSERT_TRUE(Publish(OrderEvent("o-2", 1), "m-2"));
  ASSERT_TRUE(testing::WaitFor([&] { return Effects() == 1; }, 10s));
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return metrics_
                   .AddCounter("mercato_consumer_processed_total", "",
                               {"consumer", "subject", "outcome"})
                   .WithLabels({"delivery", "orders.OrderCancelled", "ignored"})
                   .Value() == 1;
      },
      5s));
}

TEST_F(EventConsumerTest, PoisonEventIsDeadLetteredAndReplayedOnceFixed) {
  std::atomic<bool> fixed{false};
  EventConsumer consumer(*db_, *broker_, Options(), metrics_);
  consumer.On("orders.OrderConfirmed", [&](Connection& tx, const Event& e) -> Result<void> {
    if (e.subject == "poison" && !fixed.load()) {
      return Error{ErrorCode::kUnavailable, "warehouse system offline"};
    }
    return RecordEffect(tx, e);
  });
  ASSERT_TRUE(consumer.Start());

  const Event poison = OrderEvent("poison", 0);
  ASSERT_TRUE(Publish(poison, poison.id));
  std::vector<Event> after;
  for (int i = 0; i < 5; ++i) {
    after.push_back(OrderEvent("ok-" + std::to_string(i), i));
    ASSERT_TRUE(Publish(after.back(), after.back().id));
  }

  ASSERT_TRUE(testing::WaitFor([&] { return Counter("mercato_consumer_dead_lettered_total") == 1; },
                               20s));
  // Consumption went on around the poison event.
  ASSERT_TRUE(testing::WaitFor([&] { return Effects() == 5; }, 10s));
  EXPECT_EQ(EffectsOf(poison.id), 0);
  EXPECT_EQ(Processed("failed"), 2);  // deliveries 1 and 2 were retried, the 3rd dead-lettered
  EXPECT_EQ(Processed("dead_lettered"), 1);
  // Retried in place inside its lane, so the broker never had to redeliver it.
  EXPECT_EQ(Counter("mercato_consumer_redelivered_total"), 0);

  auto letters = ListDeadLetters(*broker_, "delivery");
  ASSERT_TRUE(letters) << letters.error().message;
  ASSERT_EQ(letters->size(), 1u);
  const DeadLetter& letter = (*letters)[0];
  EXPECT_EQ(letter.service, "delivery");
  EXPECT_EQ(letter.event_id, poison.id);
  EXPECT_EQ(letter.original_subject, "orders.OrderConfirmed");
  EXPECT_EQ(letter.deliveries, 3u);
  EXPECT_NE(letter.error.find("warehouse system offline"), std::string::npos) << letter.error;
  EXPECT_NE(letter.error.find("unavailable"), std::string::npos) << letter.error;
  EXPECT_FALSE(letter.time.empty());
  auto parsed = Parse(letter.event_json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->traceparent, poison.traceparent);

  auto others = ListDeadLetters(*broker_, "analytics");
  ASSERT_TRUE(others) << others.error().message;
  EXPECT_TRUE(others->empty());
  auto all = ListDeadLetters(*broker_, "");
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), 1u);

  fixed = true;
  ASSERT_TRUE(ReplayDeadLetter(*broker_, letter.sequence));
  ASSERT_TRUE(testing::WaitFor([&] { return EffectsOf(poison.id) == 1; }, 10s));

  // Once applied, the same event again (a second replay, a stray copy) changes nothing.
  ASSERT_TRUE(Publish(poison, "stray-copy"));
  ASSERT_TRUE(testing::WaitFor([&] { return Processed("duplicate") == 1; }, 10s));
  EXPECT_EQ(EffectsOf(poison.id), 1);
  EXPECT_EQ(Effects(), 6);

  auto missing = ReplayDeadLetter(*broker_, letter.sequence + 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(EventConsumerTest, PermanentErrorsAndUnparseableMessagesAreDeadLetteredAtOnce) {
  EventConsumer consumer(*db_, *broker_, Options(), metrics_);
  consumer.On("orders.OrderConfirmed", RecordEffect);  // invalid_argument without data.n
  ASSERT_TRUE(consumer.Start());

  const Event no_n = MakeEvent("orders", "OrderConfirmed", "o-1", boost::json::object{});
  ASSERT_TRUE(Publish(no_n, no_n.id));
  ASSERT_TRUE(broker_->Publish("orders.OrderConfirmed", "garbage-1", "{not json"));
  ASSERT_TRUE(testing::WaitFor([&] { return Counter("mercato_consumer_dead_lettered_total") == 2; },
                               10s));
  EXPECT_EQ(Processed("failed"), 0);  // no retries for permanent failures

  auto letters = ListDeadLetters(*broker_, "delivery");
  ASSERT_TRUE(letters) << letters.error().message;
  ASSERT_EQ(letters->size(), 2u);
  for (const auto& letter : *letters) EXPECT_EQ(letter.deliveries, 1u);
  // Newest first.
  EXPECT_GT((*letters)[0].sequence, (*letters)[1].sequence);
  bool saw_invalid = false;
  for (const auto& letter : *letters) {
    if (letter.event_id == no_n.id) {
      saw_invalid = true;
      EXPECT_NE(letter.error.find("invalid_argument"), std::string::npos) << letter.error;
    } else {
      EXPECT_EQ(letter.event_json, "{not json");
    }
  }
  EXPECT_TRUE(saw_invalid);
}

TEST_F(EventConsumerTest, EachAggregatesEventsApplyInWrittenOrderAcrossLanes) {
  constexpr int kPerAggregate = 100;
  const std::vector<std::string> aggregates = {"a-1", "b-2", "c-3"};

  // Written through the outbox, interleaved across aggregates, and relayed.
  auto producer_db = OpenDatabase(dir_.path() + "/orders.db");
  auto producer_broker = Connect("orders");
  auto written = producer_db->TransactBlocking([&](Connection& tx) -> Result<void> {
    for (int n = 0; n < kPerAggregate; ++n) {
      for (const auto& aggregate : aggregates) {
        if (auto r = Enqueue(tx, OrderEvent(aggregate, n)); !r) return r;
      }
    }
    return Ok();
  });
  ASSERT_TRUE(written) << written.error().message;

  EventConsumer consumer(*db_, *broker_, Options(), metrics_);
  consumer.On("orders.OrderConfirmed", RecordEffect);
  ASSERT_TRUE(consumer.Start());
  OutboxRelay relay(*producer_db, *producer_broker, {.service = "orders", .batch = 50}, metrics_);
  relay.Start();

  const int64_t total = kPerAggregate * static_cast<int64_t>(aggregates.size());
  ASSERT_TRUE(testing::WaitFor([&] { return Effects() == total; }, 30s)) << Effects();
  for (const auto& aggregate : aggregates) {
    auto rows = db_->ReadBlocking([&](Connection& c) {
      return c.Query("SELECT n FROM effects WHERE aggregate = $1 ORDER BY seq", {aggregate});
    });
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), static_cast<size_t>(kPerAggregate));
    for (int n = 0; n < kPerAggregate; ++n) {
      ASSERT_EQ((*rows)[static_cast<size_t>(n)].Int(0), n) << aggregate << " applied out of order";
    }
  }
}

TEST_F(EventConsumerTest, AFailingEventHoldsBackLaterEventsOfItsAggregateOnly) {
  std::atomic<int> failures_left{2};
  EventConsumer consumer(*db_, *broker_, Options(), metrics_);
  consumer.On("orders.OrderConfirmed", [&](Connection& tx, const Event& e) -> Result<void> {
    if (e.subject == "a-1" && e.data.as_object().at("n").as_int64() == 3 && failures_left.fetch_sub(1) > 0) {
      return Error{ErrorCode::kUnavailable, "transient"};
    }
    return RecordEffect(tx, e);
  });
  ASSERT_TRUE(consumer.Start());
  for (int n = 0; n < 10; ++n) {
    for (const char* aggregate : {"a-1", "b-2"}) {
      const Event event = OrderEvent(aggregate, n);
      ASSERT_TRUE(Publish(event, event.id));
    }
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Effects() == 20; }, 20s)) << Effects();
  for (const char* aggregate : {"a-1", "b-2"}) {
    auto rows = db_->ReadBlocking([&](Connection& c) {
      return c.Query("SELECT n FROM effects WHERE aggregate = $1 ORDER BY seq", {std::string(aggregate)});
    });
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 10u);
    for (int n = 0; n < 10; ++n) {
      EXPECT_EQ((*rows)[static_cast<size_t>(n)].Int(0), n) << aggregate << " applied out of order";
    }
  }
  EXPECT_EQ(Processed("failed"), 2);
  EXPECT_EQ(Processed("dead_lettered"), 0);
}

TEST_F(EventConsumerTest, StopHandsBackUnstartedEventsAndAppliesNothingTwice) {
  constexpr int kEvents = 600;
  auto producer_db = OpenDatabase(dir_.path() + "/orders.db");
  auto producer_broker = Connect("orders");
  OutboxRelay relay(*producer_db, *producer_broker, {.service = "orders", .batch = 50}, metrics_);
  relay.Start();

  // Events keep flowing while one consumer stops and the next starts.
  std::atomic<bool> producer_ok{true};
  std::thread producer([&] {
    for (int batch = 0; batch < kEvents / 20; ++batch) {
      auto written = producer_db->TransactBlocking([&](Connection& tx) -> Result<void> {
        for (int i = 0; i < 20; ++i) {
          if (auto r = Enqueue(tx, OrderEvent("o-" + std::to_string(i % 7), batch * 20 + i)); !r)
            return r;
        }
        return Ok();
      });
      if (!written) producer_ok = false;
      relay.Notify();
    }
  });

  // A handler slow enough that the lanes hold queued events when Stop() comes, and an ack_wait
  // longer than the wait below: an event Stop() abandoned instead of handing back (Nak) would
  // only return after ack_wait, and the wait would fail.
  ConsumerOptions options = Options();
  options.ack_wait = 60s;
  auto slow_effect = [](Connection& tx, const Event& e) {
    std::this_thread::sleep_for(1ms);
    return RecordEffect(tx, e);
  };
  {
    EventConsumer first(*db_, *broker_, options, metrics_);
    first.On("orders.OrderConfirmed", slow_effect);
    ASSERT_TRUE(first.Start());
    ASSERT_TRUE(testing::WaitFor([&] { return Effects() >= 100; }, 20s));
    first.Stop();
  }
  const int64_t at_stop = Effects();
  EventConsumer second(*db_, *broker_, options, metrics_);
  second.On("orders.OrderConfirmed", slow_effect);
  ASSERT_TRUE(second.Start());

  producer.join();
  ASSERT_TRUE(producer_ok);
  ASSERT_TRUE(testing::WaitFor([&] { return DistinctEffects() == kEvents; }, 30s))
      << DistinctEffects();
  EXPECT_EQ(Effects(), kEvents) << "an effect was applied twice";
  // Graceful: whatever the first consumer started it also acked, so the second never even saw a
  // duplicate.
  EXPECT_EQ(Processed("duplicate"), 0);
  EXPECT_LT(at_stop, kEvents) << "the stop happened after everything was consumed; test is moot";
}

}  // namespace
}  // namespace mercato::messaging
