#include "mercato/observability/health.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace mercato::obs {
namespace {

TEST(HealthRegistry, IsReadyWhenAllChecksAreUp) {
  HealthRegistry health;
  health.Add("sqlite", [] { return CheckResult::Up(); });
  health.Add("nats", [] { return CheckResult::Up("connected"); });

  auto report = health.Run();

  EXPECT_TRUE(report.ready);
  ASSERT_EQ(report.checks.size(), 2u);
  EXPECT_EQ(report.checks[0].name, "sqlite");
  EXPECT_TRUE(report.checks[0].up);
  EXPECT_GE(report.checks[0].latency_ms, 0);
  EXPECT_EQ(report.checks[1].detail, "connected");
}

TEST(HealthRegistry, IsNotReadyWhenACriticalCheckIsDown) {
  HealthRegistry health;
  health.Add("sqlite", [] { return CheckResult::Up(); });
  health.Add("nats", [] { return CheckResult::Down("no route"); });

  auto report = health.Run();

  EXPECT_FALSE(report.ready);
  EXPECT_FALSE(report.checks[1].up);
  EXPECT_EQ(report.checks[1].detail, "no route");
}

TEST(HealthRegistry, StaysReadyWhenOnlyANonCriticalCheckIsDown) {
  HealthRegistry health;
  health.Add("sqlite", [] { return CheckResult::Up(); });
  health.Add(
      "recommendations", [] { return CheckResult::Down("timeout"); }, false);

  auto report = health.Run();

  EXPECT_TRUE(report.ready);
  EXPECT_FALSE(report.checks[1].up);
  EXPECT_FALSE(report.checks[1].critical);
}

TEST(HealthRegistry, CountsAThrowingCheckAsDown) {
  HealthRegistry health;
  health.Add("db", []() -> CheckResult { throw std::runtime_error("connection refused"); });
  health.Add("weird", []() -> CheckResult { throw 42; });

  auto report = health.Run();

  EXPECT_FALSE(report.ready);
  EXPECT_FALSE(report.checks[0].up);
  EXPECT_EQ(report.checks[0].detail, "connection refused");
  EXPECT_FALSE(report.checks[1].up);
}

// A gate a check blocks on until the test opens it. Shared, because the check's thread may
// outlive the test body that created it.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int entered = 0;

  void Wait() {
    std::unique_lock lock(mutex);
    ++entered;
    changed.notify_all();
    changed.wait(lock, [this] { return open; });
  }
  void Open() {
    std::lock_guard lock(mutex);
    open = true;
    changed.notify_all();
  }
};

TEST(HealthRegistry, ReportsAHungCheckDownAfterTheTimeout) {
  using std::chrono::milliseconds;
  HealthRegistry health;
  auto gate = std::make_shared<Gate>();
  health.Add("sqlite", [] { return CheckResult::Up(); });
  health.Add("nats", [gate] {
    gate->Wait();
    return CheckResult::Up();
  });

  const auto started = std::chrono::steady_clock::now();
  auto report = health.Run(milliseconds(100));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  gate->Open();

  // The check would block until Open(), i.e. forever had Run() waited for it.
  EXPECT_LT(elapsed, milliseconds(2'000));
  EXPECT_GE(elapsed, milliseconds(100));
  EXPECT_FALSE(report.ready);
  ASSERT_EQ(report.checks.size(), 2u);
  EXPECT_TRUE(report.checks[0].up);
  EXPECT_FALSE(report.checks[1].up);
  EXPECT_EQ(report.checks[1].detail, "timed out after 100ms");
}

TEST(HealthRegistry, ReusesAStillRunningCheckInsteadOfStartingAnother) {
  using std::chrono::milliseconds;
  HealthRegistry health;
  auto gate = std::make_shared<Gate>();
  health.Add("nats", [gate] {
    gate->Wait();
    return CheckResult::Up("recovered");
  });

  EXPECT_FALSE(health.Run(milliseconds(20)).ready);
  {
    std::unique_lock lock(gate->mutex);
    ASSERT_TRUE(gate->changed.wait_for(lock, std::chrono::seconds(5),
                                       [&gate] { return gate->entered == 1; }));
  }
  EXPECT_FALSE(health.Run(milliseconds(20)).ready);
  int entered = 0;
  {
    std::lock_guard lock(gate->mutex);
    entered = gate->entered;
  }
  gate->Open();
  auto after = health.Run(milliseconds(5'000));  // the hung execution's answer, once it comes

  EXPECT_EQ(entered, 1);
  EXPECT_TRUE(after.ready);
  EXPECT_EQ(after.checks[0].detail, "recovered");
}

TEST(HealthRegistry, ToJsonProducesTheDocumentedShape) {
  HealthRegistry health;
  health.Add("sqlite", [] { return CheckResult::Up(); });
  health.Add(
      "cache \"redis\"", [] { return CheckResult::Down("line1\nline2"); }, false);
  health.Add("nats", [] { return CheckResult::Down("down"); });

  auto json = boost::json::parse(HealthRegistry::ToJson(health.Run())).as_object();

  EXPECT_EQ(json.at("status").as_string(), "not_ready");
  const auto& checks = json.at("checks").as_array();
  ASSERT_EQ(checks.size(), 3u);
  const auto& first = checks[0].as_object();
  EXPECT_EQ(first.at("name").as_string(), "sqlite");
  EXPECT_EQ(first.at("status").as_string(), "up");
  EXPECT_EQ(first.at("critical").as_bool(), true);
  EXPECT_TRUE(first.at("latency_ms").is_number());
  EXPECT_FALSE(first.contains("detail"));
  const auto& second = checks[1].as_object();
  EXPECT_EQ(second.at("name").as_string(), "cache \"redis\"");
  EXPECT_EQ(second.at("status").as_string(), "down");
  EXPECT_EQ(second.at("critical").as_bool(), false);
  EXPECT_EQ(second.at("detail").as_string(), "line1\nline2");
}

TEST(HealthRegistry, ToJsonSaysReadyWithNoChecks) {
  HealthRegistry health;

  auto json = boost::json::parse(HealthRegistry::ToJson(health.Run())).as_object();

  EXPECT_EQ(json.at("status").as_string(), "ready");
  EXPECT_TRUE(json.at("checks").as_array().empty());
}

}  // namespace
}  // namespace mercato::obs
