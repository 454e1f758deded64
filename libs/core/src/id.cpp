#include "mercato/core/id.hpp"

#include <cstdio>
#include <mutex>

#include "mercato/core/random.hpp"

namespace mercato {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string FormatUuid(uint64_t hi, uint64_t lo) {
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t word, int nibbles_from, int count) {
    for (int i = 0; i < count; ++i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      int shift = 60 - 4 * (nibbles_from + i);
      out[pos++] = kHex[(word >> shift) & 0xF];
    }
  };
  put(hi, 0, 16);
  put(lo, 0, 16);
  return out;
}

// UUIDv7 with "method 3" monotonicity: a 12-bit counter in rand_a for ids minted within the
// same millisecond, so ids from one process sort strictly by creation order.
std::string MakeV7(uint64_t unix_ms) {
  static std::mutex mutex;
  static uint64_t last_ms = 0;
  static uint64_t counter = 0;
  uint64_t ms, seq;
  {
    std::lock_guard lock(mutex);
    if (unix_ms > last_ms) {
      last_ms = unix_ms;
      counter = RandomBelow(512);  // leave headroom for increments
    } else if (++counter > 0xFFF) {
      ++last_ms;  // borrow from the next millisecond rather than go backwards
      counter = 0;
    }
    ms = last_ms;
    seq = counter;
  }
  uint64_t hi = (ms & 0xFFFFFFFFFFFFULL) << 16 | 0x7000ULL | (seq & 0xFFF);
  uint64_t lo = (RandomU64() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return FormatUuid(hi, lo);
}

}  // namespace

std::string NewId() { return NewId(Clock::Real()); }

std::string NewId(const Clock& clock) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                clock.WallNow().time_since_epoch()).count();
  return MakeV7(static_cast<uint64_t>(ms < 0 ? 0 : ms));
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string SequentialIds::Next() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%06llu", static_cast<unsigned long long>(next_++));
  return prefix_ + buf;
}

}  // namespace mercato
