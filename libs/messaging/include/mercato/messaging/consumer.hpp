// Idempotent event consumption. A durable pull consumer (one per consuming service) fetches
// events; each event's effect and its id are committed to the inbox in ONE storage transaction,
// so a redelivered event is acknowledged without repeating its effect. Events of one aggregate
// are handled in order (lanes keyed by the CloudEvents subject); different aggregates run
// concurrently up to `concurrency` lanes. A handler that keeps failing sends the event to the
// dead-letter subject dlq.<service> after max_deliver attempts, and consumption goes on.
//
//   messaging::EventConsumer consumer(db, broker, {.service = "delivery", .stream = "ORDERS",
//                                                  .filter_subject = "orders.>"});
//   consumer.On("orders.OrderConfirmed", [](storage::Connection& tx, const messaging::Event& e) {
//     return CreateShipment(tx, e.data);   // Result<void>; an error means "retry later"
//   });
//   consumer.Start();
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::messaging {

// The effect of one event inside the consumer's transaction. An error rolls the transaction back
// and the event is redelivered later (after nak_delay); invalid_argument or failed_precondition
// errors are permanent and dead-letter at once.
using EventHandler = std::function<Result<void>(storage::Connection& tx, const Event& event)>;

struct ConsumerOptions {
  std::string service;         // durable name and inbox key; dlq.<service> on failure
  std::string stream;          // "ORDERS"
  std::string filter_subject;  // "orders.>"
  Duration ack_wait = std::chrono::seconds(30);
  int max_deliver = 5;
  int concurrency = 4;  // lanes
  int batch = 64;
  Duration fetch_timeout = std::chrono::milliseconds(500);
  Duration nak_delay = std::chrono::seconds(1);
};

class EventConsumer {
 public:
  EventConsumer(storage::Database& db, Broker& broker, ConsumerOptions options,
                obs::Registry& metrics = obs::Registry::Default());
  ~EventConsumer();  // Stop()
  EventConsumer(const EventConsumer&) = delete;
  EventConsumer& operator=(const EventConsumer&) = delete;

  // By NATS subject ("orders.OrderConfirmed"). Events with no handler are acknowledged and
  // counted as ignored. Register before Start().
  void On(std::string subject, EventHandler handler);
  // Creates the durable consumer (and the dead-letter stream) and starts fetching.
  Result<void> Start();
  // Graceful: events being handled finish and are acked; fetched events not started are nak'ed
  // so another instance gets them at once.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Dead letters: events that failed max_deliver times, kept in the DLQ stream (subjects dlq.>)
// with headers naming the original subject, the consumer, the last error and the delivery count.
struct DeadLetter {
  uint64_t sequence = 0;  // in the DLQ stream
  std::string service;
  std::string original_subject;
  std::string event_id;
  std::string error;
  uint64_t deliveries = 0;
  std::string time;
  std::string event_json;
};

// The most recent dead letters of `service` (all services when empty), newest first.
Result<std::vector<DeadLetter>> ListDeadLetters(Broker& broker, const std::string& service,
                                                size_t limit = 100);
// Publishes the dead letter again on its original subject (a new Nats-Msg-Id, the same event id,
// so the inbox still guards against a double effect).
Result<void> ReplayDeadLetter(Broker& broker, uint64_t sequence);

}  // namespace mercato::messaging
