// The event store against a real SQLite file: appends, optimistic concurrency, replay up to a
// time, snapshots. Times are passed explicitly, so every test is deterministic.
#include "storage/event_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::identity::storage {
namespace {

using mercato::storage::Connection;
using mercato::storage::Database;
using std::chrono::milliseconds;

// 2027-01-15T08:00:00Z: a fixed instant, whole seconds so millisecond offsets format exactly.
const WallTime kT0 = WallTime{} + std::chrono::seconds(1'800'000'000);

std::unique_ptr<Database> OpenStore(const testing::TempDir& dir, const std::string& file) {
  auto db = mercato::storage::OpenSqlite({.path = dir.path() + "/" + file});
  if (!db) throw std::runtime_error("open: " + db.error().message);
  auto applied = mercato::storage::ApplyMigrations(**db, Migrations());
  if (!applied) throw std::runtime_error("migrate: " + applied.error().message);
  return std::move(*db);
}

std::vector<NewEvent> Events(int n, const std::string& type = "NameChanged") {
  std::vector<NewEvent> events;
  for (int i = 0; i < n; ++i) events.push_back({type, {{"n", i}}});
  return events;
}

class EventStoreTest : public ::testing::Test {
 protected:
  Result<int64_t> AppendNow(std::string_view stream, int64_t expected,
                            const std::vector<NewEvent>& events, WallTime now = kT0) {
    return db_->TransactBlocking(
        [&](Connection& c) { return Append(c, stream, expected, events, now); });
  }
  Result<std::vector<StoredEvent>> LoadAll(std::string_view stream, int64_t after = 0) {
    return db_->ReadBlocking([&](Connection& c) { return Load(c, stream, after); });
  }
  Result<std::optional<Snapshot>> ReadSnapshot(std::string_view stream) {
    return db_->ReadBlocking([&](Connection& c) { return LoadSnapshot(c, stream); });
  }
  Result<bool> WriteSnapshot(std::string_view stream, int64_t version,
                             const boost::json::value& state) {
    return db_->TransactBlocking(
        [&](Connection& c) { return SaveSnapshot(c, stream, version, state, kT0); });
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = OpenStore(dir_, "identity.db");
};

TEST_F(EventStoreTest, AppendThenLoadReturnsVersionsOneToN) {
  auto first = AppendNow("user-1", 0, Events(2, "UserCreated"), kT0);
  auto second = AppendNow("user-1", 2, Events(3, "EmailChanged"), kT0 + milliseconds(5));

  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*first, 2);
  EXPECT_EQ(*second, 5);
  auto events = LoadAll("user-1");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 5u);
  for (size_t i = 0; i < events->size(); ++i) {
    const StoredEvent& e = (*events)[i];
    EXPECT_EQ(e.stream_id, "user-1");
    EXPECT_EQ(e.version, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(e.type, i < 2 ? "UserCreated" : "EmailChanged");
    EXPECT_EQ(e.data, boost::json::value({{"n", i < 2 ? i : i - 2}}));
    EXPECT_EQ(e.recorded_at, i < 2 ? kT0 : kT0 + milliseconds(5));
  }
}

TEST_F(EventStoreTest, StreamsAreIndependent) {
  ASSERT_TRUE(AppendNow("user-1", 0, Events(3)));
  auto other = AppendNow("user-2", 0, Events(1));

  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(*other, 1);
  EXPECT_EQ(LoadAll("user-2")->size(), 1u);
  EXPECT_TRUE(LoadAll("nobody")->empty());
}

TEST_F(EventStoreTest, CurrentVersionIsZeroForANewStreamThenTheLastVersion) {
  auto before = db_->ReadBlocking([](Connection& c) { return CurrentVersion(c, "user-1"); });
  ASSERT_TRUE(AppendNow("user-1", 0, Events(4)));
  auto after = db_->ReadBlocking([](Connection& c) { return CurrentVersion(c, "user-1"); });

  ASSERT_TRUE(before && after);
  EXPECT_EQ(*before, 0);
  EXPECT_EQ(*after, 4);
}

TEST_F(EventStoreTest, AppendAtAStaleVersionIsAbortedAndWritesNothing) {
  ASSERT_TRUE(AppendNow("user-1", 0, Events(2)));

  auto stale = AppendNow("user-1", 1, Events(1));
  auto ahead = AppendNow("user-1", 7, Events(1));
  auto as_new = AppendNow("user-1", 0, Events(1));

  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kAborted);
  ASSERT_FALSE(ahead);
  EXPECT_EQ(ahead.error().code, ErrorCode::kAborted);
  ASSERT_FALSE(as_new);
  EXPECT_EQ(as_new.error().code, ErrorCode::kAborted);
  EXPECT_EQ(LoadAll("user-1")->size(), 2u);
}

TEST_F(EventStoreTest, RejectsMalformedAppends) {
  auto none = AppendNow("user-1", 0, {});
  auto untyped = AppendNow("user-1", 0, {{"", {}}});
  auto negative = AppendNow("user-1", -1, Events(1));
  auto no_stream = AppendNow("", 0, Events(1));

  for (const auto* r : {&none, &untyped, &negative, &no_stream}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(LoadAll("user-1")->empty());
}

// Append joins the caller's transaction: when the caller's later step fails, the events go too.
TEST_F(EventStoreTest, AppendRollsBackWithTheCallersTransaction) {
  auto result = db_->TransactBlocking([](Connection& c) -> Result<int64_t> {
    auto version = Append(c, "user-1", 0, Events(2), kT0);
    if (!version) return version;
    return Error{ErrorCode::kUnavailable, "outbox write failed"};
  });

  ASSERT_FALSE(result);
  EXPECT_TRUE(LoadAll("user-1")->empty());
}

// Two writers both believe the stream is new: exactly one may win, the other must learn it lost.
void ExpectOneWinnerPerRace(Database& a, Database& b, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    const std::string stream = "user-race-" + std::to_string(round);
    std::atomic<bool> go{false};
    Result<int64_t> results[2] = {Error{}, Error{}};
    Database* dbs[2] = {&a, &b};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        results[i] = dbs[i]->TransactBlocking([&](Connection& c) {
          return Append(c, stream, 0, {{"UserCreated", {{"writer", i}}}}, kT0);
        });
      });
    }
    go = true;
    for (auto& t : threads) t.join();

    const int wins = (results[0] ? 1 : 0) + (results[1] ? 1 : 0);
    ASSERT_EQ(wins, 1) << "round " << round;
    const Result<int64_t>& loser = results[0] ? results[1] : results[0];
    EXPECT_EQ(loser.error().code, ErrorCode::kAborted) << loser.error().message;
    auto events = a.ReadBlocking([&](Connection& c) { return Load(c, stream); });
    ASSERT_TRUE(events);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].data.at("writer").as_int64(), results[0] ? 0 : 1);
  }
}

TEST_F(EventStoreTest, ConcurrentAppendsAtTheSameVersionHaveOneWinner) {
  ExpectOneWinnerPerRace(*db_, *db_, 50);
}

// Two Database objects on one file behave like two service replicas: separate writer
// connections that race for SQLite's lock rather than queueing on one writer thread.
TEST_F(EventStoreTest, ConcurrentAppendsFromTwoConnectionsHaveOneWinner) {
  auto replica = OpenStore(dir_, "identity.db");
  ExpectOneWinnerPerRace(*db_, *replica, 50);
}

// A connection whose version check passes but whose insert hits the primary key, as when a
// PostgreSQL transaction raced past the check: the caller must see aborted, not already_exists.
class RacedConnection final : public Connection {
 public:
  Result<mercato::storage::Rows> Query(std::string_view,
                                       const std::vector<mercato::storage::Value>&) override {
    return mercato::storage::Rows{};  // "no events yet"
  }
  Result<int64_t> Execute(std::string_view, const std::vector<mercato::storage::Value>&) override {
    return Error{ErrorCode::kAlreadyExists, "UNIQUE constraint failed: events.stream_id"};
  }
  Result<void> ExecuteScript(std::string_view) override { return Ok(); }
  Result<void> Begin(bool) override { return Ok(); }
  Result<void> Commit() override { return Ok(); }
  Result<void> Rollback() override { return Ok(); }
};

TEST(EventStore, PrimaryKeyCollisionIsReportedAsAborted) {
  RacedConnection conn;

  auto result = Append(conn, "user-1", 0, Events(1), kT0);

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAborted);
}

TEST_F(EventStoreTest, LoadUntilReturnsThePrefixRecordedByThen) {
  ASSERT_TRUE(AppendNow("user-1", 0, Events(1, "UserCreated"), kT0));
  ASSERT_TRUE(AppendNow("user-1", 1, Events(2, "EmailChanged"), kT0 + milliseconds(1000)));
  ASSERT_TRUE(AppendNow("user-1", 3, Events(1, "NameChanged"), kT0 + milliseconds(2000)));
  auto until = [&](WallTime as_of) {
    return db_->ReadBlocking([&](Connection& c) { return LoadUntil(c, "user-1", as_of); });
  };

  auto before_any = until(kT0 - milliseconds(1));
  auto at_first = until(kT0);
  auto between = until(kT0 + milliseconds(1999));
  auto at_last = until(kT0 + milliseconds(2000));

  ASSERT_TRUE(before_any && at_first && between && at_last);
  EXPECT_TRUE(before_any->empty());
  ASSERT_EQ(at_first->size(), 1u);
  EXPECT_EQ((*at_first)[0].type, "UserCreated");
  ASSERT_EQ(between->size(), 3u);
  EXPECT_EQ(between->back().version, 3);
  EXPECT_EQ(between->back().type, "EmailChanged");
  EXPECT_EQ(at_last->size(), 4u);
}

// A clock that steps back must not make "events up to T" skip a middle event.
TEST_F(EventStoreTest, RecordedAtNeverGoesBackwardsWithinAStream) {
  ASSERT_TRUE(AppendNow("user-1", 0, Events(1), kT0 + milliseconds(500)));
  ASSERT_TRUE(AppendNow("user-1", 1, Events(1), kT0));  // clock stepped back 500 ms

  auto events = LoadAll("user-1");
  auto until = db_->ReadBlocking(
      [](Connection& c) { return LoadUntil(c, "user-1", kT0 + milliseconds(100)); });

  ASSERT_TRUE(events && until);
  EXPECT_EQ((*events)[1].recorded_at, kT0 + milliseconds(500));
  EXPECT_TRUE(until->empty());
}

TEST_F(EventStoreTest, LoadAfterASnapshotVersionReturnsOnlyTheTail) {
  ASSERT_TRUE(AppendNow("user-1", 0, Events(7)));
  ASSERT_TRUE(WriteSnapshot("user-1", 5, {{"name", "five"}}));

  auto snapshot = ReadSnapshot("user-1");
  ASSERT_TRUE(snapshot && *snapshot);
  auto tail = LoadAll("user-1", (*snapshot)->version);

  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].version, 6);
  EXPECT_EQ((*tail)[1].version, 7);
  EXPECT_TRUE(LoadAll("user-1", 7)->empty());
}

TEST_F(EventStoreTest, SnapshotSavesLoadsAndNeverMovesBackwards) {
  auto none = ReadSnapshot("user-1");
  auto saved = WriteSnapshot("user-1", 10, {{"name", "ten"}});
  auto newer = WriteSnapshot("user-1", 20, {{"name", "twenty"}});
  auto older = WriteSnapshot("user-1", 15, {{"name", "fifteen"}});
  auto same = WriteSnapshot("user-1", 20, {{"name", "other twenty"}});

  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(saved && newer && older && same);
  EXPECT_TRUE(*saved);
  EXPECT_TRUE(*newer);
  EXPECT_FALSE(*older);
  EXPECT_FALSE(*same);
  auto loaded = ReadSnapshot("user-1");
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_EQ((*loaded)->stream_id, "user-1");
  EXPECT_EQ((*loaded)->version, 20);
  EXPECT_EQ((*loaded)->state, boost::json::value({{"name", "twenty"}}));
  EXPECT_EQ((*loaded)->recorded_at, kT0);
}

TEST(SnapshotPolicy, SnapshotsWhenAMultipleIsCrossed) {
  SnapshotPolicy every50{};
  SnapshotPolicy every3{3};
  SnapshotPolicy off{0};

  EXPECT_EQ(every50.every, 50);
  EXPECT_FALSE(every50.ShouldSnapshot(0, 49));
  EXPECT_TRUE(every50.ShouldSnapshot(49, 50));
  EXPECT_TRUE(every50.ShouldSnapshot(48, 52));   // jumped over 50 in one append
  EXPECT_FALSE(every50.ShouldSnapshot(50, 99));  // 50 was already snapshotted
  EXPECT_TRUE(every50.ShouldSnapshot(10, 120));  // crossed two multiples: still one snapshot
  EXPECT_FALSE(every50.ShouldSnapshot(50, 50));
  EXPECT_TRUE(every3.ShouldSnapshot(2, 3));
  EXPECT_FALSE(every3.ShouldSnapshot(3, 5));
  EXPECT_TRUE(every3.ShouldSnapshot(5, 6));
  EXPECT_FALSE(off.ShouldSnapshot(0, 1000));
}

TEST_F(EventStoreTest, DataJsonRoundTripsExactly) {
  const boost::json::value data = boost::json::parse(R"({
    "email": "zoë@example.com",
    "quote": "she said \"hi\"\n\ttab\u0001",
    "big": 9223372036854775807,
    "unsigned": 18446744073709551615,
    "negative": -42,
    "ratio": 0.1,
    "tiny": 5e-324,
    "flags": [true, false, null],
    "nested": {"empty_object": {}, "empty_array": [], "empty_string": ""}
  })");
  ASSERT_TRUE(AppendNow("user-1", 0, {{"ProfileUpdated", data}}));
  ASSERT_TRUE(WriteSnapshot("user-1", 1, data));

  auto events = LoadAll("user-1");
  auto snapshot = ReadSnapshot("user-1");

  ASSERT_TRUE(events && snapshot && *snapshot);
  const boost::json::value& loaded = (*events)[0].data;
  EXPECT_EQ(loaded, data);
  EXPECT_EQ(boost::json::serialize(loaded), boost::json::serialize(data));
  EXPECT_TRUE(loaded.at("big").is_int64());
  EXPECT_TRUE(loaded.at("unsigned").is_uint64());
  EXPECT_EQ(loaded.at("ratio").as_double(), 0.1);
  EXPECT_EQ((*snapshot)->state, data);
}

}  // namespace
}  // namespace mercato::identity::storage
