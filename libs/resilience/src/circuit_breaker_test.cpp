#include "mercato/resilience/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mercato::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using State = CircuitBreaker::State;

constexpr Duration kFast = milliseconds(10);
constexpr Duration kSlow = seconds(3);  // past the default 2 s slow_call_duration

CircuitBreaker::Options CountOptions() {
  CircuitBreaker::Options options;
  options.window_type = CircuitBreaker::WindowType::kCountBased;
  options.window_size = 10;
  options.minimum_calls = 5;
  options.failure_rate_threshold = 0.5;
  options.open_duration = seconds(5);
  options.half_open_max_calls = 2;
  return options;
}

// Runs `n` calls through the breaker, failing them if `fail`; stops (returns false) on rejection.
bool RunCalls(CircuitBreaker& breaker, int n, bool fail, Duration elapsed = kFast) {
  for (int i = 0; i < n; ++i) {
    if (!breaker.TryAcquire()) return false;
    fail ? breaker.OnFailure(elapsed) : breaker.OnSuccess(elapsed);
  }
  return true;
}

void Trip(CircuitBreaker& breaker) {
  ASSERT_TRUE(RunCalls(breaker, 5, /*fail=*/true));
  ASSERT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, StaysClosedBelowMinimumCallsEvenAtFullFailure) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);

  ASSERT_TRUE(RunCalls(breaker, 4, /*fail=*/true));

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.FailureRate(), -1.0);
}

TEST(CircuitBreaker, OpensWhenFailureRateReachesThreshold) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  ASSERT_TRUE(RunCalls(breaker, 3, /*fail=*/false));
  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/true));  // 2/5 = 40%
  ASSERT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.FailureRate(), 0.4);

  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));  // 3/6 = 50%

  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, CountWindowKeepsOnlyTheLastCalls) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/true));
  ASSERT_TRUE(RunCalls(breaker, 8, /*fail=*/false));
  ASSERT_DOUBLE_EQ(breaker.FailureRate(), 0.2);

  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/false));  // pushes both failures out

  EXPECT_DOUBLE_EQ(breaker.FailureRate(), 0.0);
  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreaker, RejectsWhileOpen) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  Trip(breaker);

  clock.Advance(milliseconds(4999));

  EXPECT_FALSE(breaker.TryAcquire());
  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, HalfOpensAfterOpenDuration) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  Trip(breaker);

  clock.Advance(seconds(5));

  EXPECT_TRUE(breaker.TryAcquire());
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
}

TEST(CircuitBreaker, LimitsConcurrentHalfOpenTrials) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);  // 2 trials
  Trip(breaker);
  clock.Advance(seconds(5));

  EXPECT_TRUE(breaker.TryAcquire());
  EXPECT_TRUE(breaker.TryAcquire());
  EXPECT_FALSE(breaker.TryAcquire());
}

TEST(CircuitBreaker, ClosesAfterSuccessfulTrials) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  Trip(breaker);
  clock.Advance(seconds(5));

  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false));
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false));

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.FailureRate(), -1.0);  // the window that tripped it is gone
}

TEST(CircuitBreaker, ReopensOnFailedTrials) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  Trip(breaker);
  clock.Advance(seconds(5));

  ASSERT_TRUE(breaker.TryAcquire());
  breaker.OnFailure(kFast);  // 1 of 2 trials failed: 50% cannot drop below the threshold

  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.TryAcquire());
}

TEST(CircuitBreaker, ReopenRestartsTheOpenDuration) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  Trip(breaker);
  clock.Advance(seconds(5));
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));
  ASSERT_EQ(breaker.state(), State::kOpen);

  clock.Advance(seconds(4));
  EXPECT_FALSE(breaker.TryAcquire());
  clock.Advance(seconds(1));
  EXPECT_TRUE(breaker.TryAcquire());
}

TEST(CircuitBreaker, WaitsForAllTrialsWhenOneFailureCannotDecide) {
  FakeClock clock;
  auto options = CountOptions();
  options.half_open_max_calls = 4;
  CircuitBreaker breaker("payments", options, clock);
  Trip(breaker);
  clock.Advance(seconds(5));

  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));  // 1/4 = 25%
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  ASSERT_TRUE(RunCalls(breaker, 3, /*fail=*/false));

  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreaker, OnIgnoredFreesATrialSlot) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  Trip(breaker);
  clock.Advance(seconds(5));
  ASSERT_TRUE(breaker.TryAcquire());
  ASSERT_TRUE(breaker.TryAcquire());
  ASSERT_FALSE(breaker.TryAcquire());

  breaker.OnIgnored();

  EXPECT_TRUE(breaker.TryAcquire());
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
}

TEST(CircuitBreaker, OnIgnoredDoesNotCountTowardsTheWindow) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  ASSERT_TRUE(RunCalls(breaker, 4, /*fail=*/true));

  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(breaker.TryAcquire());
    breaker.OnIgnored();
  }

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.FailureRate(), -1.0);
}

TEST(CircuitBreaker, SlowCallsOpenIt) {
  FakeClock clock;
  auto options = CountOptions();
  options.slow_call_rate_threshold = 0.6;
  CircuitBreaker breaker("payments", options, clock);
  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/false, kFast));
  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/false, kSlow));
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false, kFast));  // 2/5 slow
  ASSERT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.SlowCallRate(), 0.4);

  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/false, kSlow));  // 4/7 = 57% slow

  EXPECT_EQ(breaker.state(), State::kClosed);
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false, kSlow));  // 5/8 = 62.5%
  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, CallExactlyAtSlowDurationIsNotSlow) {
  FakeClock clock;
  auto options = CountOptions();
  options.slow_call_rate_threshold = 0.5;
  CircuitBreaker breaker("payments", options, clock);

  ASSERT_TRUE(RunCalls(breaker, 5, /*fail=*/false, options.slow_call_duration));

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.SlowCallRate(), 0.0);
}

TEST(CircuitBreaker, DefaultSlowThresholdOpensOnlyWhenAllCallsAreSlow) {
  FakeClock clock;
  auto options = CountOptions();  // slow_call_rate_threshold 1.0
  CircuitBreaker breaker("payments", options, clock);
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false, kFast));
  ASSERT_TRUE(RunCalls(breaker, 9, /*fail=*/false, kSlow));
  ASSERT_EQ(breaker.state(), State::kClosed);

  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false, kSlow));  // the fast call leaves the window

  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, SlowTrialsReopenIt) {
  FakeClock clock;
  auto options = CountOptions();
  options.slow_call_rate_threshold = 0.5;
  CircuitBreaker breaker("payments", options, clock);
  Trip(breaker);
  clock.Advance(seconds(5));

  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/false, kSlow));

  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, TimeBasedWindowForgetsOldOutcomes) {
  FakeClock clock;
  auto options = CountOptions();
  options.window_type = CircuitBreaker::WindowType::kTimeBased;
  options.window_size = 10;  // seconds
  options.minimum_calls = 5;
  CircuitBreaker breaker("payments", options, clock);
  ASSERT_TRUE(RunCalls(breaker, 4, /*fail=*/true));
  ASSERT_EQ(breaker.state(), State::kClosed);

  clock.Advance(seconds(10));
  EXPECT_DOUBLE_EQ(breaker.FailureRate(), -1.0);
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));  // only 1 call in the window now

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_DOUBLE_EQ(breaker.FailureRate(), -1.0);
}

TEST(CircuitBreaker, TimeBasedWindowOpensOnFailuresWithinTheWindow) {
  FakeClock clock;
  auto options = CountOptions();
  options.window_type = CircuitBreaker::WindowType::kTimeBased;
  options.window_size = 10;
  options.minimum_calls = 5;
  CircuitBreaker breaker("payments", options, clock);
  ASSERT_TRUE(RunCalls(breaker, 4, /*fail=*/true));

  clock.Advance(seconds(9));
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));

  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, TimeBasedWindowIsNotCappedByWindowSizeAsACount) {
  FakeClock clock;
  auto options = CountOptions();
  options.window_type = CircuitBreaker::WindowType::kTimeBased;
  options.window_size = 2;  // seconds: a count cap of 2 would never reach minimum_calls 5
  options.minimum_calls = 5;
  CircuitBreaker breaker("payments", options, clock);

  ASSERT_TRUE(RunCalls(breaker, 5, /*fail=*/true));

  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, ListenerSeesEveryTransitionInOrder) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  std::vector<std::pair<State, State>> seen;
  std::string seen_name;
  breaker.SetListener([&](std::string_view name, State from, State to) {
    seen_name = std::string(name);
    seen.emplace_back(from, to);
  });

  Trip(breaker);  // closed -> open
  clock.Advance(seconds(5));
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));  // open -> half_open -> open
  clock.Advance(seconds(5));
  ASSERT_TRUE(RunCalls(breaker, 2, /*fail=*/false));  // open -> half_open -> closed

  const std::vector<std::pair<State, State>> expected = {{State::kClosed, State::kOpen},
                                                         {State::kOpen, State::kHalfOpen},
                                                         {State::kHalfOpen, State::kOpen},
                                                         {State::kOpen, State::kHalfOpen},
                                                         {State::kHalfOpen, State::kClosed}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(seen_name, "payments");
}

TEST(CircuitBreaker, ListenerMayCallBackIntoTheBreaker) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  std::vector<State> states_seen;
  breaker.SetListener([&](std::string_view, State, State) {
    states_seen.push_back(breaker.state());  // would deadlock if called under the lock
  });

  Trip(breaker);

  EXPECT_EQ(states_seen, std::vector<State>{State::kOpen});
}

TEST(CircuitBreaker, ListenerSeesAnUnbrokenChainUnderContention) {
  FakeClock clock;
  auto options = CountOptions();
  options.open_duration = Duration::zero();  // every rejection-free path cycles through states
  CircuitBreaker breaker("payments", options, clock);
  std::mutex mutex;
  std::vector<std::pair<State, State>> seen;
  breaker.SetListener([&](std::string_view, State from, State to) {
    std::lock_guard lock(mutex);
    seen.emplace_back(from, to);
  });

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&breaker, t] {
      for (int i = 0; i < 5'000; ++i) {
        if (!breaker.TryAcquire()) continue;
        ((i + t) % 3 == 0) ? breaker.OnSuccess(kFast) : breaker.OnFailure(kFast);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  // Delivered in order, each change starts where the previous one ended.
  ASSERT_GT(seen.size(), 3u);  // the breaker really did cycle
  EXPECT_EQ(seen.front().first, State::kClosed);
  for (size_t i = 1; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].first, seen[i - 1].second) << "at change " << i;
  }
  EXPECT_EQ(seen.back().second, breaker.state());
}

TEST(CircuitBreaker, ForceOpenRejectsAndResetCloses) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  std::vector<std::pair<State, State>> seen;
  breaker.SetListener([&](std::string_view, State from, State to) { seen.emplace_back(from, to); });

  breaker.ForceOpen();
  EXPECT_FALSE(breaker.TryAcquire());
  breaker.Reset();

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.TryAcquire());
  const std::vector<std::pair<State, State>> expected = {{State::kClosed, State::kOpen},
                                                         {State::kOpen, State::kClosed}};
  EXPECT_EQ(seen, expected);
}

TEST(CircuitBreaker, ResetClearsTheWindow) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  ASSERT_TRUE(RunCalls(breaker, 4, /*fail=*/true));

  breaker.Reset();
  ASSERT_TRUE(RunCalls(breaker, 1, /*fail=*/true));

  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreaker, OutcomesReportedWhileOpenAreDropped) {
  FakeClock clock;
  CircuitBreaker breaker("payments", CountOptions(), clock);
  ASSERT_TRUE(breaker.TryAcquire());  // admitted while closed, answers late
  Trip(breaker);

  breaker.OnFailure(kFast);
  clock.Advance(seconds(5));

  EXPECT_TRUE(breaker.TryAcquire());
  EXPECT_TRUE(breaker.TryAcquire());  // both trial slots still free
}

TEST(CircuitBreaker, RejectsInvalidOptions) {
  FakeClock clock;
  auto bad_window = CountOptions();
  bad_window.window_size = 0;
  auto bad_rate = CountOptions();
  bad_rate.failure_rate_threshold = 0.0;
  auto bad_trials = CountOptions();
  bad_trials.half_open_max_calls = 0;

  EXPECT_THROW(CircuitBreaker("p", bad_window, clock), std::invalid_argument);
  EXPECT_THROW(CircuitBreaker("p", bad_rate, clock), std::invalid_argument);
  EXPECT_THROW(CircuitBreaker("p", bad_trials, clock), std::invalid_argument);
}

TEST(CircuitBreaker, StateNamesAreStable) {
  EXPECT_EQ(ToString(State::kClosed), "closed");
  EXPECT_EQ(ToString(State::kOpen), "open");
  EXPECT_EQ(ToString(State::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace mercato::resilience
