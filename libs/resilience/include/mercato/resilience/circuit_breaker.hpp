// A circuit breaker per upstream, after Resilience4j's model. CLOSED records outcomes in a sliding
// window (the last N calls, or the last N seconds); once at least `minimum_calls` are recorded and
// the failure rate or the slow-call rate reaches its threshold, it OPENs and rejects calls at once
// for `open_duration`; then HALF_OPEN lets `half_open_max_calls` trial calls through: if they pass
// the thresholds it CLOSEs, otherwise it OPENs again. Thread-safe; time comes from the Clock.
//
//   if (!breaker.TryAcquire()) return Error{ErrorCode::kUnavailable, "payments: circuit open"};
//   auto started = clock.Now();  ... call ...
//   ok ? breaker.OnSuccess(clock.Now() - started) : breaker.OnFailure(clock.Now() - started);
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/clock.hpp"

namespace mercato::resilience {

class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
  enum class WindowType { kCountBased, kTimeBased };

  struct Options {
    WindowType window_type = WindowType::kCountBased;
    int window_size = 20;                 // calls (count-based) or seconds (time-based)
    int minimum_calls = 10;               // no verdict before this many calls in the window
    double failure_rate_threshold = 0.5;  // open at >= this share of failures
    double slow_call_rate_threshold = 1.0;  // open at >= this share of slow calls (1.0: only all)
    Duration slow_call_duration = std::chrono::seconds(2);
    Duration open_duration = std::chrono::seconds(5);
    int half_open_max_calls = 3;
  };

  using Listener = std::function<void(std::string_view name, State from, State to)>;

  CircuitBreaker(std::string name, Options options, const Clock& clock = Clock::Real());

  // False when the call must not go out (OPEN, or HALF_OPEN with every trial slot taken).
  // Moves OPEN to HALF_OPEN once open_duration has passed. Every true must be followed by exactly
  // one OnSuccess, OnFailure or OnIgnored.
  bool TryAcquire();
  void OnSuccess(Duration elapsed);
  void OnFailure(Duration elapsed);
  // The call ended in a way that says nothing about the upstream's health (e.g. a 404, or the
  // caller's own deadline). Frees a half-open trial slot without recording.
  void OnIgnored();

  State state() const;
  const std::string& name() const { return name_; }
  // Failure and slow-call rates of the current window, in [0, 1]; -1 before minimum_calls.
  double FailureRate() const;
  double SlowCallRate() const;
  // Called (outside the lock) on every state change.
  void SetListener(Listener listener);
  // Test and admin hooks.
  void ForceOpen();
  void Reset();

 private:
  struct Outcome {
    SteadyTime at;
    bool failed;
    bool slow;
  };
  struct Tally {
    int calls = 0;
    int failed = 0;
    int slow = 0;
  };
  void Record(bool failed, Duration elapsed);
  // Queues the change in pending_ under the lock, so listeners see changes in the order they
  // happened even when several threads cause them; Notify() delivers them after unlocking.
  void TransitionLocked(State to, SteadyTime now);
  void PruneLocked(SteadyTime now);
  void ClearWindowLocked();
  Tally TallyLocked(SteadyTime now) const;
  int MinimumCallsLocked() const;
  bool TripsLocked(const Tally& tally) const;
  void Notify();

  std::string name_;
  Options options_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  State state_ = State::kClosed;
  std::deque<Outcome> window_;
  SteadyTime opened_at_{};
  int half_open_in_flight_ = 0;
  int half_open_done_ = 0;
  int half_open_failed_ = 0;
  int half_open_slow_ = 0;
  int window_failed_ = 0;  // running totals of window_, so a verdict is O(1)
  int window_slow_ = 0;
  std::vector<std::pair<State, State>> pending_;  // changes not yet given to the listener
  bool notifying_ = false;                        // one thread delivers pending_ at a time
  Listener listener_;
};

std::string_view ToString(CircuitBreaker::State state);  // "closed" | "open" | "half_open"

}  // namespace mercato::resilience
