// A Prometheus metrics registry: counters, gauges, histograms and summaries with labels, and the
// text exposition format (version 0.0.4) served at /metrics. Children are created once and then
// updated lock-free, so hot paths keep a reference:
//
//   auto& requests = obs::Registry::Default().AddCounter("mercato_hello_greetings_total",
//                                                        "Greetings sent", {"lang"});
//   obs::Counter& en = requests.WithLabels({"en"});   // cache this reference
//   en.Inc();
//
// Registering the same name again with the same type and labels returns the existing family;
// a clash of type or label names throws std::logic_error (a programming error at start-up).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/clock.hpp"

namespace mercato::obs {

class Counter {
 public:
  void Inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `upper_bounds` ascending, without +Inf (added implicitly).
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;       // without +Inf
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Snap() const;

  // 0.005 .. 10 seconds: the Prometheus client defaults, fit for request latencies.
  static std::vector<double> DefaultLatencyBuckets();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, non-cumulative
  std::atomic<double> sum_{0.0};
  // No separate count: Snap() sums the buckets, so _count always equals the +Inf bucket.
};

// Quantiles over a sliding time window (observations older than max_age are forgotten).
class Summary {
 public:
  Summary(std::vector<double> quantiles, Duration max_age, const Clock& clock);
  void Observe(double v);

  struct Snapshot {
    std::vector<std::pair<double, double>> quantiles;  // (quantile, value); NaN when empty
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Snap() const;

 private:
  std::vector<double> quantiles_;
  Duration max_age_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::deque<std::pair<SteadyTime, double>> window_;  // bounded; oldest dropped first
  double sum_ = 0;  // over all observations, like the Prometheus clients
  uint64_t count_ = 0;
};

// A metric name with its label names and one child per distinct label-value tuple.
template <class M>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<M>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names, Factory factory)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        factory_(std::move(factory)) {}

  // The child for these label values (created on first use). The reference stays valid for the
  // registry's lifetime. Throws std::invalid_argument if the value count is wrong.
  M& WithLabels(std::initializer_list<std::string_view> values);
  M& WithLabels(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls f(label_values, child) for every child, in label order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const M&)>& f) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Factory factory_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry the chassis exposes at /metrics.
  static Registry& Default();

  Family<Counter>& AddCounter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                                  std::vector<double> upper_bounds = Histogram::DefaultLatencyBuckets());
  Family<Summary>& AddSummary(std::string name, std::string help, std::vector<std::string> labels,
                              std::vector<double> quantiles = {0.5, 0.9, 0.99},
                              Duration max_age = std::chrono::minutes(1),
                              const Clock& clock = Clock::Real());
  // A gauge (or counter, when `is_counter`) whose value is read at scrape time.
  void AddCallback(std::string name, std::string help, std::function<double()> read,
                   bool is_counter = false);

  // Prometheus text exposition format 0.0.4, families sorted by name.
  std::string Expose() const;

 private:
  struct Entry;
  Entry& Find(const std::string& name, int kind, const std::vector<std::string>& labels);
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

// Registers process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_threads, process_cpu_seconds_total, process_start_time_seconds and
// process_uptime_seconds (read from /proc at scrape time). Idempotent.
void RegisterProcessMetrics(Registry& registry);

}  // namespace mercato::obs

#include "mercato/observability/metrics_inl.hpp"
