// The storage interface services code against: a Database runs blocking SQL work on its own
// storage threads and hands the result back to the awaiting coroutine, so network threads never
// block on disk. SQLite implements it today (sqlite.hpp); a PostgreSQL backend can later without
// touching service code. SQL placeholders are $1, $2, ... on every backend.
//
//   Task<Result<int64_t>> CountOrders(Database& db) {
//     co_return co_await db.Read([](Connection& c) -> Result<int64_t> {
//       auto rows = c.Query("SELECT count(*) FROM orders");
//       if (!rows) return rows.error();
//       return (*rows)[0].Int(0);
//     });
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/core/task.hpp"
#include "mercato/storage/value.hpp"

namespace mercato::storage {

// One database connection, used by one thread at a time. Errors map to canonical codes:
//   unique / primary key violation -> already_exists;  other constraint -> failed_precondition;
//   busy / locked -> unavailable;  anything else -> internal.
// Messages carry the backend's text but never parameter values (they may be personal data).
class Connection {
 public:
  virtual ~Connection();

  // One statement. $N placeholders are bound by number, wherever they appear in the SQL; every
  // given parameter must be used, and every placeholder given.
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // One statement; returns the number of rows it changed.
  virtual Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Several statements separated by ';', no parameters (schema scripts, migrations).
  virtual Result<void> ExecuteScript(std::string_view sql) = 0;

  // Prefer Transaction (RAII) or Database::Transact over calling these directly.
  // write = true takes the write lock up front (SQLite BEGIN IMMEDIATE), so a transaction that
  // reads then writes cannot fail half-way with a lock upgrade conflict.
  virtual Result<void> Begin(bool write = true) = 0;
  virtual Result<void> Commit() = 0;
  virtual Result<void> Rollback() = 0;
};

// RAII transaction: rolls back on destruction unless Commit() succeeded.
//
//   auto tx = Transaction::Begin(conn);
//   if (!tx) return tx.error();
//   ... conn.Execute(...) ...
//   return tx->Commit();
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& connection, bool write = true);

  Transaction(Transaction&& other) noexcept
      : connection_(std::exchange(other.connection_, nullptr)) {}
  Transaction& operator=(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<void> Commit();
  // Explicit early rollback; the destructor does the same.
  Result<void> Rollback();
  bool active() const { return connection_ != nullptr; }

 private:
  explicit Transaction(Connection& connection) : connection_(&connection) {}

  Connection* connection_;  // null once committed, rolled back or moved from
};

class Database {
 public:
  virtual ~Database();

  // Runs f(Connection&) on a storage thread (never the caller's network thread) and resumes the
  // awaiting coroutine on its own executor. Exceptions thrown by f are rethrown in the coroutine.
  // f may be move-only; anything it captures by reference must outlive the co_await (it does when
  // it refers to the awaiting coroutine's locals).
  // GCC 12 bug: a lambda with an init-capture that owns something ([p = std::move(ptr)]) written
  // inside the co_await expression is destroyed twice (double free). Name it first:
  //   auto work = [p = std::move(ptr)](Connection& c) { ... };  co_await db.Write(std::move(work));
  // Read uses one of the reader connections, which refuse writes (query_only), and may run
  // concurrently with other reads and with the writer.
  template <class F>
  Task<std::invoke_result_t<F, Connection&>> Read(F f) {
    return Run<F>(false, std::move(f));
  }
  // Write uses the single writer connection: writes are serialised by design, so they never race
  // for SQLite's write lock inside one process.
  template <class F>
  Task<std::invoke_result_t<F, Connection&>> Write(F f) {
    return Run<F>(true, std::move(f));
  }
  // Write() inside BEGIN IMMEDIATE ... COMMIT. f returns a Result<T>: commits when it holds a
  // value, rolls back when it holds an error or f throws. A failed COMMIT becomes the result.
  template <class F>
  Task<std::invoke_result_t<F, Connection&>> Transact(F f) {
    return Run<TransactionWrapper<F>>(true, TransactionWrapper<F>{std::move(f)});
  }

  // Blocking forms for start-up, tools and tests. Never call them from a network thread (they
  // block it) nor from inside storage work (it would wait for itself: std::logic_error).
  template <class F>
  auto ReadBlocking(F f) {
    return RunBlocking<F>(false, std::move(f));
  }
  template <class F>
  auto WriteBlocking(F f) {
    return RunBlocking<F>(true, std::move(f));
  }
  template <class F>
  auto TransactBlocking(F f) {
    return RunBlocking<TransactionWrapper<F>>(true, TransactionWrapper<F>{std::move(f)});
  }

  // Checks that a reader connection answers "SELECT 1". Blocking: for readiness probes from a
  // coroutine use PingAsync.
  virtual Result<void> Ping() = 0;
  Task<Result<void>> PingAsync();
  // "sqlite", "postgresql".
  virtual std::string_view Backend() const = 0;

 protected:
  // The type-erased primitives the templates build on. Dispatch queues `work` for a storage
  // thread and completes on the awaiting coroutine's executor; an exception from `work` is
  // rethrown from the co_await. DispatchBlocking waits on the calling thread instead.
  virtual Task<void> Dispatch(bool write, std::function<void(Connection&)> work) = 0;
  virtual void DispatchBlocking(bool write, std::function<void(Connection&)> work) = 0;

 private:
  template <class F>
  struct TransactionWrapper {
    F f;
    auto operator()(Connection& connection) -> std::invoke_result_t<F&, Connection&> {
      using R = std::invoke_result_t<F&, Connection&>;
      auto tx = Transaction::Begin(connection, true);
      if (!tx) return R(tx.error());
      R result = f(connection);  // an exception unwinds through tx, which rolls back
      if (!result) return result;
      if (auto committed = tx->Commit(); !committed) return R(std::move(committed).error());
      return result;
    }
  };

  // Keeps f and its result alive in one heap block shared with the queued work, so neither
  // depends on the coroutine frame's layout; std::function needs a copyable callable and this
  // lets f itself be move-only.
  template <class F, class R>
  struct State {
    F f;
    std::optional<R> out;
  };

  template <class F>
  Task<std::invoke_result_t<F, Connection&>> Run(bool write, F f) {
    using R = std::invoke_result_t<F, Connection&>;
    static_assert(!std::is_reference_v<R>, "storage work must return a value, not a reference");
    // The awaitable is named before co_await on purpose: GCC 12 destroys non-trivial temporaries
    // of a co_await full-expression twice (here: the lambda holding the shared_ptr).
    if constexpr (std::is_void_v<R>) {
      auto fn = std::make_shared<F>(std::move(f));
      auto pending = Dispatch(write, [fn](Connection& c) { (*fn)(c); });
      co_await std::move(pending);
    } else {
      auto state = std::make_shared<State<F, R>>(State<F, R>{std::move(f), std::nullopt});
      auto pending = Dispatch(write, [state](Connection& c) { state->out.emplace(state->f(c)); });
      co_await std::move(pending);
      co_return std::move(*state->out);
    }
  }

  template <class F>
  std::invoke_result_t<F, Connection&> RunBlocking(bool write, F f) {
    using R = std::invoke_result_t<F, Connection&>;
    static_assert(!std::is_reference_v<R>, "storage work must return a value, not a reference");
    if constexpr (std::is_void_v<R>) {
      DispatchBlocking(write, [&f](Connection& c) { f(c); });
    } else {
      std::optional<R> out;
      DispatchBlocking(write, [&f, &out](Connection& c) { out.emplace(f(c)); });
      return std::move(*out);
    }
  }
};

}  // namespace mercato::storage
