#include "mercato/core/random.hpp"

#include <random>

namespace mercato {
namespace {

// xoshiro256** (Blackman & Vigna): fast, good statistical quality, tiny state.
struct Xoshiro256 {
  uint64_t s[4];
  explicit Xoshiro256(uint64_t seed) {
    for (auto& word : s) {  // splitmix64 expands the seed
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t Next() {
    const uint64_t result = Rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = Rotl(s[3], 45);
    return result;
  }
};

Xoshiro256& ThreadRng() {
  thread_local Xoshiro256 rng([] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }());
  return rng;
}

}  // namespace

uint64_t RandomU64() { return ThreadRng().Next(); }

double RandomUnit() { return static_cast<double>(RandomU64() >> 11) * 0x1.0p-53; }

uint64_t RandomBelow(uint64_t bound) {
  if (bound == 0) return 0;
  // Lemire's multiply-shift; the tiny bias is irrelevant for jitter and sampling.
  __extension__ using Wide = unsigned __int128;  // GCC/Clang extension, fine for our toolchains
  return static_cast<uint64_t>((static_cast<Wide>(RandomU64()) * bound) >> 64);
}

}  // namespace mercato
