// Refresh-token families (OAuth 2.0 Security BCP, "refresh token rotation"): a login starts a
// family; each refresh retires the presented token and issues its successor in the same family;
// presenting a retired token again is treated as theft and revokes the whole family, so the
// thief and the victim both have to log in again. Tokens are 256-bit random strings stored only
// as SHA-256 hashes. Functions run inside the caller's storage transaction.
//
//   auto token = StartFamily(tx, user_id, now, ttl);            // login
//   auto outcome = Rotate(tx, presented, now, ttl);             // refresh: commit even on reuse
//   if (outcome->status == RotateStatus::kReused) → 401, and the family is already revoked
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::identity::app {

// A fresh family for `user_id` and its first token (returned in clear, stored hashed).
Result<std::string> StartFamily(mercato::storage::Connection& tx, std::string_view user_id,
                                WallTime now, Duration ttl);

enum class RotateStatus {
  kRotated,  // user_id and token are set
  kInvalid,  // unknown, expired, or its family was revoked
  kReused,   // already used: the family has just been revoked
};
struct RotateOutcome {
  RotateStatus status = RotateStatus::kInvalid;
  std::string user_id;
  std::string token;  // the successor, in clear
  std::string family_id;
};

// Never returns an error for a bad token (that is an outcome, and the reuse revocation must
// commit); errors are storage failures only.
Result<RotateOutcome> Rotate(mercato::storage::Connection& tx, std::string_view presented,
                             WallTime now, Duration ttl);

// Revokes the family of `presented` (logout). False when the token is unknown.
Result<bool> RevokeFamilyOf(mercato::storage::Connection& tx, std::string_view presented,
                            WallTime now, std::string_view reason);
// Revokes every live family of the user (deactivation, password change). Returns how many.
Result<std::int64_t> RevokeAllFor(mercato::storage::Connection& tx, std::string_view user_id,
                                  WallTime now, std::string_view reason);
// Deletes tokens expired before `cutoff` and families left without tokens. Returns rows deleted.
Result<std::int64_t> PurgeExpired(mercato::storage::Connection& tx, WallTime cutoff);

}  // namespace mercato::identity::app
