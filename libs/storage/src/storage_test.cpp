#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "mercato/storage/database.hpp"
#include "mercato/storage/sqlite.hpp"
#include "test_support.hpp"

namespace mercato::storage {
namespace {

using testing::RunCoroutine;
using testing::TempDir;

constexpr std::string_view kSchema = R"(
  CREATE TABLE items (id INTEGER PRIMARY KEY, i INTEGER, d REAL, s TEXT, b BLOB, n TEXT);
  CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
  CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT INTO counters VALUES ('hits', 0);
)";

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqlite({.path = dir_.File("test.db"), .readers = 2});
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(*opened);
    auto created = db_->WriteBlocking([](Connection& c) { return c.ExecuteScript(kSchema); });
    ASSERT_TRUE(created) << created.error().message;
  }

  int64_t CountItems() {
    return db_->ReadBlocking(
        [](Connection& c) { return (*c.Query("SELECT count(*) FROM items"))[0].Int(0); });
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteTest, RoundTripsEveryValueType) {
  const Blob blob{0, 1, 2, 255, 0};
  const std::string text = std::string("h\xc3\xa9llo") + '\0' + "x";  // UTF-8 with an embedded NUL
  auto inserted = db_->WriteBlocking([&](Connection& c) {
    return c.Execute("INSERT INTO items (id, i, d, s, b, n) VALUES ($1, $2, $3, $4, $5, $6)",
                     {int64_t{1}, int64_t{-42}, 2.5, text, blob, std::monostate{}});
  });
  ASSERT_TRUE(inserted) << inserted.error().message;
  EXPECT_EQ(*inserted, 1);

  auto rows = db_->ReadBlocking(
      [](Connection& c) { return c.Query("SELECT id, i, d, s, b, n FROM items"); });
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "i", "d", "s", "b", "n"}));
  const Row& row = (*rows)[0];
  EXPECT_EQ(row.size(), 6u);
  EXPECT_EQ(row.Int(0), 1);
  EXPECT_EQ(row.Int("i"), -42);
  EXPECT_DOUBLE_EQ(row.Double("d"), 2.5);
  EXPECT_EQ(row.String("s"), text);
  EXPECT_EQ(row.Bytes("b"), blob);
  EXPECT_TRUE(row.IsNull(5));
  EXPECT_TRUE(row.IsNull("n"));
  EXPECT_EQ(row.OptString("n"), std::nullopt);
  EXPECT_EQ(row.OptInt("i"), -42);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(row.At("n")));
  EXPECT_THROW(row.Int("n"), std::logic_error);        // NULL through a non-optional getter
  EXPECT_THROW(row.String("i"), std::logic_error);     // wrong type
  EXPECT_THROW(row.Int("missing"), std::logic_error);  // unknown column
  EXPECT_THROW(row.At(6), std::logic_error);           // out of range

  // An empty blob and an empty string stay empty, not NULL.
  auto updated = db_->WriteBlocking([](Connection& c) {
    return c.Execute("UPDATE items SET b = $1, s = $2 WHERE id = $3",
                     {Blob{}, std::string(), int64_t{1}});
  });
  ASSERT_TRUE(updated);
  EXPECT_EQ(*updated, 1);
  auto empty = db_->ReadBlocking(
      [](Connection& c) { return c.Query("SELECT b, s FROM items WHERE id = 1"); });
  ASSERT_TRUE(empty);
  EXPECT_FALSE((*empty)[0].IsNull(0));
  EXPECT_TRUE((*empty)[0].Bytes(0).empty());
  EXPECT_EQ((*empty)[0].String(1), "");

  auto deleted = db_->WriteBlocking(
      [](Connection& c) { return c.Execute("DELETE FROM items WHERE id = $1", {int64_t{1}}); });
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(CountItems(), 0);
}

TEST_F(SqliteTest, BindsNumberedParametersWhateverTheirOrder) {
  auto inserted = db_->WriteBlocking([](Connection& c) {
    return c.Execute("INSERT INTO items (s, i) VALUES ($2, $1)", {int64_t{5}, std::string("five")});
  });
  ASSERT_TRUE(inserted) << inserted.error().message;
  auto rows = db_->ReadBlocking([](Connection& c) {
    return c.Query("SELECT i, s, $1 + $1 AS twice FROM items WHERE s = $2 AND i = $1",
                   {int64_t{5}, std::string("five")});
  });
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Int("i"), 5);
  EXPECT_EQ((*rows)[0].String("s"), "five");
  EXPECT_EQ((*rows)[0].Int("twice"), 10);
}

TEST_F(SqliteTest, RejectsMismatchedParameters) {
  db_->ReadBlocking([](Connection& c) {
    auto too_many = c.Query("SELECT $1", {int64_t{1}, int64_t{2}});
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.error().code, ErrorCode::kInvalidArgument);
    auto too_few = c.Query("SELECT $1, $2", {int64_t{1}});
    ASSERT_FALSE(too_few);
    EXPECT_EQ(too_few.error().code, ErrorCode::kInvalidArgument);
    auto gap = c.Query("SELECT $1, $3", {int64_t{1}, int64_t{2}});
    ASSERT_FALSE(gap);
    EXPECT_EQ(gap.error().code, ErrorCode::kInvalidArgument);
    auto question = c.Query("SELECT ?", {int64_t{1}});
    ASSERT_FALSE(question);
    EXPECT_EQ(question.error().code, ErrorCode::kInvalidArgument);
    auto two_statements = c.Query("SELECT 1; SELECT 2");
    ASSERT_FALSE(two_statements);
    EXPECT_EQ(two_statements.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(c.Query("SELECT 1; -- a trailing comment is fine"));
  });
}

TEST_F(SqliteTest, MapsConstraintViolationsToCanonicalCodes) {
  auto first = db_->WriteBlocking([](Connection& c) {
    return c.Execute("INSERT INTO users (id, email) VALUES ($1, $2)",
                     {int64_t{1}, std::string("secret@example.com")});
  });
  ASSERT_TRUE(first);

  auto duplicate = db_->WriteBlocking([](Connection& c) {
    return c.Execute("INSERT INTO users (id, email) VALUES ($1, $2)",
                     {int64_t{2}, std::string("secret@example.com")});
  });
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(duplicate.error().message.find("UNIQUE constraint failed: users.email"),
            std::string::npos)
      << duplicate.error().message;
  EXPECT_EQ(duplicate.error().message.find("secret"), std::string::npos)
      << "parameter values must not leak";

  auto same_key = db_->WriteBlocking([](Connection& c) {
    return c.Execute("INSERT INTO users (id, email) VALUES ($1, $2)",
                     {int64_t{1}, std::string("other@example.com")});
  });
  ASSERT_FALSE(same_key);
  EXPECT_EQ(same_key.error().code, ErrorCode::kAlreadyExists);

  auto foreign_key = db_->WriteBlocking([](Connection& c) {
    return c.Execute("INSERT INTO orders (user_id) VALUES ($1)", {int64_t{99}});
  });
  ASSERT_FALSE(foreign_key);
  EXPECT_EQ(foreign_key.error().code, ErrorCode::kFailedPrecondition);

  auto not_null = db_->WriteBlocking([](Connection& c) {
    return c.Execute("INSERT INTO users (email) VALUES ($1)", {std::monostate{}});
  });
  ASSERT_FALSE(not_null);
  EXPECT_EQ(not_null.error().code, ErrorCode::kFailedPrecondition);

  auto syntax =
      db_->WriteBlocking([](Connection& c) { return c.Execute("INSERT INTO nowhere VALUES (1)"); });
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code, ErrorCode::kInternal);
  EXPECT_NE(syntax.error().message.find("no such table: nowhere"), std::string::npos);
}

TEST_F(SqliteTest, TransactionRollsBackWhenDestroyedUncommitted) {
  db_->WriteBlocking([](Connection& c) {
    auto tx = Transaction::Begin(c);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(c.Execute("INSERT INTO items (i) VALUES (1)"));
  });
  EXPECT_EQ(CountItems(), 0);

  db_->WriteBlocking([](Connection& c) {
    auto tx = Transaction::Begin(c);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(c.Execute("INSERT INTO items (i) VALUES (1)"));
    Transaction moved = std::move(*tx);  // ownership moves; only `moved` may end it
    EXPECT_FALSE(tx->active());
    EXPECT_TRUE(moved.Commit());
    EXPECT_FALSE(moved.Commit());  // already committed
  });
  EXPECT_EQ(CountItems(), 1);

  db_->WriteBlocking([](Connection& c) {
    auto tx = Transaction::Begin(c);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(c.Execute("INSERT INTO items (i) VALUES (2)"));
    EXPECT_TRUE(tx->Rollback());
  });
  EXPECT_EQ(CountItems(), 1);
}

TEST_F(SqliteTest, WorkThatLeavesATransactionOpenIsRolledBack) {
  db_->WriteBlocking([](Connection& c) {
    ASSERT_TRUE(c.Begin());
    ASSERT_TRUE(c.Execute("INSERT INTO items (i) VALUES (1)"));
  });
  EXPECT_EQ(CountItems(), 0);
  // The writer is usable afterwards (not stuck inside the leaked transaction).
  EXPECT_TRUE(db_->TransactBlocking([](Connection& c) -> Result<void> {
    if (auto r = c.Execute("INSERT INTO items (i) VALUES (2)"); !r) return r.error();
    return Ok();
  }));
  EXPECT_EQ(CountItems(), 1);
}

TEST_F(SqliteTest, TransactCommitsOnValueAndRollsBackOnErrorOrException) {
  std::optional<Result<int64_t>> committed;
  std::optional<Result<int64_t>> failed;
  bool threw = false;
  RunCoroutine([&]() -> Task<void> {
    committed = co_await db_->Transact([](Connection& c) -> Result<int64_t> {
      return c.Execute("INSERT INTO items (i) VALUES (1)");
    });
    failed = co_await db_->Transact([](Connection& c) -> Result<int64_t> {
      if (auto r = c.Execute("INSERT INTO items (i) VALUES (2)"); !r) return r.error();
      return Error{ErrorCode::kFailedPrecondition, "business rule says no"};
    });
    try {
      co_await db_->Transact([](Connection& c) -> Result<void> {
        (void)c.Execute("INSERT INTO items (i) VALUES (3)");
        throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error& e) {
      threw = std::string(e.what()) == "boom";
    }
  });
  ASSERT_TRUE(committed && *committed);
  EXPECT_EQ(**committed, 1);
  ASSERT_TRUE(failed);
  ASSERT_FALSE(*failed);
  EXPECT_EQ(failed->error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(threw);
  auto values =
      db_->ReadBlocking([](Connection& c) { return c.Query("SELECT i FROM items ORDER BY i"); });
  ASSERT_TRUE(values);
  ASSERT_EQ(values->size(), 1u);
  EXPECT_EQ((*values)[0].Int(0), 1);
}

TEST_F(SqliteTest, CoroutineWorkRunsOnStorageThreadAndResumesOnIoContextThread) {
  const auto test_thread = std::this_thread::get_id();
  std::thread::id read_thread, write_thread, after_read, after_write;
  int64_t value = 0;
  RunCoroutine([&]() -> Task<void> {
    co_await db_->Write([&](Connection& c) {
      write_thread = std::this_thread::get_id();
      (void)c.Execute("INSERT INTO items (i) VALUES (7)");
    });
    after_write = std::this_thread::get_id();
    value = co_await db_->Read([&](Connection& c) {
      read_thread = std::this_thread::get_id();
      return (*c.Query("SELECT i FROM items"))[0].Int(0);
    });
    after_read = std::this_thread::get_id();
  });
  EXPECT_EQ(value, 7);
  EXPECT_NE(write_thread, test_thread);
  EXPECT_NE(read_thread, test_thread);
  EXPECT_NE(read_thread, write_thread);  // reads go to a reader thread, not the writer
  EXPECT_EQ(after_write, test_thread);
  EXPECT_EQ(after_read, test_thread);
}

TEST_F(SqliteTest, ExceptionsFromWorkAreRethrownInTheCoroutine) {
  bool caught = false;
  RunCoroutine([&]() -> Task<void> {
    try {
      co_await db_->Read([](Connection&) -> int { throw std::out_of_range("from storage"); });
    } catch (const std::out_of_range& e) {
      caught = std::string(e.what()) == "from storage";
    }
  });
  EXPECT_TRUE(caught);
  EXPECT_THROW(db_->WriteBlocking([](Connection&) { throw std::runtime_error("blocking"); }),
               std::runtime_error);
}

TEST_F(SqliteTest, WorkMayBeMoveOnly) {
  auto payload = std::make_unique<int64_t>(11);
  int64_t seen = 0;
  RunCoroutine([&]() -> Task<void> {
    // Named, not written inline in the co_await: see the GCC 12 note on Database::Read.
    auto work = [p = std::move(payload)](Connection&) { return *p; };
    seen = co_await db_->Read(std::move(work));
  });
  EXPECT_EQ(seen, 11);
}

TEST_F(SqliteTest, ConcurrentTransactsLoseNoUpdates) {
  constexpr int kWriters = 4;
  constexpr int kIncrements = 200;
  std::atomic<int> errors{0};
  boost::asio::io_context io;
  auto writer = [&]() -> Task<void> {
    for (int i = 0; i < kIncrements; ++i) {
      // Read-modify-write on purpose: only serialised transactions keep every increment.
      auto done = co_await db_->Transact([](Connection& c) -> Result<void> {
        auto current = c.Query("SELECT value FROM counters WHERE name = 'hits'");
        if (!current) return current.error();
        auto written = c.Execute("UPDATE counters SET value = $1 WHERE name = 'hits'",
                                 {(*current)[0].Int(0) + 1});
        if (!written) return written.error();
        return Ok();
      });
      if (!done) ++errors;
    }
  };
  for (int w = 0; w < kWriters; ++w) boost::asio::co_spawn(io, writer(), boost::asio::detached);
  // Two threads drive the io_context so completions also race with each other.
  std::thread helper([&io] { io.run(); });
  io.run();
  helper.join();
  EXPECT_EQ(errors.load(), 0);
  auto total =
      db_->ReadBlocking([](Connection& c) { return c.Query("SELECT value FROM counters"); });
  ASSERT_TRUE(total);
  EXPECT_EQ((*total)[0].Int(0), kWriters * kIncrements);
}

TEST_F(SqliteTest, ReadersSeeCommittedDataWithoutWaitingForTheWriter) {
  ASSERT_TRUE(db_->WriteBlocking(
      [](Connection& c) { return c.Execute("INSERT INTO items (i) VALUES (1)"); }));
  EXPECT_EQ(CountItems(), 1);

  // Hold a write transaction open with an uncommitted row; readers keep answering from the last
  // committed snapshot (WAL) instead of blocking.
  std::promise<void> inserted;
  std::promise<void> release;
  auto release_future = release.get_future();
  std::thread writer([&] {
    db_->WriteBlocking([&](Connection& c) {
      auto tx = Transaction::Begin(c);
      ASSERT_TRUE(tx);
      ASSERT_TRUE(c.Execute("INSERT INTO items (i) VALUES (2)"));
      inserted.set_value();
      release_future.wait();
      ASSERT_TRUE(tx->Commit());
    });
  });
  inserted.get_future().wait();
  EXPECT_EQ(CountItems(), 1);
  release.set_value();
  writer.join();
  EXPECT_EQ(CountItems(), 2);
}

TEST_F(SqliteTest, ReaderConnectionsRefuseWrites) {
  auto written = db_->ReadBlocking(
      [](Connection& c) { return c.Execute("INSERT INTO items (i) VALUES (1)"); });
  ASSERT_FALSE(written);
  EXPECT_EQ(CountItems(), 0);
}

TEST_F(SqliteTest, BlockingCallFromStorageWorkIsALogicError) {
  EXPECT_THROW(db_->WriteBlocking([&](Connection&) { db_->WriteBlocking([](Connection&) {}); }),
               std::logic_error);
}

TEST_F(SqliteTest, StatementCacheEvictsAndReprepares) {
  db_->ReadBlocking([](Connection& c) {
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 100; ++i) {
        auto rows = c.Query("SELECT " + std::to_string(i) + " + $1", {int64_t{1}});
        ASSERT_TRUE(rows) << rows.error().message;
        EXPECT_EQ((*rows)[0].Int(0), i + 1);
      }
    }
  });
}

TEST_F(SqliteTest, PingAndBackend) {
  EXPECT_TRUE(db_->Ping());
  EXPECT_EQ(db_->Backend(), "sqlite");
  std::optional<Result<void>> pinged;
  RunCoroutine([&]() -> Task<void> { pinged = co_await db_->PingAsync(); });
  ASSERT_TRUE(pinged);
  EXPECT_TRUE(*pinged);
}

TEST(OpenSqlite, RejectsInMemoryAndBadPaths) {
  auto memory = OpenSqlite({.path = ":memory:"});
  ASSERT_FALSE(memory);
  EXPECT_EQ(memory.error().code, ErrorCode::kInvalidArgument);
  auto empty = OpenSqlite({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  auto missing_dir = OpenSqlite({.path = "/nonexistent-dir/x.db"});
  ASSERT_FALSE(missing_dir);
  EXPECT_EQ(missing_dir.error().code, ErrorCode::kUnavailable);
}

TEST(OpenSqlite, WorksWithoutReaderThreadsAndWithFullSync) {
  TempDir dir;
  auto opened = OpenSqlite({.path = dir.File("x.db"), .readers = 0, .synchronous_full = true});
  ASSERT_TRUE(opened) << opened.error().message;
  auto& db = **opened;
  EXPECT_TRUE(db.WriteBlocking([](Connection& c) {
    return c.ExecuteScript("CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  }));
  auto sync = db.ReadBlocking([](Connection& c) { return c.Query("PRAGMA synchronous"); });
  ASSERT_TRUE(sync);
  EXPECT_EQ((*sync)[0].Int(0), 2);  // FULL
  auto mode = db.ReadBlocking([](Connection& c) { return c.Query("PRAGMA journal_mode"); });
  ASSERT_TRUE(mode);
  EXPECT_EQ((*mode)[0].String(0), "wal");
}

TEST(OpenSqlite, DestructionFinishesQueuedWork) {
  TempDir dir;
  std::atomic<int> ran{0};
  {
    auto opened = OpenSqlite({.path = dir.File("x.db")});
    ASSERT_TRUE(opened);
    boost::asio::io_context io;
    for (int i = 0; i < 20; ++i) {
      boost::asio::co_spawn(io, (*opened)->Write([&ran](Connection&) { ++ran; }),
                            boost::asio::detached);
    }
    io.run();
  }
  EXPECT_EQ(ran.load(), 20);
}

}  // namespace
}  // namespace mercato::storage
