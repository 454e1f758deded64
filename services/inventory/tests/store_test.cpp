// The stock store on a real SQLite file: receipts, all-or-none reservations across warehouses,
// idempotency per order, every state transition, expiry, the database-enforced invariant, and
// two concurrency tests: 100 racers for the last 10 units, and thousands of random operations
// from several threads replayed against a sequential model in commit order.
#include "stock_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "inventory_app.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::inventory {
namespace {

using namespace std::chrono_literals;
const WallTime kT0 = WallTime{} + std::chrono::seconds(1'800'000'000);

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = storage::OpenSqlite({.path = dir_.path() + "/inventory.db"});
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    ASSERT_TRUE(storage::ApplyMigrations(*db_, AllMigrations()));
    ASSERT_TRUE(db_->TransactBlocking([&](Connection& tx) -> Result<void> {
      for (const char* p : {"p1", "p2", "p3"}) {
        if (auto r = store_.UpsertProduct(tx, p, std::string("SKU-") + p, p, kT0); !r) return r;
      }
      for (const char* w : {"w1", "w2"}) {
        if (auto r = store_.CreateWarehouse(tx, w, w, kT0); !r) return r.error();
      }
      return Ok();
    }));
  }
  void ReceiveNow(const std::string& p, const std::string& w, std::int64_t q) {
    ASSERT_TRUE(db_->TransactBlocking(
        [&](Connection& tx) { return store_.Receive(tx, p, w, q, kT0, std::nullopt); }));
  }
  Result<StockStore::Received> ReceiveWithKey(const std::string& p, std::int64_t q,
                                              const std::string& key) {
    return db_->TransactBlocking(
        [&](Connection& tx) { return store_.Receive(tx, p, "w1", q, kT0, std::nullopt, key); });
  }
  Result<ReserveOutcome> ReserveNow(const std::string& order, std::vector<Item> items,
                                    WallTime now = kT0, std::chrono::seconds ttl = 60s) {
    ReserveRequest request{order, std::move(items), ttl};
    return db_->TransactBlocking(
        [&](Connection& tx) { return store_.Reserve(tx, request, now, std::nullopt); });
  }
  StockLevel Stock(const std::string& p) {
    return *db_->ReadBlocking([&](Connection& c) { return store_.GetStock(c, p); });
  }
  std::vector<Violation> Violations() {
    return *db_->ReadBlocking([&](Connection& c) { return store_.CheckInvariants(c); });
  }
  template <class F>
  Transition Do(F f) {
    auto t = db_->TransactBlocking(f);
    EXPECT_TRUE(t) << t.error().message;
    return *t;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> db_;
  StockStore store_{{.default_low_stock_threshold = 5, .publish = false}};
};

TEST_F(StoreTest, ReceiptsAddUpPerWarehouse) {
  ReceiveNow("p1", "w1", 7);
  ReceiveNow("p1", "w2", 3);
  ReceiveNow("p1", "w1", 1);
  auto level = Stock("p1");
  EXPECT_EQ(level.received, 11);
  EXPECT_EQ(level.available, 11);
  ASSERT_EQ(level.warehouses.size(), 2u);
  EXPECT_EQ(level.warehouses[0].available, 8);
  auto unknown = db_->TransactBlocking(
      [&](Connection& tx) { return store_.Receive(tx, "nope", "w1", 1, kT0, std::nullopt); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  auto zero = db_->TransactBlocking(
      [&](Connection& tx) { return store_.Receive(tx, "p1", "w1", 0, kT0, std::nullopt); });
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Violations().empty());
}

TEST_F(StoreTest, ARetriedReceiptWithItsKeyCountsOnce) {
  auto first = ReceiveWithKey("p1", 5, "receipt-1");
  auto again = ReceiveWithKey("p1", 5, "receipt-1");
  ASSERT_TRUE(first && again);
  EXPECT_FALSE(first->repeated);
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(Stock("p1").received, 5);
  auto other = ReceiveWithKey("p1", 6, "receipt-1");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(ReceiveWithKey("p1", 5, "receipt-2"));
  EXPECT_EQ(Stock("p1").received, 10);
  EXPECT_TRUE(Violations().empty());
}

TEST_F(StoreTest, AllOrNoneAcrossWarehousesNamingEveryShortItem) {
  ReceiveNow("p1", "w1", 4);
  ReceiveNow("p1", "w2", 6);
  ReceiveNow("p2", "w1", 1);
  auto short_both = ReserveNow("o1", {{"p1", 11}, {"p2", 2}, {"p3", 1}});
  ASSERT_TRUE(short_both);
  ASSERT_EQ(short_both->kind, ReserveOutcome::kShort);
  ASSERT_EQ(short_both->shortages.size(), 3u);
  EXPECT_EQ(short_both->shortages[0].available, 10);
  EXPECT_EQ(Stock("p1").available, 10) << "nothing reserved when anything is short";

  auto ok = ReserveNow("o2", {{"p1", 9}, {"p2", 1}});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->kind, ReserveOutcome::kCreated);
  // p1 came from the fuller warehouse first: 6 from w2, then 3 from w1.
  ASSERT_EQ(ok->reservation.allocations.size(), 3u);
  EXPECT_EQ(ok->reservation.allocations[0].warehouse_id, "w1");
  EXPECT_EQ(ok->reservation.allocations[0].quantity, 3);
  EXPECT_EQ(ok->reservation.allocations[1].quantity, 6);
  auto p1 = Stock("p1");
  EXPECT_EQ(p1.available, 1);
  EXPECT_EQ(p1.reserved, 9);
  EXPECT_TRUE(Violations().empty());
}

TEST_F(StoreTest, TheSameOrderGetsTheSameReservationOrA422) {
  ReceiveNow("p1", "w1", 10);
  auto first = ReserveNow("o1", {{"p1", 2}});
  auto again = ReserveNow("o1", {{"p1", 2}});
  ASSERT_TRUE(first && again);
  EXPECT_EQ(again->kind, ReserveOutcome::kExisting);
  EXPECT_EQ(again->reservation.id, first->reservation.id);
  EXPECT_EQ(Stock("p1").reserved, 2) << "reserved once";
  auto different = ReserveNow("o1", {{"p1", 3}});
  ASSERT_TRUE(different);
  EXPECT_EQ(different->kind, ReserveOutcome::kMismatch);
  auto other_ttl = ReserveNow("o1", {{"p1", 2}}, kT0, 300s);
  ASSERT_TRUE(other_ttl);
  EXPECT_EQ(other_ttl->kind, ReserveOutcome::kExisting)
      << "the ttl is not part of the request's identity";
  auto unknown = ReserveNow("o9", {{"p1", 1}, {"nope", 1}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().field, "items[1].product_id");
}

TEST_F(StoreTest, RequestsThatOnlyLookAlikeAreNotTheSame) {
  ReceiveNow("p1", "w1", 10);
  ReceiveNow("p2", "w1", 10);
  ASSERT_EQ(ReserveNow("o1", {{"p1", 1}, {"p2", 2}})->kind, ReserveOutcome::kCreated);
  auto forged = ReserveNow("o1", {{"p1:1|p2", 2}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->kind, ReserveOutcome::kMismatch)
      << "ids with separator characters must not collide";
}

TEST_F(StoreTest, ADeletedProductStaysDeletedWhateverTheEventOrder) {
  ASSERT_TRUE(
      db_->TransactBlocking([&](Connection& tx) { return store_.DeleteProduct(tx, "p1", kT0); }));
  // ProductCreated replayed late (from the dead letters) must not bring it back.
  ASSERT_TRUE(db_->TransactBlocking(
      [&](Connection& tx) { return store_.UpsertProduct(tx, "p1", "SKU", "p1", kT0); }));
  auto level = db_->ReadBlocking([&](Connection& c) { return store_.GetStock(c, "p1"); });
  ASSERT_FALSE(level);
  EXPECT_EQ(level.error().code, ErrorCode::kNotFound);
  // Deleted before it was ever created: the creation arriving afterwards finds it deleted.
  ASSERT_TRUE(db_->TransactBlocking(
      [&](Connection& tx) { return store_.DeleteProduct(tx, "p-new", kT0); }));
  ASSERT_TRUE(db_->TransactBlocking(
      [&](Connection& tx) { return store_.UpsertProduct(tx, "p-new", "S", "n", kT0); }));
  EXPECT_FALSE(db_->ReadBlocking([&](Connection& c) { return store_.RequireProduct(c, "p-new"); }));
}

TEST_F(StoreTest, TransitionsAreLegalOnlyFromTheRightStateAndIdempotent) {
  ReceiveNow("p1", "w1", 10);
  auto r = ReserveNow("o1", {{"p1", 4}});
  ASSERT_TRUE(r);
  const std::string id = r->reservation.id;
  auto ret = Do([&](Connection& tx) { return store_.Return(tx, id, kT0, std::nullopt); });
  EXPECT_TRUE(ret.refused) << "RESERVED cannot be returned";
  auto commit = Do([&](Connection& tx) { return store_.Commit(tx, id, kT0, std::nullopt); });
  EXPECT_TRUE(commit.applied);
  EXPECT_EQ(commit.reservation.status, Status::kCommitted);
  auto again = Do([&](Connection& tx) { return store_.Commit(tx, id, kT0, std::nullopt); });
  EXPECT_FALSE(again.applied);
  EXPECT_FALSE(again.refused) << "a repeated commit is answered, not refused";
  auto release = Do([&](Connection& tx) { return store_.Release(tx, id, kT0, std::nullopt); });
  EXPECT_TRUE(release.refused) << "sold stock is returned, not released";
  EXPECT_EQ(Stock("p1").sold, 4);
  auto returned = Do([&](Connection& tx) { return store_.Return(tx, id, kT0, std::nullopt); });
  EXPECT_TRUE(returned.applied);
  EXPECT_FALSE(
      Do([&](Connection& tx) { return store_.Return(tx, id, kT0, std::nullopt); }).applied);
  auto level = Stock("p1");
  EXPECT_EQ(level.available, 10);
  EXPECT_EQ(level.sold, 0);
  auto unknown = db_->TransactBlocking(
      [&](Connection& tx) { return store_.Commit(tx, "nope", kT0, std::nullopt); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(Violations().empty());
}

TEST_F(StoreTest, ExpiryReleasesAndALateCommitIsRefused) {
  ReceiveNow("p1", "w1", 10);
  auto a = ReserveNow("o1", {{"p1", 3}}, kT0, 1s);
  auto b = ReserveNow("o2", {{"p1", 2}}, kT0, 1s);
  ASSERT_TRUE(a && b);
  auto none =
      db_->TransactBlocking([&](Connection& tx) { return store_.ExpireDue(tx, kT0 + 500ms, 100); });
  EXPECT_EQ(*none, 0);
  auto late = Do(
      [&](Connection& tx) { return store_.Commit(tx, b->reservation.id, kT0 + 2s, std::nullopt); });
  EXPECT_TRUE(late.refused);
  EXPECT_EQ(late.reservation.status, Status::kExpired) << "expired on the way, and kept";
  auto swept =
      db_->TransactBlocking([&](Connection& tx) { return store_.ExpireDue(tx, kT0 + 2s, 100); });
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(Stock("p1").available, 10);
  EXPECT_FALSE(Do([&](Connection& tx) {
                 return store_.Release(tx, a->reservation.id, kT0, std::nullopt);
               }).refused)
      << "releasing an expired reservation is a harmless repeat";
  EXPECT_TRUE(Violations().empty());
}

TEST_F(StoreTest, TheDatabaseRefusesABrokenStockRow) {
  ReceiveNow("p1", "w1", 5);
  auto broken = db_->WriteBlocking([](Connection& c) {
    return c.Execute("UPDATE stock SET available = available + 1 WHERE product_id = 'p1'");
  });
  EXPECT_FALSE(broken) << "available + reserved + sold = received is a CHECK constraint";
  auto negative = db_->WriteBlocking([](Connection& c) {
    return c.Execute(
        "UPDATE stock SET available = -1, reserved = reserved + 6 WHERE product_id = 'p1'");
  });
  EXPECT_FALSE(negative);
}

TEST_F(StoreTest, HundredRacersForTheLastTenUnits) {
  ReceiveNow("p1", "w1", 6);
  ReceiveNow("p1", "w2", 4);
  std::atomic<int> created{0}, short_count{0}, errors{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 100; ++i) {
    racers.emplace_back([&, i] {
      auto r = ReserveNow("order-" + std::to_string(i), {{"p1", 1}});
      if (!r) {
        ++errors;
      } else if (r->kind == ReserveOutcome::kCreated) {
        ++created;
      } else if (r->kind == ReserveOutcome::kShort) {
        ++short_count;
      }
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(created.load(), 10);
  EXPECT_EQ(short_count.load(), 90);
  auto level = Stock("p1");
  EXPECT_EQ(level.available, 0);
  EXPECT_EQ(level.reserved, 10);
  EXPECT_TRUE(Violations().empty());
}

// ---- randomized concurrent operations against a sequential model ------------------------------

// What the model says each operation should have done, in commit order.
struct Model {
  struct Stock {
    std::int64_t received = 0, available = 0, reserved = 0, sold = 0;
  };
  struct Res {
    Status status = Status::kReserved;
    std::map<std::string, std::int64_t> items;
    WallTime expires_at{};
  };
  std::map<std::string, Stock> stock;
  std::map<std::string, Res> reservations;
  std::map<std::string, std::pair<std::string, std::string>> orders;  // order -> (request key, id)

  void MoveUnits(const Res& r, std::int64_t Stock::*from, std::int64_t Stock::*to) {
    for (const auto& [p, q] : r.items) {
      stock[p].*from -= q;
      stock[p].*to += q;
    }
  }
};

struct Logged {
  std::int64_t seq = 0;
  std::string op;       // "receive", "reserve", "commit", "release", "return", "expire"
  std::string product;  // receive
  std::int64_t quantity = 0;
  std::string order;  // reserve
  std::map<std::string, std::int64_t> items;
  std::int64_t ttl_s = 0;  // in logical seconds (one per operation)
  std::string id;          // the reservation acted on, or created
  std::string outcome;     // what the real store did
};

// What makes two reservation requests "the same": the items (not the ttl).
std::string KeyOf(const std::map<std::string, std::int64_t>& items) {
  std::string key;
  for (const auto& [p, q] : items) key += "|" + p + ":" + std::to_string(q);
  return key;
}

TEST_F(StoreTest, RandomConcurrentOperationsMatchASequentialModelAndKeepTheInvariant) {
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 750;
  const std::vector<std::string> products{"p1", "p2", "p3"};
  std::atomic<std::int64_t> seq{0};  // advanced inside each write transaction: commit order
  std::mutex mu;
  std::vector<Logged> log;
  std::vector<std::string> ids;  // reservations created so far, for the transitions to pick from

  auto logical_now = [](std::int64_t s) { return kT0 + std::chrono::milliseconds(s); };
  auto worker = [&](int thread) {
    std::mt19937 rng(static_cast<unsigned>(1234 + thread));
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    for (int i = 0; i < kOpsPerThread; ++i) {
      Logged entry;
      const int kind = pick(100);
      std::string chosen;
      {
        std::lock_guard lock(mu);
        // Mostly recent reservations (still RESERVED), sometimes any: every transition happens.
        if (!ids.empty()) {
          const int span = pick(10) < 7 ? std::min<int>(20, static_cast<int>(ids.size()))
                                        : static_cast<int>(ids.size());
          chosen = ids[ids.size() - 1 - static_cast<std::size_t>(pick(span))];
        }
      }
      if (kind < 10) {
        entry.op = "receive";
        entry.product = products[static_cast<std::size_t>(pick(3))];
        entry.quantity = 1 + pick(5);
        const std::string warehouse = pick(2) ? "w1" : "w2";
        auto r = db_->TransactBlocking([&](Connection& tx) -> Result<void> {
          entry.seq = ++seq;
          auto level = store_.Receive(tx, entry.product, warehouse, entry.quantity,
                                      logical_now(entry.seq * 1000), std::nullopt);
          if (!level) return level.error();
          return Ok();
        });
        entry.outcome = r ? "applied" : "error:" + r.error().message;
      } else if (kind < 50 || chosen.empty()) {
        entry.op = "reserve";
        entry.order = "order-" + std::to_string(pick(2000));
        const int n = 1 + pick(2);
        for (int k = 0; k < n; ++k)
          entry.items[products[static_cast<std::size_t>(pick(3))]] = 1 + pick(3);
        entry.ttl_s = 1 + pick(60);
        ReserveRequest request{entry.order, {}, std::chrono::seconds(1)};
        for (const auto& [p, q] : entry.items) request.items.push_back(Item{p, q});
        auto r = db_->TransactBlocking([&](Connection& tx) -> Result<ReserveOutcome> {
          entry.seq = ++seq;
          // A logical clock: operation n happens at T0 + n seconds; TTLs are 1-60 of those.
          request.ttl = std::chrono::seconds(entry.ttl_s);
          return store_.Reserve(tx, request, logical_now(entry.seq * 1000), std::nullopt);
        });
        if (!r) {
          entry.outcome = "error:" + r.error().message;
        } else {
          static const char* kinds[] = {"created", "existing", "short", "mismatch"};
          entry.outcome = kinds[r->kind];
          entry.id = r->reservation.id;
          if (r->kind == ReserveOutcome::kCreated) {
            std::lock_guard lock(mu);
            ids.push_back(entry.id);
          }
        }
      } else if (kind < 90) {
        static const char* ops[] = {"commit", "release", "return"};
        entry.op = ops[pick(3)];
        entry.id = chosen;
        auto r = db_->TransactBlocking([&](Connection& tx) -> Result<Transition> {
          entry.seq = ++seq;
          const WallTime now = logical_now(entry.seq * 1000);
          if (entry.op == "commit") return store_.Commit(tx, entry.id, now, std::nullopt);
          if (entry.op == "release") return store_.Release(tx, entry.id, now, std::nullopt);
          return store_.Return(tx, entry.id, now, std::nullopt);
        });
        entry.outcome = !r           ? "error:" + r.error().message
                        : r->refused ? "refused"
                        : r->applied ? "applied"
                                     : "noop";
      } else {
        entry.op = "expire";
        auto r = db_->TransactBlocking([&](Connection& tx) -> Result<int> {
          entry.seq = ++seq;
          return store_.ExpireDue(tx, logical_now(entry.seq * 1000), 100000);
        });
        entry.outcome = r ? "expired:" + std::to_string(*r) : "error:" + r.error().message;
      }
      std::lock_guard lock(mu);
      log.push_back(std::move(entry));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  ASSERT_EQ(log.size(), static_cast<std::size_t>(kThreads * kOpsPerThread));
  std::sort(log.begin(), log.end(), [](const Logged& a, const Logged& b) { return a.seq < b.seq; });

  // Replay in commit order on the model and compare every outcome.
  Model m;
  int mismatches = 0;
  std::map<std::string, int> outcomes;
  for (const auto& e : log) {
    const WallTime now = logical_now(e.seq * 1000);
    std::string expected;
    if (e.op == "receive") {
      m.stock[e.product].received += e.quantity;
      m.stock[e.product].available += e.quantity;
      expected = "applied";
    } else if (e.op == "reserve") {
      const std::string key = KeyOf(e.items);
      if (auto it = m.orders.find(e.order); it != m.orders.end()) {
        expected = it->second.first == key ? "existing" : "mismatch";
      } else {
        bool fits = true;
        for (const auto& [p, q] : e.items) fits = fits && m.stock[p].available >= q;
        if (!fits) {
          expected = "short";
        } else {
          expected = "created";
          Model::Res r{Status::kReserved, e.items, now + std::chrono::seconds(e.ttl_s)};
          for (const auto& [p, q] : e.items) {
            m.stock[p].available -= q;
            m.stock[p].reserved += q;
          }
          m.reservations[e.id] = r;
          m.orders[e.order] = {key, e.id};
        }
      }
    } else if (e.op == "expire") {
      int n = 0;
      for (auto& [id, r] : m.reservations) {
        if (r.status == Status::kReserved && r.expires_at <= now) {
          m.MoveUnits(r, &Model::Stock::reserved, &Model::Stock::available);
          r.status = Status::kExpired;
          ++n;
        }
      }
      expected = "expired:" + std::to_string(n);
    } else {
      auto& r = m.reservations.at(e.id);
      if (e.op == "commit") {
        if (r.status == Status::kReserved && r.expires_at <= now) {
          m.MoveUnits(r, &Model::Stock::reserved, &Model::Stock::available);
          r.status = Status::kExpired;
        }
        if (r.status == Status::kCommitted) {
          expected = "noop";
        } else if (r.status != Status::kReserved) {
          expected = "refused";
        } else {
          m.MoveUnits(r, &Model::Stock::reserved, &Model::Stock::sold);
          r.status = Status::kCommitted;
          expected = "applied";
        }
      } else if (e.op == "release") {
        if (r.status == Status::kReleased || r.status == Status::kExpired) {
          expected = "noop";
        } else if (r.status != Status::kReserved) {
          expected = "refused";
        } else {
          m.MoveUnits(r, &Model::Stock::reserved, &Model::Stock::available);
          r.status = Status::kReleased;
          expected = "applied";
        }
      } else {
        if (r.status == Status::kReturned) {
          expected = "noop";
        } else if (r.status != Status::kCommitted) {
          expected = "refused";
        } else {
          m.MoveUnits(r, &Model::Stock::sold, &Model::Stock::available);
          r.status = Status::kReturned;
          expected = "applied";
        }
      }
    }
    ++outcomes[e.op + ":" +
               e.outcome.substr(0, e.outcome.find(':') == std::string::npos ? e.outcome.size()
                                                                            : e.outcome.find(':'))];
    if (expected != e.outcome && mismatches++ < 10) {
      ADD_FAILURE() << "seq " << e.seq << " " << e.op << " " << e.order << e.id << ": store did "
                    << e.outcome << ", the model expects " << expected;
    }
  }
  EXPECT_EQ(mismatches, 0);
  for (const auto& p : products) {
    auto level = Stock(p);
    EXPECT_EQ(level.received, m.stock[p].received) << p;
    EXPECT_EQ(level.available, m.stock[p].available) << p;
    EXPECT_EQ(level.reserved, m.stock[p].reserved) << p;
    EXPECT_EQ(level.sold, m.stock[p].sold) << p;
    EXPECT_GE(level.available, 0);
  }
  EXPECT_TRUE(Violations().empty());
  // The mix was real: every kind of outcome happened.
  for (const char* k : {"reserve:created", "reserve:short", "reserve:mismatch", "commit:applied",
                        "commit:refused", "release:applied", "return:applied", "receive:applied"}) {
    EXPECT_GT(outcomes[k], 0) << k;
  }
  std::string summary;
  for (const auto& [k, n] : outcomes) summary += k + "=" + std::to_string(n) + " ";
  RecordProperty("outcomes", summary);
  std::cout << "outcomes: " << summary << "\n";
}

}  // namespace
}  // namespace mercato::inventory
