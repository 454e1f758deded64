// A bounded in-memory cache of read-model rows (cache-aside with write-through): GET /users/me
// and GET /users/{id} answer from memory instead of a storage-thread round trip, and every
// committed write puts the new state in. identity is the only writer of its users, which is
// what makes write-through exact. Two rules keep a slow reader from caching a stale row: a row
// never replaces a newer version of itself, and a row read from the database is only cached if
// no write was committed since the read began (the newer version may have been evicted already).
//
//   if (auto hit = cache.Get(id)) return *hit;
//   auto stamp = cache.WriteStamp();  auto row = co_await LoadFromDb(id);  cache.PutRead(row,
//   stamp);
//   ... after a committed write:  cache.PutWritten(new_row);
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "app/user_repository.hpp"

namespace mercato::identity::app {

class UserCache {
 public:
  explicit UserCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<UserView> Get(const std::string& id);
  // Counts committed writes; take it before a database read that PutRead will cache.
  std::uint64_t WriteStamp() const;
  // A row just committed by a write (advances the stamp).
  void PutWritten(const UserView& user);
  // A row read from the database: cached only if no write committed since `stamp`.
  void PutRead(const UserView& user, std::uint64_t stamp);
  std::size_t size() const;
  std::uint64_t hits() const;
  std::uint64_t misses() const;

 private:
  using Lru = std::list<UserView>;
  void PutLocked(const UserView& user);  // requires mutex_; keeps a newer cached version
  std::size_t capacity_;
  mutable std::mutex mutex_;
  Lru lru_;  // most recent first
  std::unordered_map<std::string, Lru::iterator> index_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace mercato::identity::app
