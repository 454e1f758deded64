// Password storage and policy for user accounts: Argon2id hashes in PHC string form (salt and
// parameters travel inside the string, so parameters can be raised later without a migration),
// constant-time verification, and the sign-up policy (length, email, common-password list).
//
//   if (auto ok = CheckPasswordPolicy(pw, email); !ok) return ok.error();  // field "password"
//   co_await http::RunBlocking([&] { phc = HashPassword(pw); });            // ~150 ms: off-thread
//   if (NeedsRehash(*phc, {})) ...;  VerifyPassword(pw, *phc);              // also ~150 ms
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::security {

// Argon2id cost. The defaults are OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane);
// tests pass cheaper values so the suite stays fast. One hash at the defaults takes ~150 ms of
// CPU and 19 MiB of RAM, which is why HashPassword and VerifyPassword must never run on a network
// thread: call them through http::RunBlocking, or one login stalls every request on that thread.
struct PasswordParams {
  uint32_t memory_kib = 19456;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

// "$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>" with a fresh 16-byte salt and a 32-byte
// hash. Error{kInternal} only if libargon2 fails (e.g. out of memory); throws std::runtime_error
// if the CSPRNG fails, like RandomBytes. Blocking and slow: see PasswordParams.
Result<std::string> HashPassword(std::string_view password, const PasswordParams& params = {});

// True only if `phc` is a well-formed Argon2id string and `password` matches it; the comparison is
// constant time. A malformed or foreign string is false, not an error: the caller answers
// "unauthenticated" either way. Blocking and slow: see PasswordParams.
bool VerifyPassword(std::string_view password, std::string_view phc);

// The cost parameters stored in an Argon2id PHC string. Error{kInvalidArgument} if it is not one.
Result<PasswordParams> ParsePasswordHashParams(std::string_view phc);

// True when `phc` should be replaced by a fresh HashPassword after a successful login: it is not
// Argon2id v19, or its memory or iteration count is below `current`. Parallelism alone is not a
// strength measure (fewer lanes is not weaker), so it does not trigger a rehash.
bool NeedsRehash(std::string_view phc, const PasswordParams& current);

// Sign-up / change-password policy, after NIST SP 800-63B: 12 to 128 characters (Unicode code
// points, so non-Latin passwords are not penalised for their UTF-8 length), valid UTF-8, not the
// email's local part or containing it (ASCII case-insensitive; containment only for local parts of
// 3+ characters, or "jo@x.io" would forbid every password containing "jo"), and not in the built-in
// list of common passwords. Error{kInvalidArgument, ..., "password"} naming the rule broken;
// the message never echoes the password.
Result<void> CheckPasswordPolicy(std::string_view password, std::string_view email);

}  // namespace mercato::security
