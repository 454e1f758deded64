// Cache-aside for GET /products/{id}: the serialised product document and its ETag, so a hit
// answers without a database round trip or a serialisation. ProductCache is the port (a Redis
// implementation fits it: BeginRead = read the key's generation, PutRead = a Lua SET that checks
// it, Invalidate = INCR the generation + DEL); LruProductCache is the in-process one: bounded
// LRU, entries expire after a TTL, counters for /metrics.
//
// Never a stale price after a write was acknowledged: writers Invalidate(id) after their commit
// and before answering; a reader takes a stamp before its database read and PutRead drops the
// row if an invalidation of that id came in between (the row may predate the write).
//
//   if (auto hit = cache.Get(id)) return *hit;
//   auto stamp = cache.BeginRead(id);  auto row = co_await Load(id);  cache.PutRead(id, doc,
//   stamp);
//   ... a write commits ...  cache.Invalidate(id);
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "mercato/core/clock.hpp"

namespace mercato::catalog::app {

struct CachedProduct {
  std::string json;  // the document GET /products/{id} answers, byte for byte
  std::string etag;  // its ETag header value, quotes included
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;    // dropped to stay within capacity (least recently used first)
  std::uint64_t expirations = 0;  // found past their TTL and dropped
  std::uint64_t invalidations = 0;
  std::uint64_t entries = 0;
};

class ProductCache {
 public:
  using Stamp = std::uint64_t;
  virtual ~ProductCache() = default;

  virtual std::optional<CachedProduct> Get(const std::string& id) = 0;
  // Take before reading the product from the database; hand it to PutRead afterwards.
  virtual Stamp BeginRead(const std::string& id) = 0;
  // Caches a document read from the database, unless `id` was invalidated since `stamp`.
  virtual void PutRead(const std::string& id, CachedProduct product, Stamp stamp) = 0;
  // Drops the entry; call after every committed write of the product, before answering.
  virtual void Invalidate(const std::string& id) = 0;
  virtual CacheStats Stats() const = 0;
};

class LruProductCache final : public ProductCache {
 public:
  struct Options {
    std::size_t capacity = 10000;             // entries; 0 turns the cache off (every Get misses)
    Duration ttl = std::chrono::seconds(60);  // zero: entries never expire
  };
  explicit LruProductCache(Options options, const Clock& clock = Clock::Real());

  std::optional<CachedProduct> Get(const std::string& id) override;
  Stamp BeginRead(const std::string& id) override;
  void PutRead(const std::string& id, CachedProduct product, Stamp stamp) override;
  void Invalidate(const std::string& id) override;
  CacheStats Stats() const override;

 private:
  struct Entry {
    std::string id;
    CachedProduct product;
    SteadyTime expires_at;
  };
  using Lru = std::list<Entry>;
  // Invalidation generations live in a fixed number of stripes (by hash of the id): memory stays
  // bounded however many ids are written, and a write to one product only rarely (a shared
  // stripe) keeps another product's concurrent read from being cached, never more.
  static constexpr std::size_t kStripes = 1024;
  std::size_t StripeOf(const std::string& id) const {
    return std::hash<std::string>{}(id) % kStripes;
  }
  void EraseLocked(const std::string& id);

  const Options options_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  Lru lru_;  // most recently used first
  std::unordered_map<std::string, Lru::iterator> index_;
  std::array<std::uint64_t, kStripes> generations_{};
  CacheStats stats_;
};

}  // namespace mercato::catalog::app
