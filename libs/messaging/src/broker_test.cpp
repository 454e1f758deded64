// Broker against a real nats-server with JetStream (testing::NatsServer): streams, dedup by
// Nats-Msg-Id, durable pull consumers (ack, redelivery, nak, term, max_deliver), stored-message
// reads, and behaviour across a broker outage.
#include "mercato/messaging/broker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::messaging {
namespace {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

// One server for the tests that do not stop it; each test uses its own stream and subjects.
class BrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new testing::NatsServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    auto broker = Broker::Connect(Options(server_->url()));
    ASSERT_TRUE(broker) << broker.error().message;
    broker_ = std::move(*broker);
    // A stream and subject space of this test's own: "T<n>" / "t<n>.>".
    static std::atomic<int> counter{0};
    int n = ++counter;
    stream_ = "T" + std::to_string(n);
    context_ = "t" + std::to_string(n);
    auto ensured = broker_->EnsureStream(StreamSpec::ForContext(stream_, context_));
    ASSERT_TRUE(ensured) << ensured.error().message;
  }

  static BrokerOptions Options(std::string url) {
    BrokerOptions options;
    options.url = std::move(url);
    options.name = "broker-test";
    options.request_timeout = 1s;
    options.reconnect_wait = 100ms;
    options.retry_on_failed_connect = false;
    return options;
  }

  ConsumerSpec Consumer(std::string durable, Duration ack_wait = 30s, int max_deliver = 5) const {
    ConsumerSpec spec;
    spec.stream = stream_;
    spec.durable = std::move(durable);
    spec.filter_subject = context_ + ".>";
    spec.ack_wait = ack_wait;
    spec.max_deliver = max_deliver;
    return spec;
  }

  std::string Subject(const std::string& type) const { return context_ + "." + type; }

  PublishAck MustPublish(const std::string& msg_id, const std::string& payload,
                         const Headers& headers = {}) {
    auto ack = broker_->Publish(Subject("Happened"), msg_id, payload, headers);
    EXPECT_TRUE(ack) << ack.error().message;
    return ack ? *ack : PublishAck{};
  }

  std::unique_ptr<PullConsumer> MustSubscribe(const ConsumerSpec& spec) {
    auto consumer = broker_->Subscribe(spec);
    EXPECT_TRUE(consumer) << consumer.error().message;
    return consumer ? std::move(*consumer) : nullptr;
  }

  // Fetches until `count` messages arrived or `timeout` passed.
  static std::vector<std::unique_ptr<Message>> FetchN(PullConsumer& consumer, size_t count,
                                                      Duration timeout = 5s) {
    std::vector<std::unique_ptr<Message>> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto batch = consumer.Fetch(static_cast<int>(count - out.size()), 500ms);
      EXPECT_TRUE(batch) << batch.error().message;
      if (!batch) break;
      for (auto& m : *batch) out.push_back(std::move(m));
    }
    return out;
  }

  static testing::NatsServer* server_;
  std::unique_ptr<Broker> broker_;
  std::string stream_;
  std::string context_;
};

testing::NatsServer* BrokerTest::server_ = nullptr;

TEST_F(BrokerTest, ConnectsToARunningServer) { EXPECT_TRUE(broker_->Connected()); }

TEST(Broker, ConnectFailsWhenNothingListensAndRetryIsOff) {
  BrokerOptions options;
  options.url = "nats://127.0.0.1:" + std::to_string(testing::ClosedTcpPort());
  options.retry_on_failed_connect = false;
  options.connect_timeout = 1s;
  auto broker = Broker::Connect(options);
  ASSERT_FALSE(broker);
  EXPECT_EQ(broker.error().code, ErrorCode::kUnavailable) << broker.error().message;
}

TEST_F(BrokerTest, EnsureStreamIsIdempotentAndUpdatesLimits) {
  auto spec = StreamSpec::ForContext(stream_, context_);
  ASSERT_TRUE(broker_->EnsureStream(spec));
  ASSERT_TRUE(broker_->EnsureStream(spec));

  // Shrink the stream to ~2 KiB: old messages must then be discarded, proving the update applied.
  spec.max_bytes = 2048;
  auto updated = broker_->EnsureStream(spec);
  ASSERT_TRUE(updated) << updated.error().message;
  const std::string payload(100, 'x');
  for (int i = 0; i < 50; ++i) MustPublish("limit-" + std::to_string(i), payload);

  auto last = broker_->LastSequence(stream_);
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_EQ(*last, 50u);
  auto first = broker_->GetMessage(stream_, 1);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(broker_->GetMessage(stream_, 50));
}

TEST_F(BrokerTest, EnsureStreamRejectsAnEmptyName) {
  auto r = broker_->EnsureStream(StreamSpec{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(BrokerTest, PublishReturnsAscendingSequences) {
  auto a = MustPublish("a", "1");
  auto b = MustPublish("b", "2");
  auto c = MustPublish("c", "3");
  EXPECT_EQ(a.stream, stream_);
  EXPECT_EQ(a.sequence, 1u);
  EXPECT_EQ(b.sequence, 2u);
  EXPECT_EQ(c.sequence, 3u);
  EXPECT_FALSE(a.duplicate || b.duplicate || c.duplicate);
}

TEST_F(BrokerTest, SameMsgIdWithinTheWindowIsStoredOnce) {
  auto first = MustPublish("event-1", "payload");
  auto second = MustPublish("event-1", "payload");
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(second.sequence, first.sequence);
  auto last = broker_->LastSequence(stream_);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 1u);
}

TEST_F(BrokerTest, PublishToASubjectNoStreamCoversIsUnavailable) {
  auto ack = broker_->Publish("nostream.Happened", "x", "p");
  ASSERT_FALSE(ack);
  EXPECT_EQ(ack.error().code, ErrorCode::kUnavailable) << ack.error().message;
}

TEST_F(BrokerTest, PullConsumerFetchesPublishedMessages) {
  MustPublish("m1", "one");
  MustPublish("m2", "two");
  auto consumer = MustSubscribe(Consumer("svc"));
  ASSERT_TRUE(consumer);

  auto messages = FetchN(*consumer, 2);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]->subject(), Subject("Happened"));
  EXPECT_EQ(messages[0]->data(), "one");
  EXPECT_EQ(messages[1]->data(), "two");
  EXPECT_EQ(messages[0]->stream_sequence(), 1u);
  EXPECT_EQ(messages[1]->stream_sequence(), 2u);
  EXPECT_EQ(messages[0]->num_delivered(), 1u);
  EXPECT_EQ(messages[0]->num_pending(), 1u);
  EXPECT_EQ(messages[1]->num_pending(), 0u);
  for (auto& m : messages) EXPECT_TRUE(m->Ack());

  auto none = consumer->Fetch(10, 200ms);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty());
}

TEST_F(BrokerTest, FetchOnAnEmptyStreamTimesOutWithNoMessages) {
  auto consumer = MustSubscribe(Consumer("svc"));
  ASSERT_TRUE(consumer);
  auto started = std::chrono::steady_clock::now();
  auto batch = consumer->Fetch(5, 300ms);
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_TRUE(batch->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);
}

TEST_F(BrokerTest, UnackedMessageIsRedeliveredAfterAckWait) {
  MustPublish("m1", "one");
  auto consumer = MustSubscribe(Consumer("svc", 500ms));
  ASSERT_TRUE(consumer);
  auto first = FetchN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]->num_delivered(), 1u);
  // No ack: after ack_wait the server hands it out again.
  auto again = FetchN(*consumer, 1, 5s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]->stream_sequence(), 1u);
  EXPECT_EQ(again[0]->num_delivered(), 2u);
  EXPECT_TRUE(again[0]->Ack());
}

TEST_F(BrokerTest, NakRedelivers) {
  MustPublish("m1", "one");
  auto consumer = MustSubscribe(Consumer("svc"));  // ack_wait 30s: only the nak can redeliver
  ASSERT_TRUE(consumer);
  auto first = FetchN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0]->Nak(Duration::zero()));
  auto again = FetchN(*consumer, 1, 5s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]->num_delivered(), 2u);
  EXPECT_TRUE(again[0]->Ack());
}

TEST_F(BrokerTest, NakWithDelayRedeliversAfterTheDelay) {
  MustPublish("m1", "one");
  auto consumer = MustSubscribe(Consumer("svc"));
  ASSERT_TRUE(consumer);
  auto first = FetchN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  auto nacked = std::chrono::steady_clock::now();
  ASSERT_TRUE(first[0]->Nak(700ms));
  auto again = FetchN(*consumer, 1, 10s);
  ASSERT_EQ(again.size(), 1u);
  // Not before the delay (catches a ms/ns mix-up one way), and not minutes later (the other way).
  EXPECT_GE(std::chrono::steady_clock::now() - nacked, 600ms);
  EXPECT_EQ(again[0]->num_delivered(), 2u);
}

TEST_F(BrokerTest, TermDoesNotRedeliver) {
  MustPublish("m1", "one");
  auto consumer = MustSubscribe(Consumer("svc", 500ms));
  ASSERT_TRUE(consumer);
  auto first = FetchN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0]->Term());
  // Three ack_waits without a redelivery.
  auto batch = consumer->Fetch(1, 1500ms);
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_TRUE(batch->empty());
}

TEST_F(BrokerTest, MaxDeliverIsHonoured) {
  MustPublish("m1", "one");
  auto consumer = MustSubscribe(Consumer("svc", 500ms, /*max_deliver=*/2));
  ASSERT_TRUE(consumer);
  auto first = FetchN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  auto second = FetchN(*consumer, 1, 5s);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]->num_delivered(), 2u);
  // Never acked, but delivered max_deliver times: no third delivery.
  auto third = consumer->Fetch(1, 1500ms);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_TRUE(third->empty());
}

TEST_F(BrokerTest, DurableSurvivesDestroyingTheConsumer) {
  MustPublish("m1", "one");
  MustPublish("m2", "two");
  {
    auto consumer = MustSubscribe(Consumer("svc"));
    ASSERT_TRUE(consumer);
    auto messages = FetchN(*consumer, 2);
    ASSERT_EQ(messages.size(), 2u);
    for (auto& m : messages) ASSERT_TRUE(m->Ack());
  }
  MustPublish("m3", "three");

  auto consumer = MustSubscribe(Consumer("svc"));
  ASSERT_TRUE(consumer);
  auto messages = FetchN(*consumer, 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]->data(), "three");
  EXPECT_EQ(messages[0]->num_delivered(), 1u);
  EXPECT_TRUE(messages[0]->Ack());
  auto none = consumer->Fetch(10, 300ms);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(BrokerTest, ResubscribingWithChangedLimitsUpdatesTheDurable) {
  MustPublish("m1", "one");
  {
    auto consumer = MustSubscribe(Consumer("svc", 30s, 5));
    ASSERT_TRUE(consumer);
  }
  // A new deploy shortens ack_wait: binding must not fail, and the new ack_wait must apply.
  auto consumer = MustSubscribe(Consumer("svc", 500ms, 3));
  ASSERT_TRUE(consumer);
  auto first = FetchN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  auto again = FetchN(*consumer, 1, 5s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]->num_delivered(), 2u);
}

TEST_F(BrokerTest, SubscribeToAMissingStreamIsNotFound) {
  auto spec = Consumer("svc");
  spec.stream = "NOSUCHSTREAM";
  auto consumer = broker_->Subscribe(spec);
  ASSERT_FALSE(consumer);
  EXPECT_EQ(consumer.error().code, ErrorCode::kNotFound) << consumer.error().message;
}

TEST_F(BrokerTest, PendingReportsTheLag) {
  for (int i = 0; i < 5; ++i) MustPublish("m" + std::to_string(i), "x");
  auto consumer = MustSubscribe(Consumer("svc"));
  ASSERT_TRUE(consumer);
  auto pending = consumer->Pending();
  ASSERT_TRUE(pending) << pending.error().message;
  EXPECT_EQ(*pending, 5u);

  auto messages = FetchN(*consumer, 2);
  ASSERT_EQ(messages.size(), 2u);
  for (auto& m : messages) ASSERT_TRUE(m->Ack());
  pending = consumer->Pending();
  ASSERT_TRUE(pending);
  EXPECT_EQ(*pending, 3u);
}

TEST_F(BrokerTest, GetMessageReadsStoredMessagesAndLastSequence) {
  auto empty = broker_->LastSequence(stream_);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, 0u);

  auto before = std::chrono::system_clock::now();
  MustPublish("id-1", "one", {{"Ce-Type", "mercato.test.Happened"}});
  MustPublish("id-2", "two");
  auto last = broker_->LastSequence(stream_);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 2u);

  auto stored = broker_->GetMessage(stream_, 1);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->sequence, 1u);
  EXPECT_EQ(stored->subject, Subject("Happened"));
  EXPECT_EQ(stored->data, "one");
  Headers expected_subset = {{"Ce-Type", "mercato.test.Happened"}, {"Nats-Msg-Id", "id-1"}};
  for (const auto& h : expected_subset) {
    EXPECT_NE(std::find(stored->headers.begin(), stored->headers.end(), h), stored->headers.end())
        << h.first;
  }
  WallTime time;
  ASSERT_TRUE(ParseRfc3339(stored->time, time)) << stored->time;
  EXPECT_LT(std::chrono::abs(time - before), std::chrono::seconds(30)) << stored->time;

  auto missing = broker_->GetMessage(stream_, 3);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
  auto no_stream = broker_->LastSequence("NOSUCHSTREAM");
  ASSERT_FALSE(no_stream);
  EXPECT_EQ(no_stream.error().code, ErrorCode::kNotFound) << no_stream.error().message;
}

TEST_F(BrokerTest, ReadStreamEventsReturnsEveryEventInOrderAndRefusesForeignMessages) {
  auto none = ReadStreamEvents(*broker_, "NOSUCHSTREAM");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty()) << "a stream not created yet holds no events";
  auto first = MakeEvent(context_, "Happened", "agg-1", boost::json::object{{"n", 1}});
  auto second = MakeEvent(context_, "Happened", "agg-2", boost::json::object{{"n", 2}});
  MustPublish(first.id, Serialize(first));
  MustPublish(second.id, Serialize(second));
  auto events = ReadStreamEvents(*broker_, stream_);
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].sequence, 1u);
  EXPECT_EQ((*events)[0].event.id, first.id);
  EXPECT_EQ((*events)[1].event.subject, "agg-2");
  EXPECT_EQ((*events)[1].subject, Subject("Happened"));
  EXPECT_EQ((*events)[1].raw, Serialize(second));
  MustPublish("not-an-event", "plain text");
  auto broken = ReadStreamEvents(*broker_, stream_);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(broken.error().message.find("message 3"), std::string::npos) << broken.error().message;
}

TEST_F(BrokerTest, HeadersRoundTrip) {
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  MustPublish("h1", "payload", {{"traceparent", traceparent}, {"Ce-Source", "orders"}});
  auto consumer = MustSubscribe(Consumer("svc"));
  ASSERT_TRUE(consumer);
  auto messages = FetchN(*consumer, 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]->header("traceparent"), traceparent);
  EXPECT_EQ(messages[0]->header("Ce-Source"), "orders");
  EXPECT_EQ(messages[0]->header("Nats-Msg-Id"), "h1");
  EXPECT_EQ(messages[0]->header("X-Absent"), std::nullopt);
  EXPECT_TRUE(messages[0]->Ack());
}

TEST_F(BrokerTest, ConcurrentPublishersGetDistinctSequences) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> sequences(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto ack =
            broker_->Publish(Subject("Happened"), std::to_string(t) + "-" + std::to_string(i), "x");
        if (ack) sequences[static_cast<size_t>(t)].push_back(ack->sequence);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& s : sequences) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  auto last = broker_->LastSequence(stream_);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, static_cast<uint64_t>(kThreads * kEach));
}

// Outages get a server of their own, since they stop it.
TEST(BrokerOutage, PublishIsUnavailableWhileStoppedAndRecoversAfterRestart) {
  testing::NatsServer nats;
  BrokerOptions options;
  options.url = nats.url();
  options.request_timeout = 1s;
  options.reconnect_wait = 100ms;
  auto connected = Broker::Connect(options);
  ASSERT_TRUE(connected) << connected.error().message;
  auto& broker = **connected;
  ASSERT_TRUE(broker.EnsureStream(StreamSpec::ForContext("OUT", "out")));
  auto before = broker.Publish("out.Happened", "before", "1");
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_TRUE(broker.Connected());

  nats.Stop();
  EXPECT_TRUE(testing::WaitFor([&] { return !broker.Connected(); }, 5s));
  auto started = std::chrono::steady_clock::now();
  auto during = broker.Publish("out.Happened", "during", "2");
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error().code, ErrorCode::kUnavailable) << during.error().message;
  EXPECT_LT(took, 3s);

  nats.Start();
  EXPECT_TRUE(testing::WaitFor([&] { return broker.Connected(); }, 10s));
  // unavailable does not mean "not stored": nats.c may flush the buffered publish on reconnect.
  // The relay's retry with the same msg id must still leave exactly one copy in the stream.
  auto retried = broker.Publish("out.Happened", "during", "2");
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_EQ(retried->sequence, 2u);
  auto after = broker.Publish("out.Happened", "after", "3");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->sequence, 3u);
  // The stream (file storage) survived the restart.
  auto first = broker.GetMessage("OUT", before->sequence);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->data, "1");
}

TEST(BrokerOutage, ConsumerResumesAfterAServerKill) {
  testing::NatsServer nats;
  BrokerOptions options;
  options.url = nats.url();
  options.request_timeout = 1s;
  options.reconnect_wait = 100ms;
  auto connected = Broker::Connect(options);
  ASSERT_TRUE(connected) << connected.error().message;
  auto& broker = **connected;
  ASSERT_TRUE(broker.EnsureStream(StreamSpec::ForContext("KILL", "kill")));
  ASSERT_TRUE(broker.Publish("kill.Happened", "k1", "1"));
  auto consumer =
      broker.Subscribe({.stream = "KILL", .durable = "svc", .filter_subject = "kill.>"});
  ASSERT_TRUE(consumer) << consumer.error().message;

  nats.Kill();
  EXPECT_TRUE(testing::WaitFor([&] { return !broker.Connected(); }, 5s));
  auto down = (*consumer)->Fetch(1, 300ms);
  EXPECT_TRUE(!down || down->empty());  // nothing can arrive; an error or an empty batch

  nats.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return broker.Connected(); }, 10s));
  std::vector<std::unique_ptr<Message>> got;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto batch = (*consumer)->Fetch(1, 500ms);
        if (batch && !batch->empty()) got = std::move(*batch);
        return !got.empty();
      },
      10s));
  EXPECT_EQ(got[0]->data(), "1");
  EXPECT_TRUE(got[0]->Ack());
}

TEST(BrokerOutage, ConnectWithRetrySucceedsOnceTheServerStarts) {
  testing::NatsServer nats;
  nats.Stop();  // the port is known, nothing listens on it

  BrokerOptions options;
  options.url = nats.url();
  options.reconnect_wait = 100ms;
  options.retry_on_failed_connect = true;
  auto connected = Broker::Connect(options);
  ASSERT_TRUE(connected) << connected.error().message;
  auto& broker = **connected;
  EXPECT_FALSE(broker.Connected());

  nats.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return broker.Connected(); }, 10s));
  ASSERT_TRUE(broker.EnsureStream(StreamSpec::ForContext("LATE", "late")));
  auto ack = broker.Publish("late.Happened", "l1", "1");
  ASSERT_TRUE(ack) << ack.error().message;
  EXPECT_EQ(ack->sequence, 1u);
}

}  // namespace
}  // namespace mercato::messaging
