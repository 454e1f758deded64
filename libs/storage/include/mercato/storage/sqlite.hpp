// The SQLite backend of Database: one file in WAL mode, one writer thread with its own
// connection (writes are serialised, so they never fight over SQLite's write lock) and a few
// reader threads with their own read-only connections (WAL lets them read while the writer writes).
//
//   auto db = OpenSqlite({.path = data_dir + "/orders.db", .synchronous_full = true});
//   if (!db) return db.error();
//   co_await (*db)->Transact([&](Connection& c) -> Result<void> { ... });
#pragma once

#include <memory>
#include <string>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::storage {

struct SqliteOptions {
  // A file path; created when missing. ":memory:" is refused: every connection would see its
  // own empty database. Tests use files in a temporary directory.
  std::string path;
  // Reader threads (each with its own connection). 0 sends reads to the writer.
  int readers = 2;
  // How long a statement waits for a lock held by another process before failing as unavailable.
  Duration busy_timeout = std::chrono::seconds(5);
  // synchronous=NORMAL in WAL (the default) can lose the last commits on power loss, not on a
  // process crash; services that move money set FULL.
  bool synchronous_full = false;
};

// Opens (creates) the file: WAL, foreign_keys=ON, busy_timeout, `readers` reader threads and one
// writer thread. Prepared statements are cached per connection (LRU of 64 by SQL text).
// Each storage thread takes jobs from a mutex + condition-variable queue: the writer has its own,
// the readers share one, so a read runs on whichever reader is free. The destructor finishes the
// queued work, then joins the threads.
Result<std::unique_ptr<Database>> OpenSqlite(const SqliteOptions& options);

}  // namespace mercato::storage
