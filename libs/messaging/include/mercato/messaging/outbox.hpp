// The transactional outbox. A service writes its business change and the event row in ONE
// storage transaction (Enqueue inside Database::Transact); the relay, on its own thread, publishes
// pending rows to JetStream in the order they were written (so per aggregate too) with
// Nats-Msg-Id = event id, and marks a row published only after JetStream acknowledged it. A crash
// between the ack and the mark republishes the row; the broker's duplicate window (and the
// consumers' inbox) drop the copy. Notify() after a commit wakes the relay at once; a slow poll
// is only the safety net. While the broker is unreachable the relay retries with backoff.
//
//   co_await db.Transact([&](storage::Connection& tx) -> Result<void> {
//     if (auto r = SaveOrder(tx, order); !r) return r;
//     return messaging::Enqueue(tx, event);
//   });
//   relay.Notify();
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/schema.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/storage/database.hpp"
#include "mercato/storage/migrations.hpp"

namespace mercato::messaging {

// The outbox and inbox tables. Services append these to their own migrations; versions 9001+
// are reserved for the messaging library.
const std::vector<storage::Migration>& Migrations();

// Writes `event` to the outbox inside the caller's open transaction.
Result<void> Enqueue(storage::Connection& tx, const Event& event);

struct RelayOptions {
  std::string service;  // metric label
  int batch = 100;
  Duration idle_poll = std::chrono::seconds(1);  // safety net when no Notify() comes
  Duration initial_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(5);
  // When set, an event whose data does not match its contract is not published: it stays in the
  // outbox, is counted and logged (a bug to fix, never silently dropped).
  const SchemaRegistry* contracts = nullptr;
  // Retention: the relay deletes, in bounded batches, published outbox rows older than
  // outbox_retention and inbox rows older than inbox_retention, at most once per purge_interval.
  // Unpublished and rejected outbox rows are never deleted (rejected ones wait for a person).
  Duration outbox_retention = std::chrono::hours(24);
  // Must exceed the streams' max age (7 days, StreamSpec): an inbox row deleted while its event
  // can still be redelivered or replayed from the stream would let the effect apply twice.
  Duration inbox_retention = std::chrono::hours(24 * 8);
  Duration purge_interval = std::chrono::minutes(10);
};

class OutboxRelay {
 public:
  OutboxRelay(storage::Database& db, Broker& broker, RelayOptions options,
              obs::Registry& metrics = obs::Registry::Default());
  ~OutboxRelay();  // Stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  // Finishes the row being published, then joins the thread.
  void Stop();
  // Wakes the relay now (call after committing a transaction that enqueued events). Cheap,
  // thread-safe, never blocks.
  void Notify();
  // Rows not yet published, as of the relay's last look.
  int64_t pending() const { return pending_.load(); }
  // Deletes published outbox rows and inbox rows past their retention as of `now`, in batches
  // of at most 1000 rows per statement. Returns the rows deleted. The relay's thread calls it
  // every purge_interval; tests call it directly.
  Result<int64_t> PurgeOnce(WallTime now);

 private:
  void Loop();
  // Publishes up to one batch; returns how many rows were published, or an error (broker down).
  Result<int> PublishBatch();

  storage::Database& db_;
  Broker& broker_;
  RelayOptions options_;
  obs::Gauge& pending_gauge_;
  obs::Counter& published_;
  obs::Counter& failures_;
  obs::Counter& rejected_;
  obs::Histogram& publish_seconds_;
  obs::Counter& purged_outbox_;
  obs::Counter& purged_inbox_;
  std::atomic<int64_t> pending_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool notified_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mercato::messaging
