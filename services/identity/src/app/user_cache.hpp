// A bounded in-memory cache of read-model rows (cache-aside with write-through): GET /users/me
// and GET /users/{id} answer from memory instead of a storage-thread round trip, and every
// committed write puts the new state in. A row only ever replaces an older version of itself, so
// a slow reader that loaded version 3 cannot overwrite the version 4 a writer just put.
// identity is the only writer of its users, which is what makes write-through exact.
//
//   if (auto hit = cache.Get(id)) return *hit;
//   auto row = co_await LoadFromDb(id);  cache.Put(row);
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
  // Keeps `user` unless a newer version is already cached.
  void Put(const UserView& user);
  std::size_t size() const;
  std::uint64_t hits() const;
  std::uint64_t misses() const;

 private:
  using Lru = std::list<UserView>;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  Lru lru_;  // most recent first
  std::unordered_map<std::string, Lru::iterator> index_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace mercato::identity::app
