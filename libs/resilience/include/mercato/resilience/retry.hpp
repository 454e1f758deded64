// Retries with exponential backoff and full jitter, for idempotent requests only, limited by a
// retry budget so that a struggling upstream is not buried under retries (a retry storm).
//
//   RetryPolicy policy;                          // 3 attempts, 50 ms base, 2 s cap
//   if (ShouldRetry(policy, attempt, outcome, idempotent) && budget.TryWithdraw())
//     co_await Sleep(RetryDelay(policy, attempt, outcome, RandomUnit()));
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "mercato/core/clock.hpp"

namespace mercato::resilience {

struct RetryPolicy {
  int max_attempts = 3;  // including the first
  Duration base_delay = std::chrono::milliseconds(50);
  Duration max_delay = std::chrono::seconds(2);
  double multiplier = 2.0;
};

// What one attempt came to, as far as retrying is concerned.
struct AttemptOutcome {
  enum class Kind { kSuccess, kConnectFailed, kTimedOut, kReset, kStatus };
  Kind kind = Kind::kSuccess;
  int status = 0;                        // for kStatus
  std::optional<Duration> retry_after;   // parsed Retry-After of a 429/503
};

// 502, 503, 504 and 429.
bool IsRetryableStatus(int status);

// True when attempt number `attempt` (1-based, the one that just finished) may be followed by
// another: the call is idempotent (or never reached the server: a connect failure), the outcome
// is retryable, and attempts remain. A timeout or reset after sending is retried only when
// idempotent.
bool ShouldRetry(const RetryPolicy& policy, int attempt, const AttemptOutcome& outcome,
                 bool idempotent);

// The delay before retry number `retry` (1-based): full jitter, uniform in
// [0, min(max_delay, base_delay * multiplier^(retry-1))) using `unit_random` in [0, 1).
Duration BackoffDelay(const RetryPolicy& policy, int retry, double unit_random);
// BackoffDelay, but never shorter than a Retry-After the server sent (capped at max_delay * 4).
Duration RetryDelay(const RetryPolicy& policy, int retry, const AttemptOutcome& outcome,
                    double unit_random);

// Retry-After as delta-seconds or an HTTP-date; nullopt if unparseable.
std::optional<Duration> ParseRetryAfter(std::string_view value, const Clock& clock);

// Token-bucket retry budget (as in Finagle/Envoy): every request deposits `ratio` tokens, every
// retry withdraws one; a floor of `min_per_second` retries is always allowed. Thread-safe.
class RetryBudget {
 public:
  RetryBudget(double ratio = 0.2, double min_per_second = 10.0, const Clock& clock = Clock::Real());
  void OnRequest();
  bool TryWithdraw();
  double Balance() const;

 private:
  void Refill();
  double ratio_;
  double min_per_second_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  double tokens_;
  double floor_tokens_;
  SteadyTime last_refill_;
};

}  // namespace mercato::resilience
