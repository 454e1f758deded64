#include <gtest/gtest.h>

#include <fstream>

#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "test_support.hpp"

// Generated from testdata/migrations by mercato_embed_migrations (see CMakeLists.txt).
namespace mercato::storage::testdata {
const std::vector<mercato::storage::Migration>& Migrations();
}

namespace mercato::storage {
namespace {

using testing::TempDir;

const std::vector<Migration> kMigrations = {
    {1, "create_users", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);"},
    {2, "create_orders",
     "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));\n"
     "CREATE INDEX orders_by_user ON orders(user_id);"},
};

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqlite({.path = dir_.File("test.db")});
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(*opened);
  }

  std::vector<int64_t> AppliedVersions() {
    auto rows = db_->ReadBlocking([](Connection& c) {
      return c.Query(
          "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version");
    });
    std::vector<int64_t> versions;
    if (rows) {
      for (const Row& row : *rows) versions.push_back(row.Int("version"));
    }
    return versions;
  }

  bool TableExists(const std::string& name) {
    auto rows = db_->ReadBlocking([&](Connection& c) {
      return c.Query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {name});
    });
    return rows && !rows->empty();
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(MigrationsTest, AppliesPendingMigrationsOnce) {
  auto first = ApplyMigrations(*db_, kMigrations);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 2);
  EXPECT_TRUE(TableExists("users"));
  EXPECT_TRUE(TableExists("orders"));
  EXPECT_EQ(AppliedVersions(), (std::vector<int64_t>{1, 2}));

  auto second = ApplyMigrations(*db_, kMigrations);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, 0);

  auto row = db_->ReadBlocking([](Connection& c) {
    return c.Query("SELECT name, checksum, applied_at FROM schema_migrations WHERE version = 2");
  });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[0].String("name"), "create_orders");
  EXPECT_EQ((*row)[0].String("checksum"), MigrationChecksum(kMigrations[1].sql));
  WallTime applied_at;
  EXPECT_TRUE(ParseRfc3339((*row)[0].String("applied_at"), applied_at));
}

TEST_F(MigrationsTest, AppliesInVersionOrderAndOnlyTheNewOnes) {
  // Given out of order: 2 references the table 1 creates, so order matters.
  const std::vector<Migration> reversed{kMigrations[1], kMigrations[0]};
  ASSERT_TRUE(ApplyMigrations(*db_, {kMigrations[0]}));
  auto applied = ApplyMigrations(*db_, reversed);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(*applied, 1);
  EXPECT_EQ(AppliedVersions(), (std::vector<int64_t>{1, 2}));
}

TEST_F(MigrationsTest, ChangedChecksumIsFailedPrecondition) {
  ASSERT_TRUE(ApplyMigrations(*db_, kMigrations));
  auto edited = kMigrations;
  edited[0].sql += "\n-- an innocent-looking edit";
  auto result = ApplyMigrations(*db_, edited);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(result.error().message.find("migration 1 (create_users)"), std::string::npos)
      << result.error().message;
}

TEST_F(MigrationsTest, ChecksumIgnoresCarriageReturns) {
  EXPECT_EQ(MigrationChecksum("a;\r\nb;\r\n"), MigrationChecksum("a;\nb;\n"));
  EXPECT_NE(MigrationChecksum("a;"), MigrationChecksum("b;"));
  EXPECT_EQ(MigrationChecksum("").rfind("fnv1a64:", 0), 0u);
}

TEST_F(MigrationsTest, DuplicateOrNonPositiveVersionsAreRejected) {
  auto duplicate = ApplyMigrations(*db_, {kMigrations[0], {1, "again", "SELECT 1;"}});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::kFailedPrecondition);
  auto zero = ApplyMigrations(*db_, {{0, "zero", "SELECT 1;"}});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(MigrationsTest, FailingMigrationRollsBackAndKeepsEarlierOnes) {
  const std::vector<Migration> migrations{
      kMigrations[0],
      {2, "broken", "CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);"},
      {3, "never", "CREATE TABLE never (x);"},
  };
  auto result = ApplyMigrations(*db_, migrations);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("migration 2 (broken) failed"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(AppliedVersions(), (std::vector<int64_t>{1}));
  EXPECT_TRUE(TableExists("users"));
  EXPECT_FALSE(TableExists("half"));  // the failed migration's first statement was rolled back
  EXPECT_FALSE(TableExists("never"));
}

TEST_F(MigrationsTest, VersionsOnlyInTheDatabaseAreTolerated) {
  ASSERT_TRUE(ApplyMigrations(*db_, kMigrations));
  auto older_binary = ApplyMigrations(*db_, {kMigrations[0]});
  ASSERT_TRUE(older_binary) << older_binary.error().message;
  EXPECT_EQ(*older_binary, 0);
}

TEST(LoadMigrations, ReadsNumberedFilesInVersionOrder) {
  TempDir dir;
  std::ofstream(dir.File("010_add_index.sql")) << "CREATE INDEX i ON t(x);";
  std::ofstream(dir.File("002_create-t.sql")) << "CREATE TABLE t (x);";
  std::ofstream(dir.File("README.md")) << "not a migration";
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].version, 2);
  EXPECT_EQ((*loaded)[0].name, "create-t");
  EXPECT_EQ((*loaded)[0].sql, "CREATE TABLE t (x);");
  EXPECT_EQ((*loaded)[1].version, 10);
  EXPECT_EQ((*loaded)[1].name, "add_index");
}

TEST(LoadMigrations, RejectsBadNamesDuplicatesAndMissingDirectories) {
  TempDir dir;
  std::ofstream(dir.File("create.sql")) << "";
  auto bad_name = LoadMigrations(dir.path());
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_name.error().message.find("create.sql"), std::string::npos);

  TempDir dup;
  std::ofstream(dup.File("001_a.sql")) << "";
  std::ofstream(dup.File("1_b.sql")) << "";
  auto duplicate = LoadMigrations(dup.path());
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::kInvalidArgument);

  auto missing = LoadMigrations(dir.File("nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(EmbeddedMigrations, MatchTheFolderByteForByte) {
  const auto& embedded = testdata::Migrations();
  auto loaded = LoadMigrations(MERCATO_STORAGE_TESTDATA_DIR);
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(embedded.size(), loaded->size());
  ASSERT_EQ(embedded.size(), 2u);
  for (size_t i = 0; i < embedded.size(); ++i) {
    EXPECT_EQ(embedded[i].version, (*loaded)[i].version);
    EXPECT_EQ(embedded[i].name, (*loaded)[i].name);
    EXPECT_EQ(embedded[i].sql, (*loaded)[i].sql);
  }
  EXPECT_EQ(embedded[0].name, "create_users");
  // The generator's default delimiter occurs in 002 and must not have cut it short.
  EXPECT_NE(embedded[1].sql.find(")msql\""), std::string::npos);
  EXPECT_NE(embedded[1].sql.find("backslash \\n that"), std::string::npos);

  TempDir dir;
  auto opened = OpenSqlite({.path = dir.File("embedded.db")});
  ASSERT_TRUE(opened);
  auto applied = ApplyMigrations(**opened, embedded);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(*applied, 2);
}

}  // namespace
}  // namespace mercato::storage
