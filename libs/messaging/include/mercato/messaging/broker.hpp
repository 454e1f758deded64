// The NATS JetStream connection of a service (nats.c). nats.c runs its own threads and its
// calls block, so every Broker method is blocking and must be called from a dedicated thread
// (the outbox relay's, a consumer's, start-up) — never from an event-loop thread.
//
//   auto broker = messaging::Broker::Connect({.url = "nats://127.0.0.1:4222", .name = "orders"});
//   (*broker)->EnsureStream(messaging::StreamSpec::ForContext("ORDERS", "orders"));
//   (*broker)->Publish("orders.OrderConfirmed", event.id, payload);   // waits for the ack
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/messaging/event.hpp"

namespace mercato::messaging {

struct BrokerOptions {
  std::string url = "nats://127.0.0.1:4222";
  std::string name;  // the client name the server shows: the service's name
  Duration connect_timeout = std::chrono::seconds(2);
  Duration request_timeout = std::chrono::seconds(5);  // publish acks, stream admin
  // Reconnect forever (every reconnect_wait) once connected; the first connect may fail.
  Duration reconnect_wait = std::chrono::milliseconds(250);
  // Keep trying the first connect in the background instead of failing (services start
  // before the broker in some orders).
  bool retry_on_failed_connect = true;
};

// One JetStream stream per bounded context, file storage, a duplicate window for Nats-Msg-Id.
struct StreamSpec {
  std::string name;                   // "ORDERS"
  std::vector<std::string> subjects;  // {"orders.>"}
  Duration duplicate_window = std::chrono::minutes(2);
  Duration max_age = std::chrono::hours(24 * 7);
  int64_t max_bytes = 1LL << 30;  // 1 GiB per stream
  int replicas = 1;

  static StreamSpec ForContext(std::string stream_name, const std::string& context);
  // The dead-letter stream: subjects "dlq.>".
  static StreamSpec DeadLetters();
};

struct PublishAck {
  std::string stream;
  uint64_t sequence = 0;
  bool duplicate = false;  // the broker had this Nats-Msg-Id within its duplicate window
};

// One message fetched by a pull consumer. Exactly one of Ack/Nak/Term must be called.
class Message {
 public:
  virtual ~Message() = default;
  virtual const std::string& subject() const = 0;
  virtual const std::string& data() const = 0;
  virtual std::optional<std::string> header(const std::string& name) const = 0;
  virtual uint64_t stream_sequence() const = 0;
  virtual uint64_t num_delivered() const = 0;  // 1 on first delivery
  virtual uint64_t num_pending() const = 0;    // messages after this one not yet delivered
  virtual Result<void> Ack() = 0;              // waits for the server's confirmation
  virtual Result<void> Nak(Duration delay) = 0;
  virtual Result<void> Term() = 0;  // never redeliver
  // Still working on it: restarts the ack-wait clock (a handler retrying in place).
  virtual Result<void> InProgress() = 0;
};

struct ConsumerSpec {
  std::string stream;          // "ORDERS"
  std::string durable;         // consuming service's name
  std::string filter_subject;  // "orders.>" or one type
  Duration ack_wait = std::chrono::seconds(30);
  int max_deliver = 5;
  int max_ack_pending = 1000;
};

class PullConsumer {
 public:
  virtual ~PullConsumer() = default;
  // Up to `batch` messages, waiting at most `timeout`; an empty vector on timeout.
  virtual Result<std::vector<std::unique_ptr<Message>>> Fetch(int batch, Duration timeout) = 0;
  // Messages in the stream not yet delivered to this consumer (the lag).
  virtual Result<uint64_t> Pending() = 0;
};

class Broker {
 public:
  virtual ~Broker() = default;
  static Result<std::unique_ptr<Broker>> Connect(const BrokerOptions& options);

  virtual bool Connected() const = 0;
  // Create or update (idempotent).
  virtual Result<void> EnsureStream(const StreamSpec& spec) = 0;
  // Publishes with Nats-Msg-Id = msg_id and waits for JetStream's ack. unavailable while the
  // broker is unreachable.
  virtual Result<PublishAck> Publish(
      const std::string& subject, const std::string& msg_id, const std::string& payload,
      const std::vector<std::pair<std::string, std::string>>& headers = {}) = 0;
  // Creates (or binds to) the durable pull consumer. Destroying it keeps the durable.
  virtual Result<std::unique_ptr<PullConsumer>> Subscribe(const ConsumerSpec& spec) = 0;
  // Reads stored messages of a stream by sequence (for dead-letter listing and replay);
  // not_found past the end.
  struct StoredMessage {
    uint64_t sequence = 0;
    std::string subject;
    std::string data;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string time;  // RFC 3339
  };
  virtual Result<StoredMessage> GetMessage(const std::string& stream, uint64_t sequence) = 0;
  virtual Result<uint64_t> LastSequence(const std::string& stream) = 0;
};

// One event as a stream stores it: its sequence, the NATS subject, the message as stored
// (envelope included) and the parsed CloudEvent.
struct StreamEvent {
  uint64_t sequence = 0;
  std::string subject;
  std::string raw;
  Event event;
};

// Every event of `stream`, in stream order; empty when the stream does not exist yet. A stored
// message that is not a CloudEvent is invalid_argument naming its sequence (a producer bug to
// see, not to skip). Reads the whole stream: for tests, tools and audits, not for consumers.
Result<std::vector<StreamEvent>> ReadStreamEvents(Broker& broker, const std::string& stream);

}  // namespace mercato::messaging
