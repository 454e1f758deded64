#include "app/user_cache.hpp"

namespace mercato::identity::app {

std::optional<UserView> UserCache::Get(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return *it->second;
}

std::uint64_t UserCache::WriteStamp() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

void UserCache::PutWritten(const UserView& user) {
  std::lock_guard lock(mutex_);
  ++writes_;
  PutLocked(user);
}

void UserCache::PutRead(const UserView& user, std::uint64_t stamp) {
  std::lock_guard lock(mutex_);
  if (writes_ != stamp) return;
  PutLocked(user);
}

void UserCache::PutLocked(const UserView& user) {
  if (capacity_ == 0) return;
  if (auto it = index_.find(user.id); it != index_.end()) {
    if (it->second->version >= user.version) return;
    *it->second = user;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(user);
  index_[user.id] = lru_.begin();
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().id);
    lru_.pop_back();
  }
}

std::size_t UserCache::size() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

std::uint64_t UserCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

std::uint64_t UserCache::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace mercato::identity::app
