#include "mercato/messaging/outbox.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "fault.hpp"
#include "mercato/core/clock.hpp"
#include "mercato/core/random.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/observability/trace.hpp"

namespace mercato::messaging {
namespace {

using storage::Connection;

// rejected_reason: a row whose data broke its contract is kept (never silently dropped) but no
// longer offered to the relay, so one bad row cannot block every event written after it.
// The partial index holds only unpublished rows, so the relay's scan stays small however large
// the published history grows.
constexpr std::string_view kOutboxSchema = R"(
CREATE TABLE mercato_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  published_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  rejected_reason TEXT
);
CREATE INDEX mercato_outbox_pending ON mercato_outbox (seq) WHERE published_at IS NULL;
)";

constexpr std::string_view kInboxSchema = R"(
CREATE TABLE mercato_inbox (
  consumer TEXT NOT NULL,
  event_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  processed_at TEXT NOT NULL,
  PRIMARY KEY (consumer, event_id)
);
)";

constexpr std::string_view kInsertOutbox =
    "INSERT INTO mercato_outbox (event_id, subject, aggregate_id, payload, created_at) "
    "VALUES ($1, $2, $3, $4, $5)";
constexpr std::string_view kSelectPending =
    "SELECT seq, event_id, subject, payload FROM mercato_outbox "
    "WHERE published_at IS NULL AND rejected_reason IS NULL ORDER BY seq LIMIT $1";
constexpr std::string_view kCountPending =
    "SELECT count(*) FROM mercato_outbox WHERE published_at IS NULL AND rejected_reason IS NULL";
constexpr std::string_view kMarkPublished =
    "UPDATE mercato_outbox SET published_at = $1, attempts = attempts + 1 WHERE seq = $2";
constexpr std::string_view kMarkAttempt =
    "UPDATE mercato_outbox SET attempts = attempts + 1 WHERE seq = $1";
constexpr std::string_view kMarkRejected =
    "UPDATE mercato_outbox SET rejected_reason = $1, attempts = attempts + 1 WHERE seq = $2";

// Retention. Timestamps are RFC 3339 UTC text of one fixed width (FormatRfc3339), so they sort
// as text and compare with a cutoff formatted the same way. Each statement deletes at most
// kPurgeBatch rows, so a large backlog never holds the writer for long. Only rows that were
// published and not rejected are deleted from the outbox: pending rows still have to go out,
// rejected ones wait for a person.
constexpr int64_t kPurgeBatch = 1000;
constexpr std::string_view kPurgeOutbox =
    "DELETE FROM mercato_outbox WHERE rowid IN (SELECT rowid FROM mercato_outbox "
    "WHERE published_at IS NOT NULL AND rejected_reason IS NULL AND published_at < $1 LIMIT $2)";
constexpr std::string_view kPurgeInbox =
    "DELETE FROM mercato_inbox WHERE rowid IN (SELECT rowid FROM mercato_inbox "
    "WHERE processed_at < $1 LIMIT $2)";
// The streams keep events for 7 days (StreamSpec's max age); the inbox must outlive them.
constexpr Duration kStreamMaxAge = std::chrono::hours(24 * 7);

std::string NowText() { return FormatRfc3339(Clock::Real().WallNow()); }

}  // namespace

const std::vector<storage::Migration>& Migrations() {
  static const std::vector<storage::Migration> migrations = {
      {9001, "mercato_outbox", std::string(kOutboxSchema)},
      {9002, "mercato_inbox", std::string(kInboxSchema)},
  };
  return migrations;
}

Result<void> Enqueue(storage::Connection& tx, const Event& event) {
  if (event.id.empty()) return Error{ErrorCode::kInvalidArgument, "event without id", "id"};
  auto inserted = tx.Execute(kInsertOutbox, {event.id, event.subject_name(), event.subject,
                                             Serialize(event), NowText()});
  if (!inserted) return inserted.error();
  return Ok();
}

OutboxRelay::OutboxRelay(storage::Database& db, Broker& broker, RelayOptions options,
                         obs::Registry& metrics)
    : db_(db),
      broker_(broker),
      options_(std::move(options)),
      pending_gauge_(metrics
                         .AddGauge("mercato_outbox_pending_rows",
                                   "Outbox rows not yet published (as of the relay's last look)",
                                   {"service"})
                         .WithLabels({options_.service})),
      published_(metrics
                     .AddCounter("mercato_outbox_published_total",
                                 "Outbox rows published and acknowledged by JetStream", {"service"})
                     .WithLabels({options_.service})),
      failures_(metrics
                    .AddCounter("mercato_outbox_publish_failures_total",
                                "Failed publish attempts (the row stays pending and is retried)",
                                {"service"})
                    .WithLabels({options_.service})),
      rejected_(metrics
                    .AddCounter("mercato_outbox_rejected_total",
                                "Outbox rows not published because their data broke the contract",
                                {"service"})
                    .WithLabels({options_.service})),
      publish_seconds_(metrics
                           .AddHistogram("mercato_outbox_publish_seconds",
                                         "Time from publish to JetStream ack", {"service"})
                           .WithLabels({options_.service})),
      purged_outbox_(metrics
                         .AddCounter("mercato_outbox_purged_rows_total",
                                     "Outbox and inbox rows deleted past their retention",
                                     {"service", "table"})
                         .WithLabels({options_.service, "mercato_outbox"})),
      purged_inbox_(metrics
                        .AddCounter("mercato_outbox_purged_rows_total",
                                    "Outbox and inbox rows deleted past their retention",
                                    {"service", "table"})
                        .WithLabels({options_.service, "mercato_inbox"})) {
  // A zero or negative batch would make the relay spin without ever publishing.
  options_.batch = std::max(options_.batch, 1);
  options_.initial_backoff = std::max<Duration>(options_.initial_backoff, std::chrono::milliseconds(1));
  options_.max_backoff = std::max(options_.max_backoff, options_.initial_backoff);
  // A negative retention would put the cutoff in the future and delete fresh rows.
  options_.outbox_retention = std::max<Duration>(options_.outbox_retention, Duration::zero());
  options_.inbox_retention = std::max<Duration>(options_.inbox_retention, Duration::zero());
  options_.purge_interval = std::max<Duration>(options_.purge_interval, std::chrono::milliseconds(1));
  if (options_.inbox_retention <= kStreamMaxAge) {
    obs::LogWarn("outbox relay: inbox retention does not exceed the streams' max age; a redelivered "
                 "or replayed event could apply its effect twice",
                 {{"service", options_.service}});
  }
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  notified_ = true;  // look at once: rows may have been left by a previous run
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxRelay::Notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_one();
}

void OutboxRelay::Loop() {
  Duration backoff = options_.initial_backoff;
  bool failing = false;  // log an outage once when it starts and once when it ends, not per retry
  // Purging needs only the database, so it runs during a broker outage too. The first purge
  // runs at start: services restarted more often than purge_interval still purge.
  auto next_purge = std::chrono::steady_clock::now();
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (std::chrono::steady_clock::now() >= next_purge) {
      next_purge = std::chrono::steady_clock::now() + options_.purge_interval;
      if (auto purged = PurgeOnce(Clock::Real().WallNow()); !purged) {
        obs::LogWarn("outbox relay: purging old outbox/inbox rows failed; retrying later",
                     {{"service", options_.service},
                      {"code", ToString(purged.error().code)},
                      {"error", purged.error().message}});
      } else if (*purged > 0) {
        obs::LogInfo("outbox relay: purged old outbox/inbox rows",
                     {{"service", options_.service}, {"rows", *purged}});
      }
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      // Cleared before reading, so a commit that lands while this batch is being published
      // (and its Notify) makes the relay look again instead of sleeping on it.
      notified_ = false;
    }
    auto handled = PublishBatch();
    if (!handled) {
      if (!failing) {
        obs::LogWarn("outbox relay: publishing failed, retrying with backoff",
                     {{"service", options_.service},
                      {"code", ToString(handled.error().code)},
                      {"error", handled.error().message}});
      }
      failing = true;
      // Equal jitter: at least half the backoff, so a fleet of relays restarted together does
      // not hammer a recovering broker in lockstep.
      const auto wait = std::chrono::duration_cast<Duration>(backoff * (0.5 + 0.5 * RandomUnit()));
      backoff = std::min<Duration>(backoff * 2, options_.max_backoff);
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, wait, [this] { return stopping_; });
      continue;
    }
    if (failing) {
      obs::LogInfo("outbox relay: publishing again", {{"service", options_.service}});
      failing = false;
    }
    backoff = options_.initial_backoff;
    if (*handled >= options_.batch) continue;  // a full batch: there are probably more rows
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.idle_poll, [this] { return notified_ || stopping_; });
  }
}

Result<int64_t> OutboxRelay::PurgeOnce(WallTime now) {
  struct Target {
    std::string_view sql;
    std::string cutoff;
    obs::Counter& counter;
  };
  const Target targets[] = {
      {kPurgeOutbox,
       FormatRfc3339(now - std::chrono::duration_cast<WallTime::duration>(options_.outbox_retention)),
       purged_outbox_},
      {kPurgeInbox,
       FormatRfc3339(now - std::chrono::duration_cast<WallTime::duration>(options_.inbox_retention)),
       purged_inbox_},
  };
  int64_t total = 0;
  for (const Target& target : targets) {
    while (true) {
      {
        // Stop() is not held up by a large backlog: the rest goes at the next purge.
        std::lock_guard lock(mutex_);
        if (stopping_) return total;
      }
      // One short write per batch, so the service's own writes interleave with the purge.
      auto deleted = db_.WriteBlocking([&](Connection& c) {
        return c.Execute(target.sql, {target.cutoff, kPurgeBatch});
      });
      if (!deleted) return deleted.error();
      if (*deleted > 0) target.counter.Inc(static_cast<double>(*deleted));
      total += *deleted;
      if (*deleted < kPurgeBatch) break;
    }
  }
  return total;
}

Result<int> OutboxRelay::PublishBatch() {
  const int64_t limit = options_.batch;
  auto rows = db_.ReadBlocking([limit](Connection& c) { return c.Query(kSelectPending, {limit}); });
  if (!rows) return rows.error();
  auto count = db_.ReadBlocking([](Connection& c) { return c.Query(kCountPending); });
  if (count && !count->empty()) {
    pending_.store((*count)[0].Int(0));
    pending_gauge_.Set(static_cast<double>(pending_.load()));
  }

  int handled = 0;
  for (const storage::Row& row : *rows) {
    {
      // Stop() finishes the row in hand, never the whole batch.
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    const int64_t seq = row.Int(0);
    const std::string event_id = row.String(1);
    const std::string subject = row.String(2);
    const std::string payload = row.String(3);

    if (options_.contracts != nullptr && options_.contracts->Has(subject)) {
      std::optional<Error> problem;
      std::string trace_id;
      if (auto event = Parse(payload); !event) {
        problem = event.error();
      } else {
        if (auto trace = obs::TraceContext::Parse(event->traceparent)) trace_id = trace->TraceIdHex();
        if (auto valid = options_.contracts->Validate(*event); !valid) problem = valid.error();
      }
      if (problem) {
        std::string reason = problem->message;
        if (!problem->field.empty()) reason += " at " + problem->field;
        auto marked = db_.WriteBlocking([&](Connection& c) {
          return c.Execute(kMarkRejected, {reason, seq});
        });
        if (!marked) return marked.error();
        rejected_.Inc();
        pending_.fetch_sub(1);
        pending_gauge_.Set(static_cast<double>(pending_.load()));
        // A producer bug: loud, with the ids needed to find the row and the request behind it.
        obs::Logger({.trace_id = trace_id, .span_id = {}, .correlation_id = trace_id})
            .Error("outbox relay: event breaks its contract; not published",
                   {{"service", options_.service},
                    {"event_id", event_id},
                    {"subject", subject},
                    {"reason", reason}});
        ++handled;
        continue;
      }
    }

    FaultPoint("relay.before_publish");
    // Without a connection a publish would only wait out the request timeout; failing fast keeps
    // Stop() responsive during an outage.
    if (!broker_.Connected()) {
      failures_.Inc();
      return Error{ErrorCode::kUnavailable, "broker not connected"};
    }
    const auto started = std::chrono::steady_clock::now();
    auto ack = broker_.Publish(subject, event_id, payload);
    publish_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!ack && ack.error().code == ErrorCode::kInvalidArgument) {
      // The broker refuses this message for good (too large, say): retrying would block every
      // later event forever. Park it like a contract breach: kept, counted, logged.
      std::string reason = "broker refused: " + ack.error().message;
      auto parked = db_.WriteBlocking([&](Connection& c) { return c.Execute(kMarkRejected, {reason, seq}); });
      if (!parked) return parked.error();
      rejected_.Inc();
      pending_.store(std::max<int64_t>(pending_.load() - 1, 0));
      pending_gauge_.Set(static_cast<double>(pending_.load()));
      obs::LogError("outbox relay: event refused by the broker; parked",
                    {{"service", options_.service}, {"event_id", event_id}, {"reason", reason}});
      ++handled;
      continue;
    }
    if (!ack) {
      failures_.Inc();
      // Best effort: attempts is diagnostics only, and the database may be the thing failing.
      (void)db_.WriteBlocking([seq](Connection& c) { return c.Execute(kMarkAttempt, {seq}); });
      Error error = ack.error();
      error.message = "publishing event " + event_id + ": " + error.message;
      // The batch stops here: skipping the row would let a later event of the same aggregate
      // overtake it.
      return error;
    }
    FaultPoint("relay.after_publish_before_mark");
    // Marked per row, so a crash republishes at most this one row (which the broker's duplicate
    // window and the consumers' inbox then drop).
    const std::string now = NowText();
    auto marked =
        db_.WriteBlocking([&](Connection& c) { return c.Execute(kMarkPublished, {now, seq}); });
    if (!marked) return marked.error();
    published_.Inc();
    pending_.store(std::max<int64_t>(pending_.load() - 1, 0));
    pending_gauge_.Set(static_cast<double>(pending_.load()));
    ++handled;
  }
  return handled;
}

}  // namespace mercato::messaging
