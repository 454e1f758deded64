#include "mercato/messaging/consumer.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/parse.hpp>

#include "fault.hpp"
#include "mercato/core/clock.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/observability/trace.hpp"

namespace mercato::messaging {
namespace {

using storage::Connection;

constexpr std::string_view kSelectInbox =
    "SELECT 1 FROM mercato_inbox WHERE consumer = $1 AND event_id = $2";
constexpr std::string_view kInsertInbox =
    "INSERT INTO mercato_inbox (consumer, event_id, subject, processed_at) VALUES ($1, $2, $3, $4)";

constexpr std::string_view kHeaderOriginalSubject = "Mercato-Original-Subject";
constexpr std::string_view kHeaderConsumer = "Mercato-Consumer";
constexpr std::string_view kHeaderError = "Mercato-Error";
constexpr std::string_view kHeaderDeliveries = "Mercato-Deliveries";

// Header values travel in a NATS header block: no line breaks, and small enough that a huge
// error message cannot bloat every dead letter.
constexpr size_t kMaxErrorHeader = 512;
// How far back ListDeadLetters looks for one service's letters before giving up: each step is a
// round trip to the broker.
constexpr uint64_t kMaxDeadLetterScan = 10000;
constexpr auto kLagCheckEvery = std::chrono::seconds(5);
constexpr auto kMaxFetchBackoff = std::chrono::seconds(2);

enum class Outcome { kOk, kDuplicate };

std::string HeaderSafe(std::string_view text, size_t limit) {
  std::string out(text.substr(0, limit));
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::string StoredHeader(const Broker::StoredMessage& message, std::string_view name) {
  for (const auto& [key, value] : message.headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

// The CloudEvents id of a stored payload, even when the envelope no longer validates (a dead
// letter may be there precisely because it does not).
std::string EventIdOf(const std::string& payload) {
  if (auto event = Parse(payload)) return event->id;
  boost::system::error_code ec;
  auto json = boost::json::parse(payload, ec);
  if (ec || !json.is_object()) return {};
  const auto* id = json.as_object().if_contains("id");
  return (id != nullptr && id->is_string()) ? std::string(id->as_string()) : std::string();
}

}  // namespace

struct EventConsumer::Impl {
  // A fetched message with its envelope parsed once, by the fetch thread (it needs the aggregate
  // id to pick the lane anyway).
  struct Work {
    std::unique_ptr<Message> message;
    Result<Event> event;
  };

  // One ordered queue: the events of one aggregate always land in the same lane, and a lane
  // handles one event at a time, so they apply in stream order.
  struct Lane {
    std::mutex mutex;
    std::condition_variable not_empty;
    std::condition_variable not_full;
    std::deque<Work> queue;
    bool stopping = false;
  };

  Impl(storage::Database& database, Broker& bus, ConsumerOptions opts, obs::Registry& metrics)
      : db(database),
        broker(bus),
        options(std::move(opts)),
        processed(metrics.AddCounter("mercato_consumer_processed_total",
                                     "Events handled, by outcome (ok, duplicate, ignored, failed, "
                                     "dead_lettered)",
                                     {"consumer", "subject", "outcome"})),
        redelivered(metrics
                        .AddCounter("mercato_consumer_redelivered_total",
                                    "Deliveries that were not the first for their event",
                                    {"consumer"})
                        .WithLabels({options.service})),
        dead_lettered(metrics
                          .AddCounter("mercato_consumer_dead_lettered_total",
                                      "Events sent to the dead-letter stream", {"consumer"})
                          .WithLabels({options.service})),
        lag(metrics
                .AddGauge("mercato_consumer_lag",
                          "Events in the stream not yet delivered to this consumer", {"consumer"})
                .WithLabels({options.service})),
        handle_seconds(metrics
                           .AddHistogram("mercato_consumer_handle_seconds",
                                         "Time to apply one event (transaction included)",
                                         {"consumer"})
                           .WithLabels({options.service})) {
    options.concurrency = std::max(options.concurrency, 1);
    options.batch = std::max(options.batch, 1);
    options.max_deliver = std::max(options.max_deliver, 1);
  }

  void Count(const std::string& subject, std::string_view outcome) {
    processed.WithLabels({options.service, subject, outcome}).Inc();
  }

  bool Stopping() const { return stopping.load(); }

  void FetchLoop();
  void Dispatch(std::unique_ptr<Message> message);
  void WorkerLoop(Lane& lane);
  void Handle(Work work);
  void DeadLetter(Message& message, const Event* event, const Error& error, uint64_t attempts,
                  const obs::Logger& log);

  storage::Database& db;
  Broker& broker;
  ConsumerOptions options;
  std::map<std::string, EventHandler, std::less<>> handlers;

  obs::Family<obs::Counter>& processed;
  obs::Counter& redelivered;
  obs::Counter& dead_lettered;
  obs::Gauge& lag;
  obs::Histogram& handle_seconds;

  std::unique_ptr<PullConsumer> pull;
  std::vector<std::unique_ptr<Lane>> lanes;
  std::thread fetcher;
  std::vector<std::thread> workers;
  bool started = false;
  std::atomic<bool> stopping{false};
  // Lets Stop() cut short the fetch thread's backoff sleep.
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
};

void EventConsumer::Impl::FetchLoop() {
  Duration backoff = std::chrono::milliseconds(100);
  bool failing = false;  // log an outage once, not per retry
  auto last_lag_check = std::chrono::steady_clock::now() - kLagCheckEvery;
  while (!Stopping()) {
    auto fetched = pull->Fetch(options.batch, options.fetch_timeout);
    if (!fetched) {
      if (!failing) {
        obs::LogWarn("consumer: fetch failed, retrying with backoff",
                     {{"consumer", options.service},
                      {"stream", options.stream},
                      {"code", ToString(fetched.error().code)},
                      {"error", fetched.error().message}});
      }
      failing = true;
      std::unique_lock lock(stop_mutex);
      stop_cv.wait_for(lock, backoff, [this] { return Stopping(); });
      backoff = std::min<Duration>(backoff * 2, kMaxFetchBackoff);
      continue;
    }
    if (failing) {
      obs::LogInfo("consumer: fetching again", {{"consumer", options.service}});
      failing = false;
    }
    backoff = std::chrono::milliseconds(100);
    if (fetched->empty()) {
      // Nothing delivered: ask the broker for the lag now and then, since no message carries it.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_lag_check >= kLagCheckEvery) {
        last_lag_check = now;
        if (auto pending = pull->Pending()) lag.Set(static_cast<double>(*pending));
      }
      continue;
    }
    lag.Set(static_cast<double>(fetched->back()->num_pending()));
    for (auto& message : *fetched) {
      if (Stopping()) {
        // Fetched but never started: hand it straight back so another instance gets it now
        // rather than after ack_wait.
        (void)message->Nak(Duration::zero());
        continue;
      }
      Dispatch(std::move(message));
    }
  }
}

void EventConsumer::Impl::Dispatch(std::unique_ptr<Message> message) {
  auto event = Parse(message->data());
  // The aggregate id keeps one aggregate's events in order; an unparseable message has none, so
  // its NATS subject will do (it is dead-lettered at once anyway).
  const std::string& key = event ? event->subject : message->subject();
  Lane& lane = *lanes[std::hash<std::string>{}(key) % lanes.size()];
  const size_t capacity = static_cast<size_t>(options.batch);
  std::unique_lock lock(lane.mutex);
  // Bounded lanes: when a lane is full the fetch thread waits instead of fetching more, so
  // memory stays at concurrency x batch messages however far behind the consumer is.
  lane.not_full.wait(lock,
                     [&] { return lane.stopping || Stopping() || lane.queue.size() < capacity; });
  if (lane.stopping || Stopping()) {
    lock.unlock();
    (void)message->Nak(Duration::zero());
    return;
  }
  lane.queue.push_back(Work{std::move(message), std::move(event)});
  lock.unlock();
  lane.not_empty.notify_one();
}

void EventConsumer::Impl::WorkerLoop(Lane& lane) {
  while (true) {
    std::optional<Work> work;
    {
      std::unique_lock lock(lane.mutex);
      lane.not_empty.wait(lock, [&] { return lane.stopping || !lane.queue.empty(); });
      // Queued work is left for Stop() to nak: it was never started.
      if (lane.stopping) return;
      work.emplace(std::move(lane.queue.front()));
      lane.queue.pop_front();
    }
    lane.not_full.notify_one();
    Handle(std::move(*work));
  }
}

void EventConsumer::Impl::Handle(Work work) {
  Message& message = *work.message;
  const auto started_at = std::chrono::steady_clock::now();
  const uint64_t deliveries = message.num_delivered();
  if (deliveries > 1) redelivered.Inc();

  if (!work.event) {
    // Not a CloudEvent: no retry can fix that, so it goes to the dead letters on first sight.
    DeadLetter(message, nullptr, work.event.error(), deliveries, obs::Logger());
    return;
  }
  const Event& event = *work.event;

  // A consumer span in the producer's trace, so logs and spans of both sides join up.
  std::optional<obs::SpanRecorder> span;
  std::string trace_id;
  std::string span_id;
  if (auto parent = obs::TraceContext::Parse(event.traceparent)) {
    span.emplace("consume " + message.subject(), obs::SpanKind::kConsumer, *parent);
    span->SetAttribute("messaging.message.id", event.id);
    span->SetAttribute("messaging.consumer.group.name", options.service);
    trace_id = span->context().TraceIdHex();
    span_id = span->context().SpanIdHex();
  }
  // No correlation id travels with events; like the HTTP chassis, fall back to the trace id.
  const obs::Logger log({.trace_id = trace_id, .span_id = span_id, .correlation_id = trace_id});

  auto handler = handlers.find(message.subject());
  if (handler == handlers.end()) {
    if (auto acked = message.Ack(); !acked) {
      log.Warn("consumer: ack failed", {{"consumer", options.service}, {"event_id", event.id},
                                        {"error", acked.error().message}});
    }
    Count(message.subject(), "ignored");
    return;
  }

  auto apply = [&](Connection& tx) -> Result<Outcome> {
    auto seen = tx.Query(kSelectInbox, {options.service, event.id});
    if (!seen) return seen.error();
    if (!seen->empty()) return Outcome::kDuplicate;
    if (auto applied = handler->second(tx, event); !applied) return applied.error();
    auto recorded = tx.Execute(kInsertInbox, {options.service, event.id, message.subject(),
                                              FormatRfc3339(Clock::Real().WallNow())});
    if (!recorded) return recorded.error();
    return Outcome::kOk;
  };
  // The effect and the inbox row commit together or not at all: that is what makes a redelivery
  // harmless. A transient failure is retried HERE, in the lane, rather than naked: the lane holds
  // this aggregate's later events until this one succeeds or is dead-lettered, so events of one
  // aggregate are applied in order even across failures. InProgress keeps the broker from
  // redelivering the message meanwhile; the broker's deliveries so far count as attempts.
  uint64_t attempts = deliveries;
  for (;;) {
    Result<Outcome> outcome = [&]() -> Result<Outcome> {
      try {
        return db.TransactBlocking(apply);
      } catch (const std::exception& e) {
        return Error{ErrorCode::kInternal, std::string("handler threw: ") + e.what()};
      } catch (...) {
        return Error{ErrorCode::kInternal, "handler threw a non-standard exception"};
      }
    }();
    handle_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count());

    if (outcome) {
      FaultPoint("consumer.after_effect_before_ack");
      if (auto acked = message.Ack(); !acked) {
        // Committed but not acked: the redelivery finds the inbox row and is dropped.
        log.Warn("consumer: ack failed; the redelivery will be skipped as a duplicate",
                 {{"consumer", options.service}, {"event_id", event.id},
                  {"error", acked.error().message}});
      }
      Count(message.subject(), *outcome == Outcome::kOk ? "ok" : "duplicate");
      return;
    }

    const Error& error = outcome.error();
    if (span) span->SetError(error.message);
    const bool permanent =
        error.code == ErrorCode::kInvalidArgument || error.code == ErrorCode::kFailedPrecondition;
    if (permanent || attempts >= static_cast<uint64_t>(options.max_deliver)) {
      DeadLetter(message, &event, error, attempts, log);
      return;
    }
    log.Warn("consumer: handling failed; retrying in place",
             {{"consumer", options.service}, {"event_id", event.id},
              {"subject", message.subject()}, {"attempts", attempts},
              {"code", ToString(error.code)}, {"error", error.message}});
    Count(message.subject(), "failed");
    {
      std::unique_lock lock(stop_mutex);
      stop_cv.wait_for(lock, options.nak_delay, [this] { return Stopping(); });
    }
    if (Stopping()) {
      // Hand it back at once: another instance (or this one after a restart) retries it.
      (void)message.Nak(Duration::zero());
      return;
    }
    (void)message.InProgress();
    ++attempts;
  }
}

void EventConsumer::Impl::DeadLetter(Message& message, const Event* event, const Error& error,
                                     uint64_t attempts, const obs::Logger& log) {
  const std::string event_id = event != nullptr ? event->id : EventIdOf(message.data());
  // The DLQ copy is deduplicated like any publish: a retried dead-lettering of the same delivery
  // stores one letter, while a replayed letter that fails again (a new stream sequence) is kept.
  const std::string msg_id =
      (event_id.empty() ? std::string("unparseable") : event_id) + ":dlq:" + options.service + ":" +
      std::to_string(message.stream_sequence());
  std::string reason = std::string(ToString(error.code)) + ": " + error.message;
  if (!error.field.empty()) reason += " (" + error.field + ")";
  const std::vector<std::pair<std::string, std::string>> headers = {
      {std::string(kHeaderOriginalSubject), message.subject()},
      {std::string(kHeaderConsumer), options.service},
      {std::string(kHeaderError), HeaderSafe(reason, kMaxErrorHeader)},
      {std::string(kHeaderDeliveries), std::to_string(attempts)},
  };

  Result<PublishAck> published = Error{ErrorCode::kUnavailable, "not attempted"};
  // A few quick tries: after the last delivery the broker will not hand this message back, so
  // giving up here strands it in the stream.
  Duration pause = std::chrono::milliseconds(50);
  for (int attempt = 0; attempt < 3 && !Stopping(); ++attempt) {
    published = broker.Publish("dlq." + options.service, msg_id, message.data(), headers);
    if (published) break;
    std::unique_lock lock(stop_mutex);
    stop_cv.wait_for(lock, pause, [this] { return Stopping(); });
    pause *= 2;
  }
  if (!published) {
    log.Error("consumer: dead-lettering failed; event left unacknowledged",
              {{"consumer", options.service}, {"event_id", event_id},
               {"stream_sequence", message.stream_sequence()},
               {"error", published.error().message}, {"handler_error", reason}});
    (void)message.Nak(options.nak_delay);
    Count(message.subject(), "failed");
    return;
  }
  // Term, not Ack: the broker's advisories then say the message was given up on, not handled.
  if (auto termed = message.Term(); !termed) {
    log.Warn("consumer: term failed after dead-lettering; a redelivery will dead-letter again",
             {{"consumer", options.service}, {"event_id", event_id}});
  }
  dead_lettered.Inc();
  Count(message.subject(), "dead_lettered");
  log.Error("consumer: event dead-lettered",
            {{"consumer", options.service}, {"event_id", event_id},
             {"subject", message.subject()}, {"deliveries", message.num_delivered()},
             {"error", reason}});
}

EventConsumer::EventConsumer(storage::Database& db, Broker& broker, ConsumerOptions options,
                             obs::Registry& metrics)
    : impl_(std::make_unique<Impl>(db, broker, std::move(options), metrics)) {}

EventConsumer::~EventConsumer() { Stop(); }

void EventConsumer::On(std::string subject, EventHandler handler) {
  impl_->handlers.insert_or_assign(std::move(subject), std::move(handler));
}

Result<void> EventConsumer::Start() {
  Impl& impl = *impl_;
  if (impl.started) return Error{ErrorCode::kFailedPrecondition, "consumer already started"};
  if (impl.options.service.empty())
    return Error{ErrorCode::kInvalidArgument, "consumer needs a service name", "service"};
  if (impl.options.stream.empty())
    return Error{ErrorCode::kInvalidArgument, "consumer needs a stream", "stream"};

  if (auto dlq = impl.broker.EnsureStream(StreamSpec::DeadLetters()); !dlq) return dlq.error();
  auto pull = impl.broker.Subscribe(ConsumerSpec{
      .stream = impl.options.stream,
      .durable = impl.options.service,
      .filter_subject = impl.options.filter_subject,
      .ack_wait = impl.options.ack_wait,
      // Unlimited at the broker: the consumer itself decides when to dead-letter (after
      // max_deliver attempts). A broker-side limit would silently drop an event whose last
      // delivery was naked by a shutdown or whose dead-lettering failed.
      .max_deliver = -1,
      // Enough for every lane to be full plus one batch in the fetcher's hands.
      .max_ack_pending = std::max(1000, (impl.options.concurrency + 1) * impl.options.batch),
  });
  if (!pull) return pull.error();
  impl.pull = std::move(*pull);
  impl.stopping = false;
  impl.lanes.clear();
  for (int i = 0; i < impl.options.concurrency; ++i) {
    impl.lanes.push_back(std::make_unique<Impl::Lane>());
  }
  for (auto& lane : impl.lanes) {
    impl.workers.emplace_back([&impl, &lane = *lane] { impl.WorkerLoop(lane); });
  }
  impl.fetcher = std::thread([&impl] { impl.FetchLoop(); });
  impl.started = true;
  obs::LogInfo("consumer started", {{"consumer", impl.options.service},
                                    {"stream", impl.options.stream},
                                    {"filter", impl.options.filter_subject},
                                    {"concurrency", impl.options.concurrency}});
  return Ok();
}

void EventConsumer::Stop() {
  if (!impl_ || !impl_->started) return;
  Impl& impl = *impl_;
  impl.stopping = true;
  // Taking each mutex before notifying closes the window between a waiter's predicate check and
  // its wait, so no wake-up is lost.
  { std::lock_guard lock(impl.stop_mutex); }
  impl.stop_cv.notify_all();
  for (auto& lane : impl.lanes) {
    { std::lock_guard lock(lane->mutex); }
    lane->not_full.notify_all();
  }
  if (impl.fetcher.joinable()) impl.fetcher.join();

  for (auto& lane : impl.lanes) {
    {
      std::lock_guard lock(lane->mutex);
      lane->stopping = true;
    }
    lane->not_empty.notify_all();
  }
  for (auto& worker : impl.workers) worker.join();
  impl.workers.clear();

  size_t returned = 0;
  for (auto& lane : impl.lanes) {
    for (auto& work : lane->queue) {
      (void)work.message->Nak(Duration::zero());
      ++returned;
    }
    lane->queue.clear();
  }
  impl.lanes.clear();
  // Every message is gone before the subscription it came from; the durable itself stays.
  impl.pull.reset();
  impl.started = false;
  obs::LogInfo("consumer stopped", {{"consumer", impl.options.service}, {"returned", returned}});
}

Result<std::vector<DeadLetter>> ListDeadLetters(Broker& broker, const std::string& service,
                                                size_t limit) {
  const std::string stream = StreamSpec::DeadLetters().name;
  std::vector<DeadLetter> letters;
  auto last = broker.LastSequence(stream);
  if (!last) {
    if (last.error().code == ErrorCode::kNotFound) return letters;  // nothing dead-lettered yet
    return last.error();
  }
  uint64_t scanned = 0;
  for (uint64_t sequence = *last; sequence > 0 && letters.size() < limit; --sequence) {
    if (++scanned > kMaxDeadLetterScan) break;
    auto stored = broker.GetMessage(stream, sequence);
    if (!stored) {
      if (stored.error().code == ErrorCode::kNotFound) continue;  // deleted or aged out
      return stored.error();
    }
    DeadLetter letter;
    letter.sequence = stored->sequence != 0 ? stored->sequence : sequence;
    letter.service = StoredHeader(*stored, kHeaderConsumer);
    if (!service.empty() && letter.service != service) continue;
    letter.original_subject = StoredHeader(*stored, kHeaderOriginalSubject);
    letter.error = StoredHeader(*stored, kHeaderError);
    const std::string deliveries = StoredHeader(*stored, kHeaderDeliveries);
    try {
      letter.deliveries = deliveries.empty() ? 0 : std::stoull(deliveries);
    } catch (const std::exception&) {
      letter.deliveries = 0;  // a hand-written or foreign letter; list it anyway
    }
    letter.time = stored->time;
    letter.event_id = EventIdOf(stored->data);
    letter.event_json = std::move(stored->data);
    letters.push_back(std::move(letter));
  }
  return letters;
}

Result<void> ReplayDeadLetter(Broker& broker, uint64_t sequence) {
  auto stored = broker.GetMessage(StreamSpec::DeadLetters().name, sequence);
  if (!stored) return stored.error();
  const std::string subject = StoredHeader(*stored, kHeaderOriginalSubject);
  if (subject.empty()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "dead letter " + std::to_string(sequence) + " names no original subject"};
  }
  const std::string event_id = EventIdOf(stored->data);
  if (event_id.empty()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "dead letter " + std::to_string(sequence) + " holds no event id"};
  }
  // A new Nats-Msg-Id, or the broker would drop it as a copy of the original; the event id is
  // unchanged, so consumers that did apply it skip it through their inbox. The sequence in the
  // msg id makes a double-clicked replay one publish.
  auto published =
      broker.Publish(subject, event_id + ":replay:" + std::to_string(sequence), stored->data);
  if (!published) return published.error();
  obs::LogInfo("dead letter replayed", {{"sequence", sequence},
                                        {"event_id", event_id},
                                        {"subject", subject},
                                        {"consumer", StoredHeader(*stored, kHeaderConsumer)}});
  return Ok();
}

}  // namespace mercato::messaging
