#include "mercato/resilience/deadline.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>

#include "text.hpp"

namespace mercato::resilience {
namespace {

// A caller may not hand us more than this; a larger header is a bug or an attack, not a budget.
constexpr std::chrono::milliseconds kMaxHeaderBudget = std::chrono::hours(24);

// now + d without overflowing the clock's int64 representation: a huge timeout saturates to the
// infinite deadline instead of wrapping into the past.
SteadyTime SaturatingAdd(SteadyTime now, Duration d) {
  const auto now_ns = now.time_since_epoch().count();
  const auto d_ns = d.count();
  using Rep = decltype(now_ns + d_ns);
  if (d_ns > 0 && now_ns > std::numeric_limits<Rep>::max() - d_ns) return SteadyTime::max();
  if (d_ns < 0 && now_ns < std::numeric_limits<Rep>::min() - d_ns) return SteadyTime::min();
  return now + d;
}

}  // namespace

Deadline Deadline::After(Duration d, const Clock& clock) {
  return Deadline(SaturatingAdd(clock.Now(), d));
}

std::optional<Deadline> Deadline::FromHeader(std::string_view value, const Clock& clock) {
  value = TrimOws(value);
  if (value.empty()) return std::nullopt;
  int64_t ms = 0;
  const char* end = value.data() + value.size();
  // from_chars takes an optional '-' and nothing else: no '+', no spaces, no hex, no fractions.
  auto [ptr, ec] = std::from_chars(value.data(), end, ms);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  if (ms <= 0) return Deadline(clock.Now());  // already spent: expired, but still a deadline
  const auto budget = std::min(std::chrono::milliseconds(ms), kMaxHeaderBudget);
  return After(budget, clock);
}

Duration Deadline::Remaining(const Clock& clock) const {
  if (IsInfinite()) return Duration::max();
  const SteadyTime now = clock.Now();
  return now >= at_ ? Duration::zero() : at_ - now;
}

std::string Deadline::ToHeader(const Clock& clock) const {
  if (IsInfinite()) return {};
  // duration_cast truncates toward zero and Remaining is never negative, so this floors.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Remaining(clock));
  return std::to_string(ms.count());
}

}  // namespace mercato::resilience
