#include "mercato/storage/migrations.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "mercato/core/clock.hpp"

namespace mercato::storage {
namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)";

std::string Label(const Migration& m) {
  return "migration " + std::to_string(m.version) + " (" + m.name + ")";
}

Error ChecksumChanged(const Migration& m, std::string_view recorded, std::string_view now) {
  return Error{ErrorCode::kFailedPrecondition,
               Label(m) + " was changed after it was applied (recorded " + std::string(recorded) +
                   ", now " + std::string(now) + "); add a new migration instead"};
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

}  // namespace

std::string MigrationChecksum(std::string_view sql) {
  uint64_t hash = 14695981039346656037ULL;
  for (char c : sql) {
    if (c == '\r') continue;
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return std::string("fnv1a64:") + hex;
}

Result<int> ApplyMigrations(Database& db, const std::vector<Migration>& migrations) {
  std::vector<const Migration*> ordered;
  for (const auto& m : migrations) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](auto* a, auto* b) { return a->version < b->version; });
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (ordered[i]->version <= 0) {
      return Error{ErrorCode::kFailedPrecondition,
                   Label(*ordered[i]) + ": versions must be positive"};
    }
    if (i > 0 && ordered[i]->version == ordered[i - 1]->version) {
      return Error{ErrorCode::kFailedPrecondition,
                   "duplicate migration version " + std::to_string(ordered[i]->version) + ": " +
                       ordered[i - 1]->name + " and " + ordered[i]->name};
    }
  }

  auto created = db.WriteBlocking([](Connection& c) { return c.ExecuteScript(kCreateTable); });
  if (!created) return std::move(created).error();

  // Check every recorded checksum before applying anything, so an edited old migration stops
  // start-up before newer ones run on top of it.
  auto recorded = db.WriteBlocking(
      [](Connection& c) { return c.Query("SELECT version, checksum FROM schema_migrations"); });
  if (!recorded) return std::move(recorded).error();
  std::map<int64_t, std::string> applied;
  for (const Row& row : *recorded) applied.emplace(row.Int(0), row.String(1));
  for (const Migration* m : ordered) {
    auto it = applied.find(m->version);
    if (it == applied.end()) continue;
    if (const std::string now = MigrationChecksum(m->sql); it->second != now)
      return ChecksumChanged(*m, it->second, now);
  }

  int count = 0;
  for (const Migration* m : ordered) {
    if (applied.count(m->version) != 0) continue;
    const std::string checksum = MigrationChecksum(m->sql);
    // Each migration commits with its schema_migrations row, so a crash never leaves a migration
    // applied but unrecorded. The version is checked again inside the transaction because another
    // process sharing the file may have applied it since the check above.
    auto ran = db.TransactBlocking([&](Connection& c) -> Result<bool> {
      auto existing = c.Query("SELECT checksum FROM schema_migrations WHERE version = $1",
                              {int64_t{m->version}});
      if (!existing) return std::move(existing).error();
      if (!existing->empty()) {
        const std::string recorded_checksum = (*existing)[0].String(0);
        if (recorded_checksum != checksum) return ChecksumChanged(*m, recorded_checksum, checksum);
        return false;
      }
      if (auto script = c.ExecuteScript(m->sql); !script) {
        return Error{script.error().code, Label(*m) + " failed: " + script.error().message};
      }
      auto inserted = c.Execute(
          "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, "
          "$4)",
          {int64_t{m->version}, m->name, checksum, FormatRfc3339(Clock::Real().WallNow())});
      if (!inserted) return std::move(inserted).error();
      return true;
    });
    if (!ran) return std::move(ran).error();
    if (*ran) ++count;
  }
  return count;
}

Result<std::vector<Migration>> LoadMigrations(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    return Error{ErrorCode::kNotFound, "migrations directory '" + directory + "' does not exist"};
  }
  std::vector<Migration> migrations;
  std::map<int, std::string> files_by_version;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.extension() != ".sql" || !it->is_regular_file(ec)) continue;
    const std::string file = path.filename().string();
    const std::string_view stem = std::string_view(file).substr(0, file.size() - 4);

    size_t digits = 0;
    while (digits < stem.size() && std::isdigit(static_cast<unsigned char>(stem[digits]))) ++digits;
    int version = 0;
    auto [ptr, parse_ec] = std::from_chars(stem.data(), stem.data() + digits, version);
    const std::string_view name =
        digits < stem.size() ? stem.substr(digits + 1) : std::string_view();
    if (digits == 0 || parse_ec != std::errc() || ptr != stem.data() + digits || version <= 0 ||
        stem[digits] != '_' || name.empty() || !std::all_of(name.begin(), name.end(), IsNameChar)) {
      return Error{ErrorCode::kInvalidArgument,
                   "migration file '" + file +
                       "' is not named NNN_name.sql (name: letters, digits, _ and -)"};
    }
    if (auto [previous, inserted] = files_by_version.emplace(version, file); !inserted) {
      return Error{ErrorCode::kInvalidArgument, "migration files '" + previous->second + "' and '" +
                                                    file + "' have the same version " +
                                                    std::to_string(version)};
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream sql;
    sql << in.rdbuf();
    if (!in)
      return Error{ErrorCode::kInternal, "cannot read migration file '" + path.string() + "'"};
    migrations.push_back(Migration{version, std::string(name), sql.str()});
  }
  if (ec) return Error{ErrorCode::kInternal, "cannot list '" + directory + "': " + ec.message()};
  std::sort(migrations.begin(), migrations.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  return migrations;
}

}  // namespace mercato::storage
