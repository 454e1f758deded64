// events_e2e: the event backbone end to end, with durable storage on both sides.
//
//   full pipeline:  business row + outbox row in one SQLite transaction (synchronous=FULL)
//                   → relay → JetStream (file store) → pull consumer → effect + inbox row in one
//                   SQLite transaction (FULL) → ack
//   baseline:       JetStream alone: publish (waiting for the ack) → pull consumer → ack
//
// Both run side by side in one invocation against the same local nats-server. Prints events/s
// and latency (p50/p99) for each, and the ratio full/baseline: the price of the outbox, the inbox
// and two fsyncing databases. Latency runs from just before the producer's transaction to the
// consumer's effect inside its transaction (so it includes the producer's commit and excludes
// the consumer's); the baseline's from just before the publish to the ack of the fetch.
//
//   build/bin/events_e2e --events 5000
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/consumer.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace {

using namespace mercato;
using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Report {
  std::string name;
  int events = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double rate() const { return seconds > 0 ? events / seconds : 0; }
};

// Collects commit-to-effect latencies from consumer threads.
class Latencies {
 public:
  void Add(int64_t ns) {
    std::lock_guard lock(mutex_);
    values_.push_back(ns);
    last_ns_ = std::max(last_ns_, NowNs());
  }
  size_t count() const {
    std::lock_guard lock(mutex_);
    return values_.size();
  }
  double Percentile(double p) {
    std::lock_guard lock(mutex_);
    if (values_.empty()) return 0;
    std::sort(values_.begin(), values_.end());
    size_t index = std::min(values_.size() - 1, static_cast<size_t>(p * static_cast<double>(values_.size())));
    return static_cast<double>(values_[index]) / 1e6;
  }
  int64_t last_ns() const {
    std::lock_guard lock(mutex_);
    return last_ns_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<int64_t> values_;
  int64_t last_ns_ = 0;
};

std::string Label(int rate) { return rate > 0 ? " @" + std::to_string(rate) + "/s" : " (max)"; }

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "events_e2e: %s\n", what.c_str());
  std::exit(1);
}

bool WaitForCount(const Latencies& latencies, int expected, const char* label) {
  auto deadline = Clock::now() + std::chrono::minutes(5);
  size_t last_print = 0;
  while (Clock::now() < deadline) {
    size_t n = latencies.count();
    if (n >= static_cast<size_t>(expected)) return true;
    if (n - last_print >= static_cast<size_t>(expected / 5) || n == 0) {
      std::fprintf(stderr, "  %s: %zu/%d consumed\n", label, n, expected);
      last_print = n;
    }
    testing::WaitFor([&] { return latencies.count() >= static_cast<size_t>(expected); },
                     std::chrono::milliseconds(500));
  }
  return false;
}

std::unique_ptr<storage::Database> OpenDb(const std::string& path, const std::string& extra_sql) {
  auto db = storage::OpenSqlite({.path = path, .synchronous_full = true});
  if (!db) Fail("sqlite: " + db.error().message);
  std::vector<storage::Migration> migrations = messaging::Migrations();
  migrations.push_back({1, "bench", extra_sql});
  if (auto applied = storage::ApplyMigrations(**db, migrations); !applied) Fail(applied.error().message);
  return std::move(*db);
}

// Waits until event `i`'s slot when `rate` > 0 (events per second); open loop otherwise.
void Pace(int64_t start_ns, int i, int rate) {
  if (rate <= 0) return;
  auto due = Clock::time_point(std::chrono::nanoseconds(start_ns + static_cast<int64_t>(i) * 1'000'000'000 / rate));
  std::this_thread::sleep_until(due);
}

Report RunBaseline(const std::string& url, int events, int rate, const std::string& tag) {
  auto broker = messaging::Broker::Connect({.url = url, .name = "bench-baseline"});
  if (!broker) Fail(broker.error().message);
  const std::string stream = "RAW" + tag, context = "raw" + tag;
  if (auto s = (*broker)->EnsureStream(messaging::StreamSpec::ForContext(stream, context)); !s) Fail(s.error().message);
  messaging::ConsumerSpec spec;
  spec.stream = stream;
  spec.durable = "raw-bench";
  spec.filter_subject = context + ".>";
  auto consumer = (*broker)->Subscribe(spec);
  if (!consumer) Fail(consumer.error().message);

  Latencies latencies;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      auto batch = (*consumer)->Fetch(64, std::chrono::milliseconds(200));
      if (!batch) continue;
      for (auto& message : *batch) {
        int64_t sent = std::strtoll(message->data().c_str(), nullptr, 10);
        if (message->Ack()) latencies.Add(NowNs() - sent);
      }
    }
  });
  int64_t start = NowNs();
  for (int i = 0; i < events; ++i) {
    Pace(start, i, rate);
    std::string payload = std::to_string(NowNs());
    auto ack = (*broker)->Publish(context + ".Tick", context + "-" + std::to_string(i), payload);
    if (!ack) Fail("publish: " + ack.error().message);
  }
  bool complete = WaitForCount(latencies, events, "baseline");
  done = true;
  reader.join();
  if (!complete) Fail("baseline did not complete in 5 minutes");
  return {"jetstream only" + Label(rate), events, static_cast<double>(latencies.last_ns() - start) / 1e9,
          latencies.Percentile(0.50), latencies.Percentile(0.99)};
}

Report RunPipeline(const std::string& url, const std::string& dir, int events, int rate,
                   const std::string& tag) {
  const std::string stream = "BENCH" + tag, context = "bench" + tag;
  auto producer_db = OpenDb(dir + "/producer" + tag + ".db",
                            "CREATE TABLE ticks (id INTEGER PRIMARY KEY, aggregate TEXT NOT NULL);");
  auto consumer_db = OpenDb(dir + "/consumer" + tag + ".db",
                            "CREATE TABLE effects (event_id TEXT PRIMARY KEY, aggregate TEXT NOT NULL);");
  auto producer_broker = messaging::Broker::Connect({.url = url, .name = "bench-producer"});
  auto consumer_broker = messaging::Broker::Connect({.url = url, .name = "bench-consumer"});
  if (!producer_broker || !consumer_broker) Fail("cannot connect to nats");
  if (auto s = (*producer_broker)->EnsureStream(messaging::StreamSpec::ForContext(stream, context)); !s) {
    Fail(s.error().message);
  }

  obs::Registry registry;
  messaging::RelayOptions relay_options;
  relay_options.service = "bench-producer";
  messaging::OutboxRelay relay(*producer_db, **producer_broker, relay_options, registry);
  messaging::ConsumerOptions consumer_options;
  consumer_options.service = "bench-consumer";
  consumer_options.stream = stream;
  consumer_options.filter_subject = context + ".>";
  messaging::EventConsumer consumer(*consumer_db, **consumer_broker, consumer_options, registry);

  Latencies latencies;
  consumer.On(context + ".Tick", [&latencies](storage::Connection& tx, const messaging::Event& event) -> Result<void> {
    auto stored = tx.Execute("INSERT INTO effects (event_id, aggregate) VALUES ($1, $2)", {event.id, event.subject});
    if (!stored) return stored.error();
    latencies.Add(NowNs() - event.data.as_object().at("committed_ns").as_int64());
    return Ok();
  });
  if (auto started = consumer.Start(); !started) Fail(started.error().message);
  relay.Start();

  int64_t start = NowNs();
  for (int i = 0; i < events; ++i) {
    Pace(start, i, rate);
    auto aggregate = "agg-" + std::to_string(i % 64);
    auto event = messaging::MakeEvent(context, "Tick", aggregate,
                                      boost::json::object{{"seq", i}, {"committed_ns", NowNs()}});
    auto written = producer_db->TransactBlocking([&](storage::Connection& tx) -> Result<void> {
      auto row = tx.Execute("INSERT INTO ticks (aggregate) VALUES ($1)", {aggregate});
      if (!row) return row.error();
      return messaging::Enqueue(tx, event);
    });
    if (!written) Fail("commit: " + written.error().message);
    relay.Notify();
  }
  bool complete = WaitForCount(latencies, events, "pipeline");
  consumer.Stop();
  relay.Stop();
  if (!complete) Fail("pipeline did not complete in 5 minutes");
  return {"outbox+jetstream+inbox" + Label(rate), events, static_cast<double>(latencies.last_ns() - start) / 1e9,
          latencies.Percentile(0.50), latencies.Percentile(0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  int events = 5000;
  int rate = 500;  // the paced run's events per second, where latency is measured
  std::string results = "bench/results";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: events_e2e [--events N (default 5000)] [--rate R (default 500)] [--results DIR]\n"
                  "Runs nats-server on a free loopback port; measures JetStream alone and the full\n"
                  "outbox -> JetStream -> inbox pipeline (SQLite synchronous=FULL on both sides), each\n"
                  "twice: open loop for throughput, then paced at R events/s for latency.\n");
      return 0;
    }
    if (arg == "--events" && i + 1 < argc) {
      events = std::atoi(argv[++i]);
    } else if (arg == "--rate" && i + 1 < argc) {
      rate = std::atoi(argv[++i]);
    } else if (arg == "--results" && i + 1 < argc) {
      results = argv[++i];
    } else {
      std::fprintf(stderr, "events_e2e: unknown argument %s (see --help)\n", arg.c_str());
      return 2;
    }
  }
  if (events < 1 || events > 1'000'000 || rate < 1 || rate > 1'000'000) {
    std::fprintf(stderr, "events_e2e: --events and --rate must be in 1..1000000\n");
    return 2;
  }
  // The paced run lasts about 4 s.
  int paced_events = std::min(events, rate * 4);
  obs::ConfigureLogging("events_e2e", obs::LogLevel::kError);

  testing::NatsServer nats;
  testing::TempDir dir;
  std::fprintf(stderr, "events_e2e: %d events, nats-server on %s, data in %s\n", events, nats.url().c_str(),
               dir.path().c_str());
  Report baseline = RunBaseline(nats.url(), events, 0, "1");
  Report pipeline = RunPipeline(nats.url(), dir.path(), events, 0, "1");
  Report baseline_paced = RunBaseline(nats.url(), paced_events, rate, "2");
  Report pipeline_paced = RunPipeline(nats.url(), dir.path(), paced_events, rate, "2");

  char line[512];
  std::string report = "events_e2e " + FormatRfc3339(mercato::Clock::Real().WallNow()) + ", " +
                       std::to_string(events) + " events, SQLite synchronous=FULL, JetStream file store\n" +
                       "latency: producer transaction start -> consumer effect (see the source header)\n";
  std::snprintf(line, sizeof line, "%-32s %12s %10s %10s\n", "path", "events/s", "p50 ms", "p99 ms");
  report += line;
  for (const auto& r : {baseline, pipeline, baseline_paced, pipeline_paced}) {
    std::snprintf(line, sizeof line, "%-32s %12.0f %10.2f %10.2f\n", r.name.c_str(), r.rate(), r.p50_ms, r.p99_ms);
    report += line;
  }
  std::snprintf(line, sizeof line,
                "throughput ratio pipeline/baseline (max): %.2fx   latency at %d/s: p50 %.2f ms (%.2fx), p99 %.2f ms (%.2fx)\n",
                pipeline.rate() / baseline.rate(), rate, pipeline_paced.p50_ms,
                baseline_paced.p50_ms > 0 ? pipeline_paced.p50_ms / baseline_paced.p50_ms : 0.0,
                pipeline_paced.p99_ms, baseline_paced.p99_ms > 0 ? pipeline_paced.p99_ms / baseline_paced.p99_ms : 0.0);
  report += line;
  std::fputs(report.c_str(), stdout);
  std::error_code ec;
  std::filesystem::create_directories(results, ec);
  std::ofstream(results + "/events_e2e.txt") << report;
  return 0;
}
