#include "app/product_cache.hpp"

namespace mercato::catalog::app {

LruProductCache::LruProductCache(Options options, const Clock& clock)
    : options_(options), clock_(clock) {}

std::optional<CachedProduct> LruProductCache::Get(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  if (options_.ttl > Duration::zero() && clock_.Now() >= it->second->expires_at) {
    EraseLocked(id);
    ++stats_.expirations;
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->product;
}

ProductCache::Stamp LruProductCache::BeginRead(const std::string& id) {
  std::lock_guard lock(mutex_);
  return generations_[StripeOf(id)];
}

void LruProductCache::PutRead(const std::string& id, CachedProduct product, Stamp stamp) {
  if (options_.capacity == 0) return;
  std::lock_guard lock(mutex_);
  if (generations_[StripeOf(id)] != stamp) return;  // written since the read began: maybe stale
  const SteadyTime expires_at = clock_.Now() + options_.ttl;
  if (auto it = index_.find(id); it != index_.end()) {
    it->second->product = std::move(product);
    it->second->expires_at = expires_at;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{id, std::move(product), expires_at});
  index_[id] = lru_.begin();
  while (lru_.size() > options_.capacity) {
    index_.erase(lru_.back().id);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void LruProductCache::Invalidate(const std::string& id) {
  std::lock_guard lock(mutex_);
  ++generations_[StripeOf(id)];
  ++stats_.invalidations;
  EraseLocked(id);
}

CacheStats LruProductCache::Stats() const {
  std::lock_guard lock(mutex_);
  CacheStats stats = stats_;
  stats.entries = lru_.size();
  return stats;
}

void LruProductCache::EraseLocked(const std::string& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

}  // namespace mercato::catalog::app
