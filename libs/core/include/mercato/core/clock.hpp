// Clock: the one way Mercato code reads time, so tests can drive it. Monotonic time (Now) is for
// durations, deadlines and timeouts; wall time (WallNow) is for timestamps people read.
//
//   void Tick(const mercato::Clock& clock) { auto started = clock.Now(); ... }
//   mercato::FakeClock fake; fake.Advance(std::chrono::seconds(5));
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace mercato {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  virtual WallTime WallNow() const = 0;

  // The process-wide real clock.
  static const Clock& Real();
};

class RealClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  FakeClock();
  SteadyTime Now() const override;
  WallTime WallNow() const override;
  void Advance(Duration d);
  void SetWall(WallTime t);

 private:
  std::atomic<int64_t> steady_ns_;
  std::atomic<int64_t> wall_ns_;
};

// "2026-11-25T19:03:17.123Z": RFC 3339 UTC with millisecond precision.
std::string FormatRfc3339(WallTime t);
// Parses RFC 3339 ("2026-11-25T19:03:17Z", fractional seconds and numeric offsets accepted).
bool ParseRfc3339(std::string_view text, WallTime& out);

}  // namespace mercato
