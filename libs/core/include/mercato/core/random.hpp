// Fast per-thread pseudo-random numbers for ids, trace ids and jitter. Seeded from the OS once
// per thread. Not for secrets: keys and tokens come from OpenSSL's RAND_bytes (libs/security).
//
//   uint64_t r = mercato::RandomU64();
//   double f = mercato::RandomUnit();  // [0, 1)
#pragma once

#include <cstdint>

namespace mercato {

uint64_t RandomU64();
double RandomUnit();
// Uniform in [0, bound); bound 0 yields 0.
uint64_t RandomBelow(uint64_t bound);

}  // namespace mercato
