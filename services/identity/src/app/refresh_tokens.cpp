#include "app/refresh_tokens.hpp"

#include "mercato/core/id.hpp"
#include "mercato/security/secrets.hpp"

namespace mercato::identity::app {

using mercato::storage::Connection;

namespace {

// Refresh tokens are RandomToken(32): 43 base64url characters. Anything else is not ours, and is
// refused before it is hashed or looked up.
bool PlausibleToken(std::string_view token) {
  if (token.size() != 43) return false;
  for (char c : token) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> Issue(Connection& tx, std::string_view family_id, WallTime now, Duration ttl) {
  std::string token = security::RandomToken(32);
  auto inserted = tx.Execute(
      "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES ($1, $2, "
      "$3, $4)",
      {security::Sha256Hex(token), std::string(family_id), FormatRfc3339(now),
       FormatRfc3339(now + std::chrono::duration_cast<std::chrono::system_clock::duration>(ttl))});
  if (!inserted) return inserted.error();
  return token;
}

Result<void> RevokeFamily(Connection& tx, std::string_view family_id, WallTime now,
                          std::string_view reason) {
  auto revoked = tx.Execute(
      "UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND "
      "revoked_at IS NULL",
      {std::string(family_id), FormatRfc3339(now), std::string(reason)});
  if (!revoked) return revoked.error();
  return Ok();
}

}  // namespace

Result<std::string> StartFamily(Connection& tx, std::string_view user_id, WallTime now,
                                Duration ttl) {
  std::string family = NewId();
  auto created =
      tx.Execute("INSERT INTO refresh_families (id, user_id, created_at) VALUES ($1, $2, $3)",
                 {family, std::string(user_id), FormatRfc3339(now)});
  if (!created) return created.error();
  return Issue(tx, family, now, ttl);
}

Result<RotateOutcome> Rotate(Connection& tx, std::string_view presented, WallTime now,
                             Duration ttl) {
  RotateOutcome out;
  if (!PlausibleToken(presented)) return out;
  auto rows = tx.Query(
      "SELECT t.family_id, t.expires_at, t.used_at, f.user_id, f.revoked_at "
      "FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = $1",
      {security::Sha256Hex(presented)});
  if (!rows) return rows.error();
  if (rows->empty()) return out;
  const auto& row = rows->rows[0];
  out.family_id = row.String(0);
  if (!row.IsNull(4)) return out;  // revoked family
  if (!row.IsNull(2)) {
    if (auto r = RevokeFamily(tx, out.family_id, now, "reuse"); !r) return r.error();
    out.status = RotateStatus::kReused;
    return out;
  }
  WallTime expires{};
  if (!ParseRfc3339(row.String(1), expires) || expires <= now) return out;

  auto used =
      tx.Execute("UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
                 {security::Sha256Hex(presented), FormatRfc3339(now)});
  if (!used) return used.error();
  auto next = Issue(tx, out.family_id, now, ttl);
  if (!next) return next.error();
  out.status = RotateStatus::kRotated;
  out.user_id = row.String(3);
  out.token = std::move(*next);
  return out;
}

Result<bool> RevokeFamilyOf(Connection& tx, std::string_view presented, WallTime now,
                            std::string_view reason) {
  if (!PlausibleToken(presented)) return false;
  auto rows = tx.Query("SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
                       {security::Sha256Hex(presented)});
  if (!rows) return rows.error();
  if (rows->empty()) return false;
  if (auto r = RevokeFamily(tx, rows->rows[0].String(0), now, reason); !r) return r.error();
  return true;
}

Result<std::int64_t> RevokeAllFor(Connection& tx, std::string_view user_id, WallTime now,
                                  std::string_view reason) {
  return tx.Execute(
      "UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3 WHERE user_id = $1 AND "
      "revoked_at IS NULL",
      {std::string(user_id), FormatRfc3339(now), std::string(reason)});
}

Result<std::int64_t> PurgeExpired(Connection& tx, WallTime cutoff) {
  auto tokens =
      tx.Execute("DELETE FROM refresh_tokens WHERE expires_at < $1", {FormatRfc3339(cutoff)});
  if (!tokens) return tokens.error();
  auto families = tx.Execute(
      "DELETE FROM refresh_families WHERE NOT EXISTS "
      "(SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)");
  if (!families) return families.error();
  return *tokens + *families;
}

}  // namespace mercato::identity::app
