#include "mercato/core/clock.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace mercato {

const Clock& Clock::Real() {
  static const RealClock kClock;
  return kClock;
}

FakeClock::FakeClock()
    : steady_ns_(int64_t{1'000'000'000'000}),  // an arbitrary non-zero start
      wall_ns_(int64_t{1'767'225'600} * 1'000'000'000) {}  // 2026-01-01T00:00:00Z

SteadyTime FakeClock::Now() const { return SteadyTime(Duration(steady_ns_.load())); }
WallTime FakeClock::WallNow() const {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(Duration(wall_ns_.load())));
}
void FakeClock::Advance(Duration d) {
  steady_ns_ += d.count();
  wall_ns_ += d.count();
}
void FakeClock::SetWall(WallTime t) {
  wall_ns_ = std::chrono::duration_cast<Duration>(t.time_since_epoch()).count();
}

std::string FormatRfc3339(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // roomy: the compiler cannot prove tm's fields are in range
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

namespace {
bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}
}  // namespace

bool ParseRfc3339(std::string_view s, WallTime& out) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  // WallTime counts nanoseconds in 64 bits: 1678-2261 only. Outside, the conversion would
  // overflow, so such times are not representable rather than silently wrapped.
  if (year < 1678 || year > 2261) return false;
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om)) {
      return false;
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t secs = timegm(&tm);
  secs -= static_cast<std::time_t>(offset_minutes) * 60;
  out = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(secs) +
                                                                std::chrono::nanoseconds(nanos)));
  return true;
}

}  // namespace mercato
