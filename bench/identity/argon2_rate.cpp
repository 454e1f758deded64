// The baseline for identity's login benchmark: how many Argon2id verifications per second one
// thread does at the given cost, with nothing else around it. Logins per second divided by this
// says how much the service adds to the hash it cannot avoid.
//
//   identity_argon2_rate --seconds 5 --memory-kib 19456 --iterations 2
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mercato/security/password.hpp"

int main(int argc, char** argv) {
  double seconds = 5;
  mercato::security::PasswordParams params;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "identity_argon2_rate: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--seconds") {
      seconds = std::atof(next());
    } else if (arg == "--memory-kib") {
      params.memory_kib = static_cast<uint32_t>(std::atoi(next()));
    } else if (arg == "--iterations") {
      params.iterations = static_cast<uint32_t>(std::atoi(next()));
    } else if (arg == "--help" || arg == "-h") {
      std::puts(
          "usage: identity_argon2_rate [--seconds S] [--memory-kib K] [--iterations T]\n"
          "Prints Argon2id verifications per second on one thread (default: OWASP cost).");
      return 0;
    } else {
      std::fprintf(stderr, "identity_argon2_rate: unknown argument %s (see --help)\n", arg.c_str());
      return 2;
    }
  }
  auto hash = mercato::security::HashPassword("correct horse battery staple", params);
  if (!hash) {
    std::fprintf(stderr, "identity_argon2_rate: %s\n", hash.error().message.c_str());
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  long verified = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (!mercato::security::VerifyPassword("correct horse battery staple", *hash)) {
      std::fputs("identity_argon2_rate: verification failed\n", stderr);
      return 1;
    }
    ++verified;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f\n", static_cast<double>(verified) / elapsed);
  return 0;
}
