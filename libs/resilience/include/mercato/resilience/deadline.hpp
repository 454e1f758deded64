// Deadlines that shrink across hops. A request arrives with the time its caller has left
// (header X-Mercato-Deadline-Ms, relative so clock skew does not matter); every outgoing call
// gets min(own timeout, what is left), so a callee never gets more time than its caller has.
//
//   auto deadline = Deadline::After(5s, clock).Min(Deadline::FromHeader(value, clock));
//   auto call_deadline = deadline.Shrink(2s, clock);      // per-call timeout, never past the parent
//   headers.Set(kDeadlineHeader, call_deadline.ToHeader(clock));
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/clock.hpp"

namespace mercato::resilience {

inline constexpr std::string_view kDeadlineHeader = "X-Mercato-Deadline-Ms";

class Deadline {
 public:
  static Deadline Infinite() { return Deadline(SteadyTime::max()); }
  static Deadline At(SteadyTime t) { return Deadline(t); }
  static Deadline After(Duration d, const Clock& clock);
  // From a header value in milliseconds; nullopt for absent/garbage (negative means expired).
  static std::optional<Deadline> FromHeader(std::string_view value, const Clock& clock);

  bool IsInfinite() const { return at_ == SteadyTime::max(); }
  SteadyTime at() const { return at_; }
  // Zero when expired; Duration::max() when infinite.
  Duration Remaining(const Clock& clock) const;
  bool Expired(const Clock& clock) const { return !IsInfinite() && clock.Now() >= at_; }

  Deadline Min(const Deadline& other) const { return at_ <= other.at_ ? *this : other; }
  Deadline Min(const std::optional<Deadline>& other) const { return other ? Min(*other) : *this; }
  // min(this, now + timeout): the deadline for one outgoing call.
  Deadline Shrink(Duration timeout, const Clock& clock) const { return Min(After(timeout, clock)); }
  // Milliseconds left, rounded down, never negative; empty for an infinite deadline.
  std::string ToHeader(const Clock& clock) const;

 private:
  explicit Deadline(SteadyTime at) : at_(at) {}
  SteadyTime at_;
};

}  // namespace mercato::resilience
