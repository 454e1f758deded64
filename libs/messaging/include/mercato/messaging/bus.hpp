// The messaging component of a service: one object that reads the nats-* settings, connects to
// JetStream (in the background: a service starts even while the broker is down), provisions the
// streams the service publishes to, runs the outbox relay and the service's consumers, reports
// the broker in /health/ready, and serves the dead-letter admin endpoints:
//   GET  /admin/dead-letters?limit=N            this service's dead letters, newest first
//   POST /admin/dead-letters/{sequence}/replay  publish one again on its original subject
//
//   auto schema = service::BaseSchema(8104);  messaging::AddConfig(schema, "nats://127.0.0.1:4222");
//   messaging::Bus bus(service, db, {messaging::StreamSpec::ForContext("ORDERS", "orders")});
//   bus.Consume({.stream = "PAYMENTS", .filter_subject = "payments.>"}).On(...);
//   bus.Start();
//   ... co_await db.Transact(... messaging::Enqueue(tx, event) ...);  bus.Notify();
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <thread>
#include <vector>

#include "mercato/config/config.hpp"
#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/consumer.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/service/service.hpp"

namespace mercato::messaging {

// Adds nats-url (empty disables messaging), consumer-ack-wait, consumer-max-deliver,
// consumer-concurrency and outbox-poll to a service's schema.
void AddConfig(config::Schema& schema, std::string default_nats_url);

class Bus {
 public:
  Bus(service::Service& service, storage::Database& db, std::vector<StreamSpec> streams);
  ~Bus();  // stops consumers, then the relay
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // False when nats-url is empty: nothing connects, Notify() does nothing.
  bool enabled() const { return enabled_; }
  // A consumer of this service (durable name = the service's name); defaults from the config.
  // Register before Start().
  EventConsumer& Consume(ConsumerOptions options);
  // Connects and starts everything; returns at once (provisioning retries in the background).
  void Start();
  // Call after a transaction that enqueued events has committed.
  void Notify();
  // Whether streams are provisioned and consumers subscribed.
  bool ready() const { return ready_.load(); }
  Broker* broker() { return broker_.get(); }

 private:
  void Bootstrap();
  void AddRoutes();

  service::Service& service_;
  storage::Database& db_;
  std::vector<StreamSpec> streams_;  // published to, plus those consumed (provisioned too)
  bool enabled_ = false;
  Duration ack_wait_;
  int max_deliver_ = 5;
  int concurrency_ = 4;
  Duration outbox_poll_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<OutboxRelay> relay_;
  std::vector<std::unique_ptr<EventConsumer>> consumers_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::thread bootstrap_;
};

}  // namespace mercato::messaging
