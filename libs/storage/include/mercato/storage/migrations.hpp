// Schema migrations: numbered SQL scripts applied once each, in order, at start-up. Applied
// versions are recorded with a checksum in schema_migrations, so editing a migration that already
// ran is caught instead of silently diverging between environments.
//
//   auto migrations = LoadMigrations("services/orders/migrations");   // 001_create_orders.sql, ...
//   auto applied = ApplyMigrations(*db, *migrations);                 // or embedded: see below
//
// Embedding (no migrations folder needed at run time): in CMake,
//   mercato_embed_migrations(TARGET orders DIR migrations NAMESPACE mercato::orders)
// generates `const std::vector<mercato::storage::Migration>& mercato::orders::Migrations()`;
// declare that function in the service (e.g. src/storage/migrations.hpp) and pass its result.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::storage {

struct Migration {
  int version = 0;
  std::string name;  // "create_orders", from 001_create_orders.sql
  std::string sql;   // one or more statements; must not contain BEGIN/COMMIT itself
};

// Applies the pending migrations in version order, each in its own write transaction together
// with its schema_migrations row (version INTEGER PRIMARY KEY, name TEXT, checksum TEXT,
// applied_at TEXT). Returns how many were applied (0 when up to date).
// failed_precondition: an applied migration's checksum changed, or versions are duplicated or
// not positive. A failing script returns its error and leaves earlier migrations applied.
// Versions recorded in the database but missing from `migrations` are tolerated, so an older
// binary can still start during a rolling deploy.
// Blocking: call it at start-up, before serving.
Result<int> ApplyMigrations(Database& db, const std::vector<Migration>& migrations);

// Reads NNN_name.sql files (name: letters, digits, '_' and '-') from a directory, sorted by
// version. Other files are ignored, but a .sql file not named that way is an error
// (invalid_argument), as is a duplicate version; a missing directory is not_found.
Result<std::vector<Migration>> LoadMigrations(const std::string& directory);

// The checksum recorded for a migration: FNV-1a 64 of the SQL with '\r' removed (a checkout with
// CRLF line endings is not a change), as "fnv1a64:<16 hex digits>". It detects edits, not
// tampering.
std::string MigrationChecksum(std::string_view sql);

}  // namespace mercato::storage
