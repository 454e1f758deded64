#include "mercato/observability/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

namespace mercato::obs {
namespace {

// The value of the first sample line that starts with `series` followed by a space.
double SampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0)
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  ADD_FAILURE() << "no sample " << series << " in:\n" << text;
  return std::nan("");
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++count;
  return count;
}

TEST(Counter, AddsIncrements) {
  Counter counter;

  counter.Inc();
  counter.Inc(2.5);

  EXPECT_EQ(counter.Value(), 3.5);
}

TEST(Gauge, SetsIncrementsAndDecrements) {
  Gauge gauge;

  gauge.Set(10);
  gauge.Inc(5);
  gauge.Dec(2);
  gauge.Dec();

  EXPECT_EQ(gauge.Value(), 12);
}

TEST(Histogram, CountsObservationsCumulatively) {
  Histogram histogram({0.1, 1, 10});

  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0, 100.0}) histogram.Observe(v);
  auto snap = histogram.Snap();

  EXPECT_EQ(snap.upper_bounds, (std::vector<double>{0.1, 1, 10}));
  // le is inclusive: 0.1 lands in the 0.1 bucket, 1.0 in the 1 bucket.
  EXPECT_EQ(snap.cumulative_counts, (std::vector<uint64_t>{2, 4, 5, 7}));
  EXPECT_EQ(snap.count, 7u);
  EXPECT_DOUBLE_EQ(snap.sum, 156.65);
}

TEST(Histogram, FindsBucketsWithManyBounds) {
  std::vector<double> bounds;
  for (int i = 1; i <= 40; ++i) bounds.push_back(i);
  Histogram histogram(bounds);

  histogram.Observe(0.5);
  histogram.Observe(20);
  histogram.Observe(20.5);
  histogram.Observe(41);
  auto snap = histogram.Snap();

  EXPECT_EQ(snap.cumulative_counts[0], 1u);   // le=1
  EXPECT_EQ(snap.cumulative_counts[18], 1u);  // le=19
  EXPECT_EQ(snap.cumulative_counts[19], 2u);  // le=20
  EXPECT_EQ(snap.cumulative_counts[20], 3u);  // le=21
  EXPECT_EQ(snap.cumulative_counts[39], 3u);  // le=40
  EXPECT_EQ(snap.cumulative_counts[40], 4u);  // +Inf
}

TEST(Histogram, RejectsUnsortedBounds) {
  EXPECT_THROW(Histogram({1, 0.5}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
}

TEST(Summary, ComputesQuantilesSumAndCount) {
  FakeClock clock;
  Summary summary({0.5, 0.9, 1.0}, std::chrono::minutes(1), clock);

  for (int i = 1; i <= 10; ++i) summary.Observe(i);
  auto snap = summary.Snap();

  ASSERT_EQ(snap.quantiles.size(), 3u);
  EXPECT_EQ(snap.quantiles[0], std::make_pair(0.5, 5.0));
  EXPECT_EQ(snap.quantiles[1], std::make_pair(0.9, 9.0));
  EXPECT_EQ(snap.quantiles[2], std::make_pair(1.0, 10.0));
  EXPECT_EQ(snap.sum, 55);
  EXPECT_EQ(snap.count, 10u);
}

TEST(Summary, ForgetsObservationsOlderThanMaxAge) {
  FakeClock clock;
  Summary summary({0.5}, std::chrono::minutes(1), clock);

  summary.Observe(100);
  clock.Advance(std::chrono::minutes(2));
  summary.Observe(1);
  auto snap = summary.Snap();

  EXPECT_EQ(snap.quantiles[0].second, 1);
  EXPECT_EQ(snap.count, 2u);  // sum and count stay cumulative, as Prometheus expects
  EXPECT_EQ(snap.sum, 101);
}

TEST(Summary, ReportsNaNWhenEmpty) {
  FakeClock clock;
  Summary summary({0.5}, std::chrono::minutes(1), clock);

  auto snap = summary.Snap();

  EXPECT_TRUE(std::isnan(snap.quantiles[0].second));
  EXPECT_EQ(snap.count, 0u);
}

TEST(Summary, KeepsABoundedWindowDroppingTheOldest) {
  FakeClock clock;
  Summary summary({0.0}, std::chrono::minutes(1), clock);

  for (int i = 0; i < 20000; ++i) summary.Observe(i);
  auto snap = summary.Snap();

  EXPECT_EQ(snap.quantiles[0].second, 10000);  // the 10k newest remain
  EXPECT_EQ(snap.count, 20000u);
}

TEST(Registry, ExposesTheTextFormatExactly) {
  Registry registry;
  FakeClock clock;
  auto& requests =
      registry.AddCounter("mercato_test_requests_total", "Requests handled.", {"method", "code"});
  requests.WithLabels({"POST", "500"}).Inc();
  requests.WithLabels({"GET", "200"}).Inc(3);
  registry.AddGauge("mercato_test_temperature_celsius", "Current temperature.")
      .WithLabels({})
      .Set(-1.5);
  auto& latency = registry.AddHistogram("mercato_test_latency_seconds", "Latency.", {}, {0.1, 1});
  for (double v : {0.0625, 0.5, 2.0}) latency.WithLabels({}).Observe(v);
  auto& sizes = registry.AddSummary("mercato_test_size_bytes", "Sizes.", {}, {0.5, 0.9},
                                    std::chrono::minutes(1), clock);
  for (int i = 1; i <= 10; ++i) sizes.WithLabels({}).Observe(i);

  const std::string text = registry.Expose();

  EXPECT_EQ(text,
            "# HELP mercato_test_latency_seconds Latency.\n"
            "# TYPE mercato_test_latency_seconds histogram\n"
            "mercato_test_latency_seconds_bucket{le=\"0.1\"} 1\n"
            "mercato_test_latency_seconds_bucket{le=\"1\"} 2\n"
            "mercato_test_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "mercato_test_latency_seconds_sum 2.5625\n"
            "mercato_test_latency_seconds_count 3\n"
            "# HELP mercato_test_requests_total Requests handled.\n"
            "# TYPE mercato_test_requests_total counter\n"
            "mercato_test_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "mercato_test_requests_total{method=\"POST\",code=\"500\"} 1\n"
            "# HELP mercato_test_size_bytes Sizes.\n"
            "# TYPE mercato_test_size_bytes summary\n"
            "mercato_test_size_bytes{quantile=\"0.5\"} 5\n"
            "mercato_test_size_bytes{quantile=\"0.9\"} 9\n"
            "mercato_test_size_bytes_sum 55\n"
            "mercato_test_size_bytes_count 10\n"
            "# HELP mercato_test_temperature_celsius Current temperature.\n"
            "# TYPE mercato_test_temperature_celsius gauge\n"
            "mercato_test_temperature_celsius -1.5\n");
}

TEST(Registry, LabelledHistogramPutsLeLast) {
  Registry registry;
  auto& family = registry.AddHistogram("mercato_test_seconds", "h", {"route"}, {1});

  family.WithLabels({"/a"}).Observe(0.5);
  const std::string text = registry.Expose();

  EXPECT_NE(text.find("mercato_test_seconds_bucket{route=\"/a\",le=\"1\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("mercato_test_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("mercato_test_seconds_sum{route=\"/a\"} 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("mercato_test_seconds_count{route=\"/a\"} 1\n"), std::string::npos);
}

TEST(Registry, EscapesLabelValuesAndHelp) {
  Registry registry;
  auto& family =
      registry.AddCounter("mercato_test_total", "Line one\nback\\slash \"quoted\"", {"path"});

  family.WithLabels({"a\"b\\c\nd"}).Inc();
  const std::string text = registry.Expose();

  EXPECT_NE(text.find("# HELP mercato_test_total Line one\\nback\\\\slash \"quoted\"\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mercato_test_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos)
      << text;
}

TEST(Registry, FormatsSpecialAndLargeNumbers) {
  Registry registry;
  auto& family = registry.AddGauge("mercato_test_value", "v", {"case"});

  family.WithLabels({"nan"}).Set(std::nan(""));
  family.WithLabels({"pinf"}).Set(std::numeric_limits<double>::infinity());
  family.WithLabels({"ninf"}).Set(-std::numeric_limits<double>::infinity());
  family.WithLabels({"big"}).Set(1e20);
  family.WithLabels({"int"}).Set(9007199254740991.0);
  family.WithLabels({"frac"}).Set(0.1);
  family.WithLabels({"neg"}).Set(-42);
  const std::string text = registry.Expose();

  EXPECT_NE(text.find("{case=\"nan\"} NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("{case=\"pinf\"} +Inf\n"), std::string::npos);
  EXPECT_NE(text.find("{case=\"ninf\"} -Inf\n"), std::string::npos);
  EXPECT_NE(text.find("{case=\"big\"} 1e+20\n"), std::string::npos);
  EXPECT_NE(text.find("{case=\"int\"} 9007199254740991\n"), std::string::npos);
  EXPECT_NE(text.find("{case=\"frac\"} 0.1\n"), std::string::npos);
  EXPECT_NE(text.find("{case=\"neg\"} -42\n"), std::string::npos);
}

TEST(Registry, ReRegisteringIdenticallyReturnsTheSameFamily) {
  Registry registry;

  auto& first = registry.AddCounter("mercato_test_total", "help", {"a"});
  auto& second = registry.AddCounter("mercato_test_total", "help", {"a"});
  first.WithLabels({"x"}).Inc();

  EXPECT_EQ(&first, &second);
  EXPECT_EQ(&first.WithLabels({"x"}), &second.WithLabels({"x"}));
  EXPECT_EQ(second.WithLabels({"x"}).Value(), 1);
}

TEST(Registry, ClashingRegistrationThrows) {
  Registry registry;
  registry.AddCounter("mercato_test_total", "help", {"a"});

  EXPECT_THROW(registry.AddGauge("mercato_test_total", "help", {"a"}), std::logic_error);
  EXPECT_THROW(registry.AddCounter("mercato_test_total", "help", {"b"}), std::logic_error);
  EXPECT_THROW(registry.AddCounter("mercato_test_total", "help", {}), std::logic_error);
  EXPECT_THROW(registry.AddCallback(
                   "mercato_test_total", "help", [] { return 1.0; }, true),
               std::logic_error);
}

TEST(Registry, RejectsInvalidNamesAndLabelCounts) {
  Registry registry;
  auto& family = registry.AddCounter("mercato_test_total", "help", {"a", "b"});

  EXPECT_THROW(family.WithLabels({"only-one"}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("1bad", "help"), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("mercato_ok", "help", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("mercato_h", "help", {"le"}), std::invalid_argument);
}

TEST(Registry, CallbackIsReadAtScrapeTime) {
  Registry registry;
  double value = 1;
  registry.AddCallback("mercato_test_queue_depth", "Depth.", [&value] { return value; });

  value = 7;
  const std::string text = registry.Expose();

  EXPECT_EQ(SampleValue(text, "mercato_test_queue_depth"), 7);
  EXPECT_NE(text.find("# TYPE mercato_test_queue_depth gauge\n"), std::string::npos);
}

TEST(Registry, ExposeSkipsARegistrationThatFailedValidation) {
  Registry registry;
  registry.AddCounter("mercato_test_total", "c");

  EXPECT_THROW(registry.AddHistogram("mercato_test_seconds", "h", {}, {2, 1}),
               std::invalid_argument);
  const std::string text = registry.Expose();

  EXPECT_EQ(text.find("mercato_test_seconds"), std::string::npos);
  EXPECT_EQ(SampleValue(text, "mercato_test_total"), 0);
}

// Run under TSan to be meaningful: re-registering a callback rewrites its help text while a
// scrape renders it.
TEST(Registry, ReRegisteringACallbackDuringScrapesIsSafe) {
  Registry registry;
  registry.AddCallback("mercato_test_depth", "first", [] { return 1.0; });

  std::thread writer([&registry] {
    for (int i = 0; i < 2'000; ++i) {
      registry.AddCallback("mercato_test_depth", i % 2 == 0 ? "even help" : "odd",
                           [] { return 1.0; });
    }
  });
  for (int i = 0; i < 200; ++i) {
    const std::string text = registry.Expose();
    EXPECT_EQ(SampleValue(text, "mercato_test_depth"), 1);
  }
  writer.join();
}

TEST(RegisterProcessMetrics, IsIdempotentAndReadsProc) {
  Registry registry;

  RegisterProcessMetrics(registry);
  RegisterProcessMetrics(registry);
  const std::string text = registry.Expose();

  for (const char* name :
       {"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
        "process_max_fds", "process_threads", "process_cpu_seconds_total",
        "process_start_time_seconds", "process_uptime_seconds"}) {
    EXPECT_EQ(Occurrences(text, std::string("# TYPE ") + name + " "), 1u) << name;
    EXPECT_GE(SampleValue(text, name), 0) << name;
  }
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes"), 1e5);
  EXPECT_GE(SampleValue(text, "process_virtual_memory_bytes"),
            SampleValue(text, "process_resident_memory_bytes"));
  EXPECT_GE(SampleValue(text, "process_open_fds"), 3);
  EXPECT_GE(SampleValue(text, "process_threads"), 1);
  EXPECT_GT(SampleValue(text, "process_start_time_seconds"), 1.6e9);  // after 2020
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

TEST(Registry, ExpositionPassesPromtool) {
  constexpr const char* kPromtool = "/usr/bin/promtool";
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: install the prometheus package; this check must not be skipped";
  Registry registry;
  FakeClock clock;
  auto& requests =
      registry.AddCounter("mercato_test_requests_total", "Requests handled.", {"method", "code"});
  requests.WithLabels({"GET", "200"}).Inc(3);
  requests.WithLabels({"PO\"ST", "5\\0\n0"}).Inc();
  registry.AddGauge("mercato_test_in_flight_requests", "Requests in flight.").WithLabels({}).Set(2);
  auto& latency =
      registry.AddHistogram("mercato_test_request_duration_seconds", "Request latency.", {"route"});
  latency.WithLabels({"/items/{id}"}).Observe(0.02);
  latency.WithLabels({"/health"}).Observe(12);
  auto& sizes = registry.AddSummary("mercato_test_response_size_bytes", "Response sizes.",
                                    {"route"}, {0.5, 0.9, 0.99}, std::chrono::minutes(1), clock);
  sizes.WithLabels({"/items"}).Observe(512);
  sizes.WithLabels({"/empty"});  // NaN quantiles must be accepted too
  RegisterProcessMetrics(registry);
  const auto path = std::filesystem::temp_directory_path() /
                    ("mercato_promtool_" + std::to_string(::getpid()) + ".prom");
  std::ofstream(path) << registry.Expose();

  const std::string command =
      std::string(kPromtool) + " check metrics < " + path.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  std::filesystem::remove(path);

  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool rejected the exposition:\n" << output;
  EXPECT_EQ(output, "");  // lint findings are printed even when the exit status is 0
}

TEST(Registry, ConcurrentUpdatesGiveExactTotals) {
  Registry registry;
  Counter& counter = registry.AddCounter("mercato_test_total", "c").WithLabels({});
  Histogram& histogram =
      registry.AddHistogram("mercato_test_seconds", "h", {}, {0.5, 2}).WithLabels({});
  constexpr int kThreads = 4;
  constexpr int kIterations = 100'000;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter, &histogram, &registry, t] {
      for (int i = 0; i < kIterations; ++i) {
        counter.Inc();
        histogram.Observe(t % 2 == 0 ? 1.0 : 3.0);
        if (i % 20'000 == 0) (void)registry.Expose();  // scrapes race with updates
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto snap = histogram.Snap();

  EXPECT_EQ(counter.Value(), kThreads * kIterations);
  EXPECT_EQ(snap.count, static_cast<uint64_t>(kThreads * kIterations));
  EXPECT_EQ(snap.cumulative_counts, (std::vector<uint64_t>{0, 200'000, 400'000}));
  EXPECT_EQ(snap.sum, 2 * kIterations * 1.0 + 2 * kIterations * 3.0);
}

}  // namespace
}  // namespace mercato::obs
