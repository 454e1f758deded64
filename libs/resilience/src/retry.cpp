#include "mercato/resilience/retry.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "text.hpp"

namespace mercato::resilience {
namespace {

using Kind = AttemptOutcome::Kind;

// Budget comparisons allow a tiny epsilon because 0.2 added five times is not exactly 1.0 in
// binary floating point.
constexpr double kBudgetEpsilon = 1e-9;
// Deposits are capped at what the last ~1000 requests earned (at least 10 tokens).
double DepositCap(double ratio) { return std::max(10.0, ratio * 1000.0); }

// Converts a non-negative nanosecond count held in a double, saturating instead of overflowing
// (casting a double >= 2^63 to int64 is undefined behaviour).
Duration SaturatingNanos(double ns) {
  if (!(ns > 0)) return Duration::zero();  // also catches NaN
  constexpr double kMax = static_cast<double>(std::numeric_limits<Duration::rep>::max());
  if (ns >= kMax) return Duration::max();
  return Duration(static_cast<Duration::rep>(ns));
}

Duration SaturatingTimes4(Duration d) {
  if (d <= Duration::zero()) return Duration::zero();
  return d > Duration::max() / 4 ? Duration::max() : d * 4;
}

bool ParseDigits(std::string_view s, int& out) {
  out = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

int IndexOf(std::string_view needle, const auto& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == needle) return static_cast<int>(i);
  }
  return -1;
}

// IMF-fixdate, the one HTTP-date form senders must use (RFC 9110 §5.6.7):
// "Sun, 06 Nov 1994 08:49:37 GMT". The obsolete RFC 850 and asctime forms are not accepted;
// a Retry-After we cannot read just falls back to our own backoff.
std::optional<WallTime> ParseImfFixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Fixed layout: "Www, DD Mmm YYYY HH:MM:SS GMT" is exactly 29 characters.
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT") {
    return std::nullopt;
  }
  // The day name is checked for form only: a sender with a wrong weekday still meant the date.
  if (IndexOf(s.substr(0, 3), kDays) < 0) return std::nullopt;
  const int month = IndexOf(s.substr(8, 3), kMonths) + 1;
  int day, year, hour, minute, second;
  if (month == 0 || !ParseDigits(s.substr(5, 2), day) || !ParseDigits(s.substr(12, 4), year) ||
      !ParseDigits(s.substr(17, 2), hour) || !ParseDigits(s.substr(20, 2), minute) ||
      !ParseDigits(s.substr(23, 2), second)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  // 60 is a leap second (RFC 9110 allows it); treating it as 59 is off by at most one second.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  second = std::min(second, 59);
  const std::chrono::sys_seconds t = std::chrono::sys_days(date) + std::chrono::hours(hour) +
                                     std::chrono::minutes(minute) + std::chrono::seconds(second);
  return std::chrono::time_point_cast<WallTime::duration>(t);
}

}  // namespace

bool IsRetryableStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

bool ShouldRetry(const RetryPolicy& policy, int attempt, const AttemptOutcome& outcome,
                 bool idempotent) {
  if (attempt >= policy.max_attempts) return false;
  switch (outcome.kind) {
    case Kind::kSuccess:
      return false;
    case Kind::kConnectFailed:
      // The request never left: the server cannot have acted on it, so even a POST is safe.
      return true;
    case Kind::kTimedOut:
    case Kind::kReset:
      // The server may have acted on it before we lost the answer.
      return idempotent;
    case Kind::kStatus:
      return idempotent && IsRetryableStatus(outcome.status);
  }
  return false;
}

Duration BackoffDelay(const RetryPolicy& policy, int retry, double unit_random) {
  // Full jitter (AWS, "Exponential Backoff And Jitter"): sleep = random(0, cap) where cap grows
  // exponentially. Spreading retries over the whole interval is what stops clients that failed
  // together from retrying together.
  const double max_ns = static_cast<double>(std::max(policy.max_delay, Duration::zero()).count());
  const double base_ns = static_cast<double>(std::max(policy.base_delay, Duration::zero()).count());
  const int exponent = std::max(retry, 1) - 1;
  // In double, growth saturates to +inf instead of overflowing; min() then clamps it to max_ns.
  // base 0 would make 0 * inf = NaN, so it is handled before multiplying.
  double cap_ns = 0;
  if (base_ns > 0) {
    const double growth = policy.multiplier > 1.0 ? std::pow(policy.multiplier, exponent) : 1.0;
    cap_ns = std::min(max_ns, base_ns * growth);
  }
  // Keep the draw in [0, 1) even if a caller passes 1.0 or garbage.
  double unit = std::isfinite(unit_random) ? unit_random : 0.0;
  unit = std::clamp(unit, 0.0, std::nextafter(1.0, 0.0));
  return SaturatingNanos(cap_ns * unit);
}

Duration RetryDelay(const RetryPolicy& policy, int retry, const AttemptOutcome& outcome,
                    double unit_random) {
  const Duration backoff = BackoffDelay(policy, retry, unit_random);
  if (!outcome.retry_after || *outcome.retry_after <= Duration::zero()) return backoff;
  // The server knows when it will have capacity, so its hint wins over a shorter backoff; the
  // cap keeps a hostile or confused "Retry-After: 86400" from parking the caller for a day.
  const Duration hinted = std::min(*outcome.retry_after, SaturatingTimes4(policy.max_delay));
  return std::max(backoff, hinted);
}

std::optional<Duration> ParseRetryAfter(std::string_view value, const Clock& clock) {
  value = TrimOws(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    // delta-seconds is 1*DIGIT: no sign, no fraction.
    uint64_t seconds = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, seconds);
    if (ptr != end) return std::nullopt;
    constexpr auto kMaxSeconds = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(Duration::max()).count());
    // A number too long for 64 bits is still "a very long time", which the caller caps.
    if (ec == std::errc::result_out_of_range || seconds > kMaxSeconds) return Duration::max();
    if (ec != std::errc()) return std::nullopt;
    return std::chrono::seconds(static_cast<int64_t>(seconds));
  }
  const auto date = ParseImfFixdate(value);
  if (!date) return std::nullopt;
  const WallTime now = clock.WallNow();
  if (*date <= now) return Duration::zero();
  return std::chrono::duration_cast<Duration>(*date - now);
}

// The budget has two pots, drawn in this order:
//  - the floor: refills continuously at min_per_second and holds at most one second's worth, so a
//    quiet client (too few requests to earn deposits) can still retry a little;
//  - deposits: each request adds `ratio` tokens, so retries stay at most ~ratio of the traffic.
//    Deposits are capped at max(10, ratio * 1000), i.e. what the last ~1000 requests earned, so a
//    long healthy spell cannot bank a pile of retries that would all fire in the next outage.
// Each retry takes one whole token, from the floor first: the floor refills by itself, so spending
// it first keeps the earned deposits for a burst.
RetryBudget::RetryBudget(double ratio, double min_per_second, const Clock& clock)
    : ratio_(ratio),
      min_per_second_(min_per_second),
      clock_(clock),
      tokens_(0.0),
      floor_tokens_(min_per_second),
      last_refill_(clock.Now()) {
  // Negative or NaN rates are configuration mistakes: fail at start-up, not in an outage.
  if (!(ratio_ >= 0.0) || !(min_per_second_ >= 0.0)) {
    throw std::invalid_argument("retry budget: ratio and min_per_second must be >= 0");
  }
}

void RetryBudget::OnRequest() {
  std::lock_guard lock(mutex_);
  tokens_ = std::min(DepositCap(ratio_), tokens_ + ratio_);
}

bool RetryBudget::TryWithdraw() {
  std::lock_guard lock(mutex_);
  Refill();
  if (floor_tokens_ >= 1.0 - kBudgetEpsilon) {
    floor_tokens_ = std::max(0.0, floor_tokens_ - 1.0);
    return true;
  }
  if (tokens_ >= 1.0 - kBudgetEpsilon) {
    tokens_ = std::max(0.0, tokens_ - 1.0);
    return true;
  }
  return false;
}

double RetryBudget::Balance() const {
  std::lock_guard lock(mutex_);
  // Projects the floor refill without storing it, so reading the balance changes nothing.
  const double elapsed = std::chrono::duration<double>(clock_.Now() - last_refill_).count();
  const double floor =
      std::min(min_per_second_, floor_tokens_ + std::max(0.0, elapsed) * min_per_second_);
  return floor + tokens_;
}

void RetryBudget::Refill() {
  const SteadyTime now = clock_.Now();
  if (now <= last_refill_) return;
  const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  floor_tokens_ = std::min(min_per_second_, floor_tokens_ + elapsed * min_per_second_);
  last_refill_ = now;
}

}  // namespace mercato::resilience
