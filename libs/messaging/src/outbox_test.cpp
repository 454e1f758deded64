// The outbox and its relay against a real nats-server and real SQLite files: schema, Enqueue,
// contract rejection, the producer-to-consumer round trip, Notify latency and a broker outage.
#include "mercato/messaging/outbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>

#include "fault.hpp"
#include "mercato/messaging/consumer.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/nats_server.hpp"
#include "test_support.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::messaging {
namespace {

using namespace std::chrono_literals;
using storage::Connection;

constexpr std::string_view kProducerSchema =
    "CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)";
// No uniqueness on event_id on purpose: a double effect must show up as a second row.
constexpr std::string_view kConsumerSchema =
    "CREATE TABLE shipments (seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, "
    "event_id TEXT NOT NULL, trace_id TEXT NOT NULL)";

std::unique_ptr<storage::Database> OpenDatabase(const std::string& path, std::string_view schema) {
  return OpenMigratedForTest(path, schema);
}

int64_t QueryInt(storage::Database& db, std::string_view sql) {
  auto rows = db.ReadBlocking([&](Connection& c) { return c.Query(sql); });
  if (!rows || rows->empty()) return -1;
  return (*rows)[0].Int(0);
}

double CounterValue(obs::Registry& metrics, const std::string& name,
                    const std::vector<std::string>& labels, const std::vector<std::string>& values) {
  return metrics.AddCounter(name, "", labels).WithLabels(values).Value();
}

Event OrderConfirmed(const std::string& order_id, int64_t total,
                     const std::optional<obs::TraceContext>& trace = std::nullopt) {
  return MakeEvent("orders", "OrderConfirmed", order_id,
                   boost::json::object{{"order_id", order_id}, {"total", total}}, trace);
}

// The order and its event in ONE transaction, as a service does it.
Result<void> PlaceOrder(storage::Database& db, const Event& event, int64_t total) {
  return db.TransactBlocking([&](Connection& tx) -> Result<void> {
    auto saved = tx.Execute("INSERT INTO orders (id, total) VALUES ($1, $2)", {event.subject, total});
    if (!saved) return saved.error();
    return Enqueue(tx, event);
  });
}

// ---------------------------------------------------------------------------------------------
// Without a broker.

class OutboxSchemaTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<storage::Database> db_ = OpenDatabase(dir_.path() + "/p.db", kProducerSchema);
};

TEST_F(OutboxSchemaTest, MigrationsUseTheReservedVersions) {
  const auto& migrations = Migrations();
  ASSERT_EQ(migrations.size(), 2u);
  EXPECT_EQ(migrations[0].version, 9001);
  EXPECT_EQ(migrations[1].version, 9002);
  // Applying again is a no-op: services append these to their own list on every start.
  auto again = storage::ApplyMigrations(*db_, Migrations());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 0);
}

TEST_F(OutboxSchemaTest, EnqueueWritesAPendingRowInTheCallersTransaction) {
  const Event event = OrderConfirmed("o-1", 1250);
  ASSERT_TRUE(PlaceOrder(*db_, event, 1250));

  auto rows = db_->ReadBlocking([](Connection& c) {
    return c.Query(
        "SELECT event_id, subject, aggregate_id, payload, published_at, attempts FROM mercato_outbox");
  });
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1u);
  const auto& row = (*rows)[0];
  EXPECT_EQ(row.String("event_id"), event.id);
  EXPECT_EQ(row.String("subject"), "orders.OrderConfirmed");
  EXPECT_EQ(row.String("aggregate_id"), "o-1");
  EXPECT_TRUE(row.IsNull("published_at"));
  EXPECT_EQ(row.Int("attempts"), 0);
  auto parsed = Parse(row.String("payload"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->id, event.id);
}

TEST_F(OutboxSchemaTest, RolledBackTransactionLeavesNoEvent) {
  const Event event = OrderConfirmed("o-2", 100);
  auto failed = db_->TransactBlocking([&](Connection& tx) -> Result<void> {
    if (auto r = Enqueue(tx, event); !r) return r;
    return Error{ErrorCode::kAborted, "business rule said no"};
  });
  EXPECT_FALSE(failed);
  EXPECT_EQ(QueryInt(*db_, "SELECT count(*) FROM mercato_outbox"), 0);
}

TEST_F(OutboxSchemaTest, EnqueueRefusesADuplicateEventId) {
  const Event event = OrderConfirmed("o-3", 100);
  auto first = db_->TransactBlocking([&](Connection& tx) { return Enqueue(tx, event); });
  ASSERT_TRUE(first) << first.error().message;
  auto second = db_->TransactBlocking([&](Connection& tx) { return Enqueue(tx, event); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
}

// Named *DeathTest so GoogleTest runs it before any test starts threads.
TEST(FaultPointDeathTest, KillsTheProcessOnlyAtTheArmedPoint) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process: the variable is read once
  EXPECT_EXIT(
      {
        setenv("MERCATO_FAULT", "relay.after_publish_before_mark", 1);
        FaultPoint("relay.before_publish");  // not armed: returns
        FaultPoint("relay.after_publish_before_mark");
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

// ---------------------------------------------------------------------------------------------
// With a real nats-server.

class OutboxRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    producer_broker_ = Connect("orders");
    consumer_broker_ = Connect("delivery");
    auto stream = producer_broker_->EnsureStream(StreamSpec::ForContext("ORDERS", "orders"));
    ASSERT_TRUE(stream) << stream.error().message;
  }

  std::unique_ptr<Broker> Connect(const std::string& name) { return ConnectForTest(nats_, name); }

  RelayOptions Relay(Duration idle_poll = 1s) {
    return {.service = "orders",
            .batch = 100,
            .idle_poll = idle_poll,
            .initial_backoff = 50ms,
            .max_backoff = 500ms};
  }

  ConsumerOptions Consumer() {
    return {.service = "delivery",
            .stream = "ORDERS",
            .filter_subject = "orders.>",
            .ack_wait = 10s,
            .max_deliver = 5,
            .concurrency = 4,
            .batch = 64,
            .fetch_timeout = 200ms,
            .nak_delay = 50ms};
  }

  // The consuming service's effect: one shipment row per OrderConfirmed, with the trace it saw.
  void HandleOrders(EventConsumer& consumer) {
    consumer.On("orders.OrderConfirmed", [](Connection& tx, const Event& e) -> Result<void> {
      auto trace = obs::TraceContext::Parse(e.traceparent);
      auto saved = tx.Execute(
          "INSERT INTO shipments (order_id, event_id, trace_id) VALUES ($1, $2, $3)",
          {e.subject, e.id, trace ? trace->TraceIdHex() : std::string()});
      if (!saved) return saved.error();
      return Ok();
    });
  }

  int64_t Shipments() { return QueryInt(*consumer_db_, "SELECT count(*) FROM shipments"); }
  int64_t DistinctShipments() {
    return QueryInt(*consumer_db_, "SELECT count(DISTINCT event_id) FROM shipments");
  }

  testing::NatsServer nats_;
  testing::TempDir dir_;
  obs::Registry metrics_;
  std::unique_ptr<Broker> producer_broker_;
  std::unique_ptr<Broker> consumer_broker_;
  std::unique_ptr<storage::Database> producer_db_ =
      OpenDatabase(dir_.path() + "/orders.db", kProducerSchema);
  std::unique_ptr<storage::Database> consumer_db_ =
      OpenDatabase(dir_.path() + "/delivery.db", kConsumerSchema);
};

TEST_F(OutboxRelayTest, EventTravelsFromProducerTransactionToConsumerEffectOnce) {
  OutboxRelay relay(*producer_db_, *producer_broker_, Relay(), metrics_);
  EventConsumer consumer(*consumer_db_, *consumer_broker_, Consumer(), metrics_);
  HandleOrders(consumer);
  ASSERT_TRUE(consumer.Start());
  relay.Start();

  const auto trace = obs::TraceContext::NewRoot();
  const Event event = OrderConfirmed("o-1", 4200, trace);
  ASSERT_TRUE(PlaceOrder(*producer_db_, event, 4200));
  relay.Notify();

  ASSERT_TRUE(testing::WaitFor([&] { return Shipments() == 1; }, 10s));
  auto rows = consumer_db_->ReadBlocking(
      [](Connection& c) { return c.Query("SELECT order_id, event_id, trace_id FROM shipments"); });
  ASSERT_TRUE(rows) << rows.error().message;
  EXPECT_EQ((*rows)[0].String("order_id"), "o-1");
  EXPECT_EQ((*rows)[0].String("event_id"), event.id);
  // The consumer joined the producer's trace.
  EXPECT_EQ((*rows)[0].String("trace_id"), trace.TraceIdHex());

  ASSERT_TRUE(testing::WaitFor([&] { return relay.pending() == 0; }, 5s));
  EXPECT_EQ(QueryInt(*producer_db_,
                     "SELECT count(*) FROM mercato_outbox WHERE published_at IS NOT NULL"), 1);
  EXPECT_EQ(QueryInt(*producer_db_, "SELECT attempts FROM mercato_outbox"), 1);
  EXPECT_EQ(CounterValue(metrics_, "mercato_outbox_published_total", {"service"}, {"orders"}), 1);
  EXPECT_EQ(QueryInt(*consumer_db_, "SELECT count(*) FROM mercato_inbox WHERE consumer = 'delivery'"),
            1);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return CounterValue(metrics_, "mercato_consumer_processed_total",
                            {"consumer", "subject", "outcome"},
                            {"delivery", "orders.OrderConfirmed", "ok"}) == 1;
      },
      5s));
  EXPECT_NE(metrics_.Expose().find("mercato_consumer_handle_seconds_count{consumer=\"delivery\"} 1"),
            std::string::npos);
}

TEST_F(OutboxRelayTest, NotifyWakesTheRelayLongBeforeItsIdlePoll) {
  OutboxRelay relay(*producer_db_, *producer_broker_, Relay(/*idle_poll=*/10s), metrics_);
  EventConsumer consumer(*consumer_db_, *consumer_broker_, Consumer(), metrics_);
  HandleOrders(consumer);
  ASSERT_TRUE(consumer.Start());
  relay.Start();

  // Warm-up: connections, the durable consumer and the relay's first look all happen here, so
  // the measured rounds below find the relay asleep on its 10 s poll.
  ASSERT_TRUE(PlaceOrder(*producer_db_, OrderConfirmed("warm-up", 1), 1));
  relay.Notify();
  ASSERT_TRUE(testing::WaitFor([&] { return Shipments() == 1; }, 10s));

  std::vector<double> latencies_ms;
  for (int round = 1; round <= 5; ++round) {
    const auto started = std::chrono::steady_clock::now();
    ASSERT_TRUE(PlaceOrder(*producer_db_, OrderConfirmed("o-" + std::to_string(round), 1), 1));
    relay.Notify();
    ASSERT_TRUE(testing::WaitFor([&] { return Shipments() == round + 1; }, 5s, 1ms))
        << "round " << round;
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    EXPECT_LT(latencies_ms.back(), 2000.0) << "round " << round;
  }
  std::string report;
  for (double ms : latencies_ms) report += std::to_string(ms).substr(0, 6) + " ";
  std::cout << "[ measured ] enqueue+Notify -> consumer effect, ms: " << report << "\n";
  RecordProperty("notify_latency_ms", report);
}

TEST_F(OutboxRelayTest, ThousandEventsEnqueuedDuringABrokerOutageArriveExactlyOnce) {
  constexpr int kEvents = 1000;
  OutboxRelay relay(*producer_db_, *producer_broker_, Relay(), metrics_);
  EventConsumer consumer(*consumer_db_, *consumer_broker_, Consumer(), metrics_);
  HandleOrders(consumer);
  ASSERT_TRUE(consumer.Start());
  relay.Start();

  nats_.Stop();
  const auto outage_started = std::chrono::steady_clock::now();
  for (int batch = 0; batch < kEvents / 100; ++batch) {
    auto written = producer_db_->TransactBlocking([&](Connection& tx) -> Result<void> {
      for (int i = 0; i < 100; ++i) {
        const std::string id = "o-" + std::to_string(batch * 100 + i);
        auto saved = tx.Execute("INSERT INTO orders (id, total) VALUES ($1, $2)", {id, int64_t{1}});
        if (!saved) return saved.error();
        if (auto r = Enqueue(tx, OrderConfirmed(id, 1)); !r) return r;
      }
      return Ok();
    });
    ASSERT_TRUE(written) << written.error().message;
    relay.Notify();
  }
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return CounterValue(metrics_, "mercato_outbox_publish_failures_total", {"service"},
                            {"orders"}) > 0;
      },
      10s));
  // The outage itself is what is being tested, so it lasts a while on purpose.
  std::this_thread::sleep_until(outage_started + 3s);
  EXPECT_EQ(relay.pending(), kEvents);
  EXPECT_EQ(Shipments(), 0);

  const auto restarted = std::chrono::steady_clock::now();
  nats_.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return DistinctShipments() == kEvents; }, 90s, 50ms))
      << "arrived: " << DistinctShipments() << ", outbox pending: " << relay.pending();
  const double recovery_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
  ASSERT_TRUE(testing::WaitFor([&] { return relay.pending() == 0; }, 10s));

  EXPECT_EQ(Shipments(), kEvents) << "some effect was applied twice";
  EXPECT_EQ(QueryInt(*producer_db_, "SELECT count(*) FROM mercato_outbox WHERE published_at IS NULL"),
            0);
  const double failures =
      CounterValue(metrics_, "mercato_outbox_publish_failures_total", {"service"}, {"orders"});
  EXPECT_GT(failures, 0);
  EXPECT_GE(CounterValue(metrics_, "mercato_outbox_published_total", {"service"}, {"orders"}),
            kEvents);
  std::cout << "[ measured ] " << kEvents << " events delivered " << recovery_s
            << " s after the broker came back (3 s outage); publish failures counted: " << failures
            << "\n";
  RecordProperty("outage_recovery_seconds", std::to_string(recovery_s));
}

TEST_F(OutboxRelayTest, EventBreakingItsContractIsKeptButNotPublished) {
  SchemaRegistry contracts;
  contracts.Add("orders.OrderConfirmed",
                boost::json::parse(R"({"type":"object","required":["order_id","total"],
                                       "properties":{"total":{"type":"integer","minimum":0}}})"));
  RelayOptions options = Relay();
  options.contracts = &contracts;
  OutboxRelay relay(*producer_db_, *producer_broker_, options, metrics_);

  const Event bad = OrderConfirmed("o-bad", -5);
  const Event good = OrderConfirmed("o-good", 5);
  ASSERT_TRUE(PlaceOrder(*producer_db_, bad, -5));
  ASSERT_TRUE(PlaceOrder(*producer_db_, good, 5));
  relay.Start();
  relay.Notify();

  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return CounterValue(metrics_, "mercato_outbox_published_total", {"service"}, {"orders"}) ==
               1;
      },
      10s));
  EXPECT_EQ(CounterValue(metrics_, "mercato_outbox_rejected_total", {"service"}, {"orders"}), 1);
  EXPECT_EQ(relay.pending(), 0);
  auto rows = producer_db_->ReadBlocking([](Connection& c) {
    return c.Query("SELECT event_id, published_at, rejected_reason FROM mercato_outbox ORDER BY seq");
  });
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].String("event_id"), bad.id);
  EXPECT_TRUE((*rows)[0].IsNull("published_at"));
  EXPECT_FALSE((*rows)[0].String("rejected_reason").empty());
  EXPECT_FALSE((*rows)[1].IsNull("published_at"));
  auto last = producer_broker_->LastSequence("ORDERS");
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_EQ(*last, 1u);  // only the good event reached the stream
}

TEST_F(OutboxRelayTest, EventTheBrokerRefusesIsParkedAndDoesNotBlockLaterOnes) {
  OutboxRelay relay(*producer_db_, *producer_broker_, Relay(), metrics_);
  // Over nats-server's default 1 MiB max_payload: refused for good, however often it is retried.
  Event huge = OrderConfirmed("o-huge", 1);
  huge.data.as_object()["padding"] = std::string(2 * 1024 * 1024, 'x');
  const Event after = OrderConfirmed("o-after", 2);
  ASSERT_TRUE(PlaceOrder(*producer_db_, huge, 1));
  ASSERT_TRUE(PlaceOrder(*producer_db_, after, 2));
  relay.Start();
  relay.Notify();

  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return CounterValue(metrics_, "mercato_outbox_published_total", {"service"}, {"orders"}) == 1;
      },
      10s))
      << "the event after the refused one must still be published";
  EXPECT_EQ(CounterValue(metrics_, "mercato_outbox_rejected_total", {"service"}, {"orders"}), 1);
  EXPECT_EQ(relay.pending(), 0);
  auto rows = producer_db_->ReadBlocking([](Connection& c) {
    return c.Query("SELECT event_id, published_at, rejected_reason FROM mercato_outbox ORDER BY seq");
  });
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_TRUE((*rows)[0].IsNull("published_at"));
  EXPECT_NE((*rows)[0].String("rejected_reason").find("broker refused"), std::string::npos);
  EXPECT_FALSE((*rows)[1].IsNull("published_at"));
}

TEST_F(OutboxRelayTest, StopInterruptsTheBackoffWhileTheBrokerIsDown) {
  OutboxRelay relay(*producer_db_, *producer_broker_,
                    {.service = "orders", .initial_backoff = 5s, .max_backoff = 30s}, metrics_);
  nats_.Stop();
  ASSERT_TRUE(PlaceOrder(*producer_db_, OrderConfirmed("o-1", 1), 1));
  relay.Start();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return CounterValue(metrics_, "mercato_outbox_publish_failures_total", {"service"},
                            {"orders"}) > 0;
      },
      10s));
  const auto started = std::chrono::steady_clock::now();
  relay.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(relay.pending(), 1);
}

// ---------------------------------------------------------------------------------------------
// Retention. Rows are written with explicit old timestamps, so nothing waits for the clock.

class OutboxRetentionTest : public OutboxRelayTest {
 protected:
  // seq-ordered outbox rows: (event id, published_at or NULL, rejected_reason or NULL).
  void InsertOutbox(const std::string& id, std::optional<WallTime> published,
                    std::optional<std::string> rejected, WallTime created) {
    auto done = producer_db_->WriteBlocking([&](Connection& c) {
      return c.Execute(
          "INSERT INTO mercato_outbox (event_id, subject, aggregate_id, payload, created_at, "
          "published_at, rejected_reason) VALUES ($1, 'orders.OrderConfirmed', 'o', '{}', $2, $3, $4)",
          {id, FormatRfc3339(created),
           published ? storage::Value(FormatRfc3339(*published)) : storage::Value{},
           rejected ? storage::Value(*rejected) : storage::Value{}});
    });
    ASSERT_TRUE(done) << done.error().message;
  }
  void InsertInbox(storage::Database& db, const std::string& id, WallTime processed) {
    auto done = db.WriteBlocking([&](Connection& c) {
      return c.Execute(
          "INSERT INTO mercato_inbox (consumer, event_id, subject, processed_at) "
          "VALUES ('delivery', $1, 'orders.OrderConfirmed', $2)",
          {id, FormatRfc3339(processed)});
    });
    ASSERT_TRUE(done) << done.error().message;
  }
  double Purged(const std::string& table) {
    return CounterValue(metrics_, "mercato_outbox_purged_rows_total", {"service", "table"},
                        {"orders", table});
  }

  const WallTime now_ = Clock::Real().WallNow();
};

TEST_F(OutboxRetentionTest, DeletesOnlyPublishedOutboxRowsPastRetention) {
  OutboxRelay relay(*producer_db_, *producer_broker_, Relay(), metrics_);
  const WallTime old = now_ - 30 * 24h;
  InsertOutbox("published-old", now_ - 25h, std::nullopt, old);
  InsertOutbox("published-just-old", now_ - 24h - 1s, std::nullopt, old);
  InsertOutbox("published-recent", now_ - 23h, std::nullopt, old);
  InsertOutbox("pending-old", std::nullopt, std::nullopt, old);
  InsertOutbox("rejected-old", std::nullopt, std::string("breaks contract"), old);
  // Defensive: a row that somehow is both published and rejected still waits for a person.
  InsertOutbox("rejected-published-old", now_ - 25h, std::string("broker refused"), old);

  auto purged = relay.PurgeOnce(now_);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 2);
  auto rows = producer_db_->ReadBlocking(
      [](Connection& c) { return c.Query("SELECT event_id FROM mercato_outbox ORDER BY seq"); });
  ASSERT_TRUE(rows) << rows.error().message;
  std::vector<std::string> kept;
  for (const auto& row : *rows) kept.push_back(row.String(0));
  EXPECT_EQ(kept, (std::vector<std::string>{"published-recent", "pending-old", "rejected-old",
                                            "rejected-published-old"}));
  EXPECT_EQ(Purged("mercato_outbox"), 2);
  EXPECT_EQ(Purged("mercato_inbox"), 0);

  // Nothing left to purge: a second run deletes nothing and counts nothing.
  auto again = relay.PurgeOnce(now_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Purged("mercato_outbox"), 2);
}

TEST_F(OutboxRetentionTest, DeletesInboxRowsOlderThanInboxRetentionInBatches) {
  // The inbox lives in the consuming service's database; its relay purges it.
  OutboxRelay relay(*consumer_db_, *producer_broker_, Relay(), metrics_);
  // More than one batch of old rows, so the batching loop is exercised.
  auto written = consumer_db_->TransactBlocking([&](Connection& tx) -> Result<void> {
    for (int i = 0; i < 2500; ++i) {
      auto r = tx.Execute(
          "INSERT INTO mercato_inbox (consumer, event_id, subject, processed_at) "
          "VALUES ('delivery', $1, 'orders.OrderConfirmed', $2)",
          {"old-" + std::to_string(i), FormatRfc3339(now_ - 9 * 24h)});
      if (!r) return r.error();
    }
    return Ok();
  });
  ASSERT_TRUE(written) << written.error().message;
  InsertInbox(*consumer_db_, "just-old", now_ - 8 * 24h - 1s);
  // Older than the streams' 7 days but inside the 8-day retention: must stay.
  InsertInbox(*consumer_db_, "recent", now_ - 7 * 24h - 1h);
  InsertInbox(*consumer_db_, "fresh", now_ - 1min);

  auto purged = relay.PurgeOnce(now_);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 2501);
  auto rows = consumer_db_->ReadBlocking(
      [](Connection& c) { return c.Query("SELECT event_id FROM mercato_inbox ORDER BY rowid"); });
  ASSERT_TRUE(rows) << rows.error().message;
  std::vector<std::string> kept;
  for (const auto& row : *rows) kept.push_back(row.String(0));
  EXPECT_EQ(kept, (std::vector<std::string>{"recent", "fresh"}));
  EXPECT_EQ(Purged("mercato_inbox"), 2501);
  EXPECT_EQ(Purged("mercato_outbox"), 0);
}

TEST_F(OutboxRetentionTest, RelayThreadPurgesOnItsOwn) {
  InsertOutbox("published-old", now_ - 48h, std::nullopt, now_ - 48h);
  InsertOutbox("pending-old", std::nullopt, std::nullopt, now_ - 48h);
  InsertInbox(*producer_db_, "inbox-old", now_ - 10 * 24h);
  OutboxRelay relay(*producer_db_, *producer_broker_, Relay(), metrics_);
  relay.Start();
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Purged("mercato_outbox") == 1 && Purged("mercato_inbox") == 1; }, 10s));
  // The old pending row was published by the same relay, and is now recent: kept.
  ASSERT_TRUE(testing::WaitFor([&] { return relay.pending() == 0; }, 10s));
  relay.Stop();
  EXPECT_EQ(QueryInt(*producer_db_, "SELECT count(*) FROM mercato_outbox"), 1);
  EXPECT_EQ(QueryInt(*producer_db_, "SELECT count(*) FROM mercato_inbox"), 0);
  EXPECT_NE(metrics_.Expose().find(
                "mercato_outbox_purged_rows_total{service=\"orders\",table=\"mercato_outbox\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace mercato::messaging
