#include "mercato/resilience/circuit_breaker.hpp"

#include <algorithm>
#include <stdexcept>

namespace mercato::resilience {
namespace {

using State = CircuitBreaker::State;

bool IsRate(double r) { return r > 0.0 && r <= 1.0; }

// Bad options are a start-up mistake; failing here beats a breaker that never (or always) trips.
void Validate(const std::string& name, const CircuitBreaker::Options& o) {
  auto fail = [&](const char* what) {
    throw std::invalid_argument("circuit breaker " + name + ": " + what);
  };
  if (o.window_size < 1) fail("window_size must be >= 1");
  if (o.minimum_calls < 1) fail("minimum_calls must be >= 1");
  if (!IsRate(o.failure_rate_threshold)) fail("failure_rate_threshold must be in (0, 1]");
  if (!IsRate(o.slow_call_rate_threshold)) fail("slow_call_rate_threshold must be in (0, 1]");
  if (o.slow_call_duration < Duration::zero()) fail("slow_call_duration must be >= 0");
  if (o.open_duration < Duration::zero()) fail("open_duration must be >= 0");
  if (o.half_open_max_calls < 1) fail("half_open_max_calls must be >= 1");
}

double Rate(int part, int whole) { return static_cast<double>(part) / static_cast<double>(whole); }

}  // namespace

std::string_view ToString(CircuitBreaker::State state) {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(std::string name, Options options, const Clock& clock)
    : name_(std::move(name)), options_(options), clock_(clock) {
  Validate(name_, options_);
}

bool CircuitBreaker::TryAcquire() {
  bool permitted = true;
  bool notify = false;
  {
    std::lock_guard lock(mutex_);
    const SteadyTime now = clock_.Now();
    if (state_ == State::kOpen) {
      // The move to HALF_OPEN happens lazily, on the first call after open_duration, so an idle
      // breaker needs no timer.
      if (now - opened_at_ < options_.open_duration) {
        permitted = false;
      } else {
        TransitionLocked(State::kHalfOpen, now);
      }
    }
    if (permitted && state_ == State::kHalfOpen) {
      // Slots are the trials still running plus those already judged, so exactly
      // half_open_max_calls results decide; OnIgnored gives a slot back.
      if (half_open_in_flight_ + half_open_done_ < options_.half_open_max_calls) {
        ++half_open_in_flight_;
      } else {
        permitted = false;
      }
    }
    notify = !pending_.empty();
  }
  if (notify) Notify();
  return permitted;
}

void CircuitBreaker::OnSuccess(Duration elapsed) { Record(false, elapsed); }
void CircuitBreaker::OnFailure(Duration elapsed) { Record(true, elapsed); }

void CircuitBreaker::OnIgnored() {
  std::lock_guard lock(mutex_);
  if (state_ == State::kHalfOpen && half_open_in_flight_ > 0) --half_open_in_flight_;
}

// Outcomes cannot be tied to the TryAcquire that allowed them (the API has no token), so a call
// admitted in one state may report in another:
//  - reporting while OPEN: dropped; the window was cleared on opening and says nothing useful now.
//  - admitted while CLOSED, reporting in HALF_OPEN: counted as a trial, as Resilience4j does; it is
//    still fresh evidence about the upstream.
void CircuitBreaker::Record(bool failed, Duration elapsed) {
  // As in Resilience4j, "slow" means strictly longer than slow_call_duration.
  const bool slow = elapsed > options_.slow_call_duration;
  bool notify = false;
  {
    std::lock_guard lock(mutex_);
    const SteadyTime now = clock_.Now();
    switch (state_) {
      case State::kOpen:
        break;
      case State::kClosed:
        window_.push_back(Outcome{now, failed, slow});
        window_failed_ += failed ? 1 : 0;
        window_slow_ += slow ? 1 : 0;
        PruneLocked(now);
        if (TripsLocked(TallyLocked(now))) TransitionLocked(State::kOpen, now);
        break;
      case State::kHalfOpen: {
        if (half_open_in_flight_ > 0) --half_open_in_flight_;
        ++half_open_done_;
        half_open_failed_ += failed ? 1 : 0;
        half_open_slow_ += slow ? 1 : 0;
        // Judged against all half_open_max_calls trials, not just those finished: once the
        // failures (or slow calls) alone reach the threshold, the remaining trials cannot save
        // the verdict, so the breaker re-opens at once instead of sending them to a sick upstream.
        // This reaches the same verdict as waiting, only sooner.
        const int trials = options_.half_open_max_calls;
        const bool doomed = Rate(half_open_failed_, trials) >= options_.failure_rate_threshold ||
                            Rate(half_open_slow_, trials) >= options_.slow_call_rate_threshold;
        if (doomed) {
          TransitionLocked(State::kOpen, now);
        } else if (half_open_done_ >= trials) {
          TransitionLocked(State::kClosed, now);
        }
        break;
      }
    }
    notify = !pending_.empty();
  }
  if (notify) Notify();
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

double CircuitBreaker::FailureRate() const {
  std::lock_guard lock(mutex_);
  const Tally tally = TallyLocked(clock_.Now());
  if (tally.calls == 0 || tally.calls < MinimumCallsLocked()) return -1.0;
  return Rate(tally.failed, tally.calls);
}

double CircuitBreaker::SlowCallRate() const {
  std::lock_guard lock(mutex_);
  const Tally tally = TallyLocked(clock_.Now());
  if (tally.calls == 0 || tally.calls < MinimumCallsLocked()) return -1.0;
  return Rate(tally.slow, tally.calls);
}

void CircuitBreaker::SetListener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

// There is no sticky FORCED_OPEN state: a forced open behaves like a trip that just happened, so
// the breaker half-opens after open_duration as usual. Forcing an open breaker restarts the wait.
void CircuitBreaker::ForceOpen() {
  bool notify = false;
  {
    std::lock_guard lock(mutex_);
    const SteadyTime now = clock_.Now();
    if (state_ == State::kOpen) {
      opened_at_ = now;
    } else {
      TransitionLocked(State::kOpen, now);
    }
    notify = !pending_.empty();
  }
  if (notify) Notify();
}

void CircuitBreaker::Reset() {
  bool notify = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kClosed) {
      ClearWindowLocked();
    } else {
      TransitionLocked(State::kClosed, clock_.Now());
    }
    notify = !pending_.empty();
  }
  if (notify) Notify();
}

void CircuitBreaker::TransitionLocked(State to, SteadyTime now) {
  if (to == state_) return;
  const State from = state_;
  state_ = to;
  // Every state starts from a clean slate: the window that tripped the breaker must not trip it
  // again right after it closes, and trial counters belong to one HALF_OPEN episode only.
  half_open_in_flight_ = 0;
  half_open_done_ = 0;
  half_open_failed_ = 0;
  half_open_slow_ = 0;
  if (to == State::kOpen) opened_at_ = now;
  if (to != State::kHalfOpen) ClearWindowLocked();
  pending_.emplace_back(from, to);
}

// The time-based window keeps one entry per call, which is exact and simple; at thousands of calls
// per second per upstream, per-second buckets (as Resilience4j uses) would bound its memory.
void CircuitBreaker::PruneLocked(SteadyTime now) {
  auto pop_front = [this] {
    window_failed_ -= window_.front().failed ? 1 : 0;
    window_slow_ -= window_.front().slow ? 1 : 0;
    window_.pop_front();
  };
  if (options_.window_type == WindowType::kCountBased) {
    while (window_.size() > static_cast<size_t>(options_.window_size)) pop_front();
  } else {
    const Duration span = std::chrono::seconds(options_.window_size);
    while (!window_.empty() && now - window_.front().at >= span) pop_front();
  }
}

void CircuitBreaker::ClearWindowLocked() {
  window_.clear();
  window_failed_ = 0;
  window_slow_ = 0;
}

// The window as it stands at `now`, without mutating it (so const readers can ask): a time-based
// window may hold outcomes that have aged out since the last record.
CircuitBreaker::Tally CircuitBreaker::TallyLocked(SteadyTime now) const {
  Tally tally{static_cast<int>(window_.size()), window_failed_, window_slow_};
  if (options_.window_type == WindowType::kTimeBased) {
    const Duration span = std::chrono::seconds(options_.window_size);
    for (const Outcome& o : window_) {
      if (now - o.at < span) break;  // outcomes are in time order
      --tally.calls;
      tally.failed -= o.failed ? 1 : 0;
      tally.slow -= o.slow ? 1 : 0;
    }
  }
  return tally;
}

// A count-based window can never hold more than window_size calls, so a larger minimum would
// keep the breaker closed forever; like Resilience4j, the window size wins.
int CircuitBreaker::MinimumCallsLocked() const {
  if (options_.window_type == WindowType::kCountBased) {
    return std::min(options_.minimum_calls, options_.window_size);
  }
  return options_.minimum_calls;
}

bool CircuitBreaker::TripsLocked(const Tally& tally) const {
  if (tally.calls == 0 || tally.calls < MinimumCallsLocked()) return false;
  return Rate(tally.failed, tally.calls) >= options_.failure_rate_threshold ||
         Rate(tally.slow, tally.calls) >= options_.slow_call_rate_threshold;
}

// Delivers pending_ outside the lock, so a listener may call back into the breaker (state(),
// metrics) without deadlocking. One thread delivers at a time, in queue order; a thread that finds
// another already delivering leaves its changes to it, so delivery may lag the return of the call
// that caused the change, but it is never reordered and never concurrent.
void CircuitBreaker::Notify() {
  std::unique_lock lock(mutex_);
  if (notifying_) return;
  notifying_ = true;
  while (!pending_.empty()) {
    auto changes = std::exchange(pending_, {});
    Listener listener = listener_;
    lock.unlock();
    try {
      if (listener) {
        for (const auto& [from, to] : changes) listener(name_, from, to);
      }
    } catch (...) {
      // A throwing listener is a bug; do not let it wedge delivery for everyone else.
      lock.lock();
      notifying_ = false;
      throw;
    }
    lock.lock();
  }
  notifying_ = false;
}

}  // namespace mercato::resilience
