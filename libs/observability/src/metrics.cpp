#include "mercato/observability/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mercato::obs {
namespace {

enum Kind : int {
  kCounterKind,
  kGaugeKind,
  kHistogramKind,
  kSummaryKind,
  kCallbackGaugeKind,
  kCallbackCounterKind,
};

// Enough for stable tail quantiles at typical request rates while bounding memory and the sort
// done at scrape time.
constexpr size_t kMaxSummaryWindow = 10'000;

std::string_view KindName(int kind) {
  switch (kind) {
    case kCounterKind:
    case kCallbackCounterKind:
      return "counter";
    case kHistogramKind:
      return "histogram";
    case kSummaryKind:
      return "summary";
    default:
      return "gauge";
  }
}

bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool ValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;  // "__" is reserved for Prometheus
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Integers print without exponent or fraction (what people and promtool expect to read); other
// values use the shortest form that parses back to the same double.
void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53
  std::to_chars_result result;
  if (std::trunc(v) == v && std::fabs(v) < kExactIntegerLimit) {
    result = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
  } else {
    result = std::to_chars(buf, buf + sizeof buf, v);
  }
  out.append(buf, result.ptr);
}

void AppendEscaped(std::string& out, std::string_view text, bool escape_quotes) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && escape_quotes)
      out += "\\\"";
    else
      out += c;
  }
}

// `{a="x",b="y"}`, plus an optional extra label (le / quantile); nothing when there are no labels.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i], true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& names, const std::vector<std::string>& values,
                  double value, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  AppendLabels(out, names, values, extra_name, extra_value);
  out += ' ';
  AppendNumber(out, value);
  out += '\n';
}

std::string NumberText(double v) {
  std::string s;
  AppendNumber(s, v);
  return s;
}

}  // namespace

// ---- Histogram ------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (std::isnan(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw std::invalid_argument("histogram bounds must be strictly ascending numbers");
    }
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::Observe(double v) {
  // Short bound lists (the common case) scan faster than a binary search's branches.
  constexpr size_t kLinearScanMax = 16;
  size_t index;
  if (bounds_.size() <= kLinearScanMax) {
    index = 0;
    while (index < bounds_.size() && !(v <= bounds_[index])) ++index;
  } else {
    index =
        static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    if (std::isnan(v)) index = bounds_.size();
  }
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot snap;
  snap.upper_bounds = bounds_;
  snap.cumulative_counts.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snap.cumulative_counts.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

std::vector<double> Histogram::DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// ---- Summary --------------------------------------------------------------------------------

Summary::Summary(std::vector<double> quantiles, Duration max_age, const Clock& clock)
    : quantiles_(std::move(quantiles)), max_age_(max_age), clock_(clock) {
  for (double q : quantiles_) {
    if (!(q >= 0 && q <= 1)) throw std::invalid_argument("summary quantiles must be in [0, 1]");
  }
  std::sort(quantiles_.begin(), quantiles_.end());
}

void Summary::Observe(double v) {
  const SteadyTime now = clock_.Now();
  std::lock_guard lock(mutex_);
  window_.emplace_back(now, v);
  if (window_.size() > kMaxSummaryWindow) window_.pop_front();
  while (!window_.empty() && now - window_.front().first > max_age_) window_.pop_front();
  sum_ += v;
  ++count_;
}

Summary::Snapshot Summary::Snap() const {
  const SteadyTime now = clock_.Now();
  std::vector<double> values;
  Snapshot snap;
  {
    std::lock_guard lock(mutex_);
    values.reserve(window_.size());
    for (const auto& [at, v] : window_) {
      if (now - at <= max_age_) values.push_back(v);
    }
    snap.sum = sum_;
    snap.count = count_;
  }
  std::sort(values.begin(), values.end());
  for (double q : quantiles_) {
    double value = std::nan("");
    if (!values.empty()) {
      // Nearest rank: the smallest value with at least q of the observations at or below it.
      auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
      value = values[rank == 0 ? 0 : std::min(rank, values.size()) - 1];
    }
    snap.quantiles.emplace_back(q, value);
  }
  return snap;
}

// ---- Registry -------------------------------------------------------------------------------

struct Registry::Entry {
  int kind = kCounterKind;
  std::string name;
  std::string help;
  std::vector<std::string> labels;
  std::unique_ptr<Family<Counter>> counter;
  std::unique_ptr<Family<Gauge>> gauge;
  std::unique_ptr<Family<Histogram>> histogram;
  std::unique_ptr<Family<Summary>> summary;
  std::function<double()> read;  // callbacks only; guarded by the registry mutex
};

Registry& Registry::Default() {
  static Registry* registry = new Registry();  // never destroyed: metrics may be touched at exit
  return *registry;
}

// Caller holds mutex_. Returns the existing entry (after checking it matches) or a new, empty one
// the caller fills in.
Registry::Entry& Registry::Find(const std::string& name, int kind,
                                const std::vector<std::string>& labels) {
  if (!ValidMetricName(name)) throw std::invalid_argument("invalid metric name: " + name);
  for (const std::string& label : labels) {
    if (!ValidLabelName(label)) throw std::invalid_argument("invalid label name: " + label);
    if ((kind == kHistogramKind && label == "le") ||
        (kind == kSummaryKind && label == "quantile")) {
      throw std::invalid_argument("metric " + name + ": label name " + label + " is reserved");
    }
  }
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    const Entry& existing = *it->second;
    if (existing.kind != kind) {
      throw std::logic_error("metric " + name + " already registered as another type");
    }
    if (existing.labels != labels) {
      throw std::logic_error("metric " + name + " already registered with other label names");
    }
    return *it->second;
  }
  auto entry = std::make_shared<Entry>();
  entry->kind = kind;
  entry->name = name;
  entry->labels = labels;
  return *entries_.emplace(name, std::move(entry)).first->second;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  Entry& entry = Find(name, kCounterKind, labels);
  if (!entry.counter) {
    entry.help = help;
    entry.counter =
        std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(labels),
                                          [] { return std::make_unique<Counter>(); });
    // An unlabelled metric is exposed (as 0) from registration on, like the Prometheus clients.
    if (entry.labels.empty()) entry.counter->WithLabels({});
  }
  return *entry.counter;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  Entry& entry = Find(name, kGaugeKind, labels);
  if (!entry.gauge) {
    entry.help = help;
    entry.gauge =
        std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(labels),
                                        [] { return std::make_unique<Gauge>(); });
    if (entry.labels.empty()) entry.gauge->WithLabels({});
  }
  return *entry.gauge;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::vector<double> upper_bounds) {
  std::lock_guard lock(mutex_);
  Entry& entry = Find(name, kHistogramKind, labels);
  if (!entry.histogram) {
    Histogram probe(upper_bounds);  // validates the bounds now rather than at first use
    entry.help = help;
    entry.histogram = std::make_unique<Family<Histogram>>(
        std::move(name), std::move(help), std::move(labels),
        [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); });
    if (entry.labels.empty()) entry.histogram->WithLabels({});
  }
  return *entry.histogram;
}

Family<Summary>& Registry::AddSummary(std::string name, std::string help,
                                      std::vector<std::string> labels,
                                      std::vector<double> quantiles, Duration max_age,
                                      const Clock& clock) {
  std::lock_guard lock(mutex_);
  Entry& entry = Find(name, kSummaryKind, labels);
  if (!entry.summary) {
    Summary probe(quantiles, max_age, clock);  // validates the quantiles now
    entry.help = help;
    entry.summary = std::make_unique<Family<Summary>>(
        std::move(name), std::move(help), std::move(labels),
        [quantiles = std::move(quantiles), max_age, &clock] {
          return std::make_unique<Summary>(quantiles, max_age, clock);
        });
    if (entry.labels.empty()) entry.summary->WithLabels({});
  }
  return *entry.summary;
}

void Registry::AddCallback(std::string name, std::string help, std::function<double()> read,
                           bool is_counter) {
  std::lock_guard lock(mutex_);
  Entry& entry = Find(name, is_counter ? kCallbackCounterKind : kCallbackGaugeKind, {});
  // Registering again replaces the reader, which keeps RegisterProcessMetrics idempotent.
  entry.help = std::move(help);
  entry.read = std::move(read);
}

std::string Registry::Expose() const {
  // Everything AddCallback may rewrite (help, the reader) is copied here under the lock. The
  // rest is fixed once the registering call has released the lock: name, kind and labels from
  // creation on, a family from the call that created it on (never replaced, and owned by the
  // entry the shared_ptr keeps alive).
  struct Item {
    std::shared_ptr<const Entry> entry;
    std::string help;
    std::function<double()> read;
  };
  std::vector<Item> items;
  {
    // Copy under the lock, render outside it: a slow callback must not stall registrations.
    std::lock_guard lock(mutex_);
    items.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) {
      // An entry whose registration threw after creating it (bad histogram bounds or summary
      // quantiles) has no family yet: nothing to expose.
      const bool empty = (entry->kind == kCounterKind && !entry->counter) ||
                         (entry->kind == kGaugeKind && !entry->gauge) ||
                         (entry->kind == kHistogramKind && !entry->histogram) ||
                         (entry->kind == kSummaryKind && !entry->summary);
      if (empty) continue;
      items.push_back({entry, entry->help, entry->read});
    }
  }

  std::string out;
  out.reserve(items.size() * 128);
  for (const Item& item : items) {
    const Entry& e = *item.entry;
    out += "# HELP ";
    out += e.name;
    out += ' ';
    AppendEscaped(out, item.help, false);
    out += "\n# TYPE ";
    out += e.name;
    out += ' ';
    out += KindName(e.kind);
    out += '\n';
    switch (e.kind) {
      case kCounterKind:
        e.counter->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
          AppendSample(out, e.name, "", e.labels, values, c.Value());
        });
        break;
      case kGaugeKind:
        e.gauge->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
          AppendSample(out, e.name, "", e.labels, values, g.Value());
        });
        break;
      case kHistogramKind:
        e.histogram->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
          const Histogram::Snapshot snap = h.Snap();
          for (size_t i = 0; i < snap.cumulative_counts.size(); ++i) {
            const std::string le =
                i < snap.upper_bounds.size() ? NumberText(snap.upper_bounds[i]) : "+Inf";
            AppendSample(out, e.name, "_bucket", e.labels, values,
                         static_cast<double>(snap.cumulative_counts[i]), "le", le);
          }
          AppendSample(out, e.name, "_sum", e.labels, values, snap.sum);
          AppendSample(out, e.name, "_count", e.labels, values, static_cast<double>(snap.count));
        });
        break;
      case kSummaryKind:
        e.summary->ForEach([&](const std::vector<std::string>& values, const Summary& s) {
          const Summary::Snapshot snap = s.Snap();
          for (const auto& [q, v] : snap.quantiles) {
            AppendSample(out, e.name, "", e.labels, values, v, "quantile", NumberText(q));
          }
          AppendSample(out, e.name, "_sum", e.labels, values, snap.sum);
          AppendSample(out, e.name, "_count", e.labels, values, static_cast<double>(snap.count));
        });
        break;
      default: {
        double value = std::nan("");
        try {
          if (item.read) value = item.read();
        } catch (...) {
          // A failing reader must not break the whole scrape; NaN says "unknown".
        }
        AppendSample(out, e.name, "", e.labels, {}, value);
      }
    }
  }
  return out;
}

// ---- Process metrics ------------------------------------------------------------------------

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Fields of /proc/self/stat after the command name, which may itself hold spaces or parens;
// fields()[0] is field 3 (state) of proc(5).
std::vector<std::string> StatFields() {
  const std::string stat = ReadFile("/proc/self/stat");
  std::vector<std::string> fields;
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  while (in >> field) fields.push_back(field);
  return fields;
}

double StatField(int number) {
  const std::vector<std::string> fields = StatFields();
  const size_t index = static_cast<size_t>(number - 3);
  if (index >= fields.size()) return std::nan("");
  return std::strtod(fields[index].c_str(), nullptr);
}

double StatmPages(int column) {
  std::istringstream in(ReadFile("/proc/self/statm"));
  double value = std::nan("");
  for (int i = 0; i <= column; ++i) {
    if (!(in >> value)) return std::nan("");
  }
  return value * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double ProcessStartTimeSeconds() {
  std::istringstream in(ReadFile("/proc/stat"));
  std::string line;
  double boot_time = std::nan("");
  while (std::getline(in, line)) {
    if (line.starts_with("btime ")) boot_time = std::strtod(line.c_str() + 6, nullptr);
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return boot_time + StatField(22) / ticks;
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  // The start time never changes, so it is read once rather than on every scrape.
  const double start_time = ProcessStartTimeSeconds();
  registry.AddCallback("process_resident_memory_bytes", "Resident memory size in bytes.",
                       [] { return StatmPages(1); });
  registry.AddCallback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       [] { return StatmPages(0); });
  registry.AddCallback("process_open_fds", "Number of open file descriptors.", [] {
    std::error_code ec;
    double count = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
      ++count;
    }
    return ec ? std::nan("") : count;
  });
  registry.AddCallback("process_max_fds", "Maximum number of open file descriptors.", [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nan("");
    return limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                           : static_cast<double>(limit.rlim_cur);
  });
  registry.AddCallback("process_threads", "Number of OS threads in the process.",
                       [] { return StatField(20); });
  registry.AddCallback(
      "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      [] {
        const std::vector<std::string> fields = StatFields();
        if (fields.size() < 13) return std::nan("");
        const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
        return (std::strtod(fields[11].c_str(), nullptr) +
                std::strtod(fields[12].c_str(), nullptr)) /
               ticks;
      },
      true);
  registry.AddCallback("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.",
                       [start_time] { return start_time; });
  registry.AddCallback("process_uptime_seconds", "Time since the process started in seconds.",
                       [start_time] {
                         const auto now = std::chrono::system_clock::now().time_since_epoch();
                         return std::chrono::duration<double>(now).count() - start_time;
                       });
}

}  // namespace mercato::obs
