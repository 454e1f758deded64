#include "mercato/storage/sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mercato::storage {
namespace {

constexpr size_t kStatementCacheSize = 64;
constexpr size_t kSqlInErrorLength = 80;

// A short, single-line excerpt of the SQL for error messages. SQL text holds placeholders, not
// the bound values, so it is safe to show.
std::string Excerpt(std::string_view sql) {
  std::string out;
  for (char c : sql) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
    if (out.size() >= kSqlInErrorLength) {
      out += "...";
      break;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

ErrorCode CodeFor(int rc) {
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return ErrorCode::kAlreadyExists;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return ErrorCode::kFailedPrecondition;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

Error SqliteError(sqlite3* db, int rc, std::string_view sql) {
  std::string message = "sqlite: ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (!sql.empty()) message += " [" + Excerpt(sql) + "]";
  return Error{CodeFor(rc), std::move(message)};
}

Error Misuse(std::string message, std::string_view sql) {
  return Error{ErrorCode::kInternal, "sqlite: " + std::move(message) + " [" + Excerpt(sql) + "]"};
}

// Resets a statement when the call that used it returns, whatever the path: a statement left
// mid-step would hold its read snapshot open and block WAL checkpoints.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// Prepared statements by SQL text, least recently used evicted first. One per connection; the
// connection is used by one thread at a time, so no locking.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() {
    for (auto& entry : lru_) sqlite3_finalize(entry.stmt);
  }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  Result<sqlite3_stmt*> Get(std::string_view sql) {
    if (auto it = index_.find(sql); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->stmt;
    }
    auto prepared = Prepare(sql);
    if (!prepared) return prepared;
    if (lru_.size() >= kStatementCacheSize) {
      index_.erase(lru_.back().sql);
      sqlite3_finalize(lru_.back().stmt);
      lru_.pop_back();
    }
    lru_.push_front(Entry{std::string(sql), *prepared});
    index_.emplace(lru_.front().sql, lru_.begin());
    return *prepared;
  }

 private:
  struct Entry {
    std::string sql;
    sqlite3_stmt* stmt;
  };

  Result<sqlite3_stmt*> Prepare(std::string_view sql) {
    if (sql.size() > static_cast<size_t>(INT_MAX)) return Misuse("statement too long", sql);
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
    if (stmt == nullptr) return Error{ErrorCode::kInvalidArgument, "sqlite: empty statement"};
    // A second statement would be silently ignored by SQLite; trailing comments are fine.
    const size_t used = static_cast<size_t>(tail - sql.data());
    if (used < sql.size()) {
      sqlite3_stmt* extra = nullptr;
      rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(sql.size() - used), &extra, nullptr);
      if (rc != SQLITE_OK || extra != nullptr) {
        sqlite3_finalize(extra);
        sqlite3_finalize(stmt);
        return Error{ErrorCode::kInvalidArgument,
                     "sqlite: more than one statement (use ExecuteScript) [" + Excerpt(sql) + "]"};
      }
    }
    return stmt;
  }

  sqlite3* db_;
  std::list<Entry> lru_;  // front: most recently used
  // Keys view the strings owned by lru_ entries, which std::list never moves.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
};

// "$12" -> 12; 0 for anything that is not a $N placeholder.
size_t PlaceholderNumber(const char* name) {
  if (name == nullptr || name[0] != '$' || name[1] == '\0') return 0;
  const std::string_view digits(name + 1);
  size_t number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size()) return 0;
  return number;
}

// Binds params[N-1] to every $N. SQLite numbers parameters by first appearance, so "$2 ... $1"
// works; each distinct $N has one index, and the name is how we find which value it takes.
// Strings and blobs are bound without copying: ResetOnExit clears the bindings before the
// parameters go out of scope.
Result<void> Bind(sqlite3* db, sqlite3_stmt* stmt, const std::vector<Value>& params,
                  std::string_view sql) {
  const int count = sqlite3_bind_parameter_count(stmt);
  if (static_cast<size_t>(count) != params.size()) {
    return Error{ErrorCode::kInvalidArgument, "sqlite: statement uses " + std::to_string(count) +
                                                  " distinct placeholders but " +
                                                  std::to_string(params.size()) +
                                                  " parameters were given [" + Excerpt(sql) + "]"};
  }
  for (size_t n = 1; n <= params.size(); ++n) {
    const std::string name = "$" + std::to_string(n);
    const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
    if (index == 0) {
      // The counts match, so some other placeholder took this slot: '?', ':x' or a $N too large.
      for (int i = 1; i <= count; ++i) {
        const char* other = sqlite3_bind_parameter_name(stmt, i);
        const size_t number = PlaceholderNumber(other);
        if (number == 0 || number > params.size()) {
          return Error{ErrorCode::kInvalidArgument,
                       std::string("sqlite: placeholders must be $1..$") +
                           std::to_string(params.size()) + ", found '" + (other ? other : "?") +
                           "' [" + Excerpt(sql) + "]"};
        }
      }
      return Misuse(name + " is not used", sql);
    }
    const Value& value = params[n - 1];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(value)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      rc = sqlite3_bind_int64(stmt, index, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), nullptr /* SQLITE_STATIC */,
                               SQLITE_UTF8);
    } else if (const auto* b = std::get_if<Blob>(&value)) {
      // A zero-length blob bound from a null pointer would read back as NULL.
      rc = b->empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                      : sqlite3_bind_blob64(stmt, index, b->data(), b->size(),
                                            nullptr /* SQLITE_STATIC */);
    }
    if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  }
  return Ok();
}

Value ReadColumn(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, i);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
    }
    case SQLITE_BLOB: {
      const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, i));
      const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt, i));
      return data == nullptr ? Blob{} : Blob(data, data + size);
    }
    default:
      return std::monostate{};
  }
}

// Owns the sqlite3 handle. Declared before the statement cache in SqliteConnection so the
// statements are finalized before the connection closes.
class Handle {
 public:
  explicit Handle(sqlite3* db) : db_(db) {}
  ~Handle() { sqlite3_close_v2(db_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : handle_(db), db_(db), statements_(db) {}
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    auto stmt = statements_.Get(sql);
    if (!stmt) return std::move(stmt).error();
    ResetOnExit reset(*stmt);
    if (auto bound = Bind(db_, *stmt, params, sql); !bound) return std::move(bound).error();

    const int column_count = sqlite3_column_count(*stmt);
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(static_cast<size_t>(column_count));
    for (int i = 0; i < column_count; ++i) {
      const char* name = sqlite3_column_name(*stmt, i);
      names->emplace_back(name != nullptr ? name : "");
    }
    Rows result;
    result.columns = *names;
    std::shared_ptr<const std::vector<std::string>> shared_names = std::move(names);
    while (true) {
      const int rc = sqlite3_step(*stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return SqliteError(db_, rc, sql);
      std::vector<Value> values;
      values.reserve(static_cast<size_t>(column_count));
      for (int i = 0; i < column_count; ++i) values.push_back(ReadColumn(*stmt, i));
      result.rows.emplace_back(shared_names, std::move(values));
    }
    return result;
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    auto stmt = statements_.Get(sql);
    if (!stmt) return std::move(stmt).error();
    ResetOnExit reset(*stmt);
    if (auto bound = Bind(db_, *stmt, params, sql); !bound) return std::move(bound).error();
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) rc = sqlite3_step(*stmt);  // RETURNING rows are drained and dropped
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, sql);
    // sqlite3_changes64 reports the last writing statement; a SELECT changed nothing.
    return sqlite3_stmt_readonly(*stmt) != 0 ? int64_t{0}
                                             : static_cast<int64_t>(sqlite3_changes64(db_));
  }

  Result<void> ExecuteScript(std::string_view sql) override {
    const std::string text(sql);  // sqlite3_exec needs a terminated string
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return Ok();
    std::string reason = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return Error{CodeFor(sqlite3_extended_errcode(db_)),
                 "sqlite: " + reason + " [" + Excerpt(sql) + "]"};
  }

  Result<void> Begin(bool write) override {
    return Simple(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  }
  Result<void> Commit() override { return Simple("COMMIT"); }
  Result<void> Rollback() override { return Simple("ROLLBACK"); }

  // Run after every job: a job that began a transaction and returned without ending it would
  // otherwise make every later job on this connection part of it.
  void RollbackIfOpen() {
    if (sqlite3_get_autocommit(db_) == 0) (void)Simple("ROLLBACK");
  }

 private:
  Result<void> Simple(std::string_view sql) {
    auto changed = Execute(sql, {});
    if (!changed) return std::move(changed).error();
    return Ok();
  }

  Handle handle_;
  sqlite3* db_;  // handle_.get(), for brevity
  StatementCache statements_;
};

Result<std::unique_ptr<SqliteConnection>> OpenConnection(const SqliteOptions& options,
                                                         bool writer) {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used by one storage thread at a time, so SQLite's per-connection
  // mutex would be pure overhead.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error{ErrorCode::kUnavailable,
                "sqlite: cannot open '" + options.path +
                    "': " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
    sqlite3_close_v2(db);
    return error;
  }
  auto connection = std::make_unique<SqliteConnection>(db);
  sqlite3_extended_result_codes(db, 1);
  const auto busy_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.busy_timeout).count();
  sqlite3_busy_timeout(db, static_cast<int>(std::clamp<int64_t>(busy_ms, 0, INT_MAX)));

  if (writer) {
    auto mode = connection->Query("PRAGMA journal_mode=WAL", {});
    if (!mode) return std::move(mode).error();
    if (mode->empty() || mode->rows[0].At(0) != Value(std::string("wal"))) {
      return Error{ErrorCode::kFailedPrecondition,
                   "sqlite: cannot enable WAL on '" + options.path + "'"};
    }
    auto pragmas = connection->ExecuteScript(
        options.synchronous_full ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                 : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    if (!pragmas) return std::move(pragmas).error();
  } else {
    // query_only makes an accidental write through Read() fail loudly instead of racing the writer.
    auto pragmas = connection->ExecuteScript("PRAGMA foreign_keys=ON; PRAGMA query_only=ON;");
    if (!pragmas) return std::move(pragmas).error();
  }
  return connection;
}

using Job = std::function<void(Connection&)>;

// A blocking job queue: producers Push from any thread, storage threads Pop. After Close, Pop
// still hands out what was queued, then returns nothing: queued work always finishes.
class JobQueue {
 public:
  void Push(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) throw std::logic_error("storage used after the database was closed");
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

  std::optional<Job> Pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return closed_ || !jobs_.empty(); });
    if (jobs_.empty()) return std::nullopt;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    return job;
  }

  void Close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  bool closed_ = false;
};

class SqliteDatabase;
// Which database's storage thread this is, to refuse blocking calls that would wait for themselves.
thread_local const SqliteDatabase* t_serving = nullptr;

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::unique_ptr<SqliteConnection> writer,
                 std::vector<std::unique_ptr<SqliteConnection>> readers)
      : writer_(std::move(writer)), readers_(std::move(readers)) {
    threads_.emplace_back([this] { Serve(writer_queue_, *writer_); });
    for (auto& reader : readers_) {
      threads_.emplace_back(
          [this, connection = reader.get()] { Serve(reader_queue_, *connection); });
    }
  }

  ~SqliteDatabase() override {
    writer_queue_.Close();
    reader_queue_.Close();
    for (auto& thread : threads_) thread.join();
  }

  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  Result<void> Ping() override {
    return ReadBlocking([](Connection& c) -> Result<void> {
      auto rows = c.Query("SELECT 1");
      if (!rows) return std::move(rows).error();
      return Ok();
    });
  }

  std::string_view Backend() const override { return "sqlite"; }

 protected:
  Task<void> Dispatch(bool write, std::function<void(Connection&)> work) override {
    namespace asio = boost::asio;
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    std::exception_ptr failure;
    // The initiation queues a job that owns the coroutine's completion handler. The job runs the
    // work on a storage thread, then posts the handler to the coroutine's executor, so the
    // coroutine resumes where it was (its io_context thread or strand), never on a storage thread.
    // `work` and `failure` live in this coroutine's frame, which stays alive until the handler
    // runs. The initiation is named, not written inline in the co_await: it owns a copy of the
    // executor, and GCC 12 destroys such temporaries of a co_await expression twice.
    auto initiation = [this, write, &work, &failure, executor](auto handler) {
      // Tracked: the io_context's run() must not return while the work is away on our thread.
      auto tracked = asio::prefer(executor, asio::execution::outstanding_work.tracked);
      auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
      QueueFor(write).Push([shared_handler, tracked, &work, &failure](Connection& connection) {
        try {
          work(connection);
        } catch (...) {
          failure = std::current_exception();
        }
        asio::post(tracked, std::move(*shared_handler));
      });
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(std::move(initiation),
                                                                          asio::use_awaitable);
    if (failure) std::rethrow_exception(failure);
  }

  void DispatchBlocking(bool write, std::function<void(Connection&)> work) override {
    if (t_serving == this) {
      throw std::logic_error(
          "blocking storage call from inside storage work would wait for itself");
    }
    std::promise<void> done;
    auto finished = done.get_future();
    QueueFor(write).Push([&work, &done](Connection& connection) {
      try {
        work(connection);
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    finished.get();
  }

 private:
  JobQueue& QueueFor(bool write) {
    return write || readers_.empty() ? writer_queue_ : reader_queue_;
  }

  void Serve(JobQueue& queue, SqliteConnection& connection) {
    t_serving = this;
    while (auto job = queue.Pop()) {
      (*job)(connection);  // never throws: Dispatch and DispatchBlocking catch around the work
      job.reset();         // release the job's captures (executor work guard) before waiting again
      connection.RollbackIfOpen();
    }
  }

  std::unique_ptr<SqliteConnection> writer_;
  std::vector<std::unique_ptr<SqliteConnection>> readers_;
  JobQueue writer_queue_;
  JobQueue reader_queue_;  // shared by all readers: a read goes to whichever is free
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const SqliteOptions& options) {
  if (options.path.empty())
    return Error{ErrorCode::kInvalidArgument, "sqlite: empty database path", "path"};
  if (options.path == ":memory:" || options.path.rfind("file:", 0) == 0) {
    return Error{ErrorCode::kInvalidArgument,
                 "sqlite: in-memory and URI databases are not supported; use a file path", "path"};
  }
  if (options.readers < 0)
    return Error{ErrorCode::kInvalidArgument, "sqlite: readers must be >= 0", "readers"};
  if (sqlite3_threadsafe() == 0)
    return Error{ErrorCode::kInternal, "sqlite: library built without threads"};

  // The writer first: it creates the file and switches it to WAL before any reader opens it.
  auto writer = OpenConnection(options, true);
  if (!writer) return std::move(writer).error();
  std::vector<std::unique_ptr<SqliteConnection>> readers;
  for (int i = 0; i < options.readers; ++i) {
    auto reader = OpenConnection(options, false);
    if (!reader) return std::move(reader).error();
    readers.push_back(std::move(*reader));
  }
  return std::unique_ptr<Database>(
      std::make_unique<SqliteDatabase>(std::move(*writer), std::move(readers)));
}

}  // namespace mercato::storage
