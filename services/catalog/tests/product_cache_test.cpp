// The in-process product cache: LRU eviction within capacity, TTL expiry on a fake clock, the
// stale-read guard (a read that began before a write is never cached after it), and counters.
#include "app/product_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mercato::catalog::app {
namespace {

using namespace std::chrono_literals;

CachedProduct Doc(const std::string& text, int version = 1) {
  return CachedProduct{"{\"name\":\"" + text + "\"}", "\"" + std::to_string(version) + "\""};
}

// Fills the cache the way the handler does: stamp, (database read), put.
void Load(ProductCache& cache, const std::string& id, const CachedProduct& doc) {
  const auto stamp = cache.BeginRead(id);
  cache.PutRead(id, doc, stamp);
}

TEST(LruProductCache, AMissThenAHitServesTheSameBytes) {
  FakeClock clock;
  LruProductCache cache({.capacity = 10, .ttl = 60s}, clock);
  EXPECT_FALSE(cache.Get("p1"));
  Load(cache, "p1", Doc("shoe", 3));
  auto hit = cache.Get("p1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->json, "{\"name\":\"shoe\"}");
  EXPECT_EQ(hit->etag, "\"3\"");
  const auto stats = cache.Stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.entries, 1u);
}

TEST(LruProductCache, TheLeastRecentlyUsedEntryIsEvictedFirst) {
  FakeClock clock;
  LruProductCache cache({.capacity = 3, .ttl = 60s}, clock);
  Load(cache, "a", Doc("a"));
  Load(cache, "b", Doc("b"));
  Load(cache, "c", Doc("c"));
  ASSERT_TRUE(cache.Get("a"));  // a is now the most recent; b the least
  Load(cache, "d", Doc("d"));
  EXPECT_FALSE(cache.Get("b"));
  EXPECT_TRUE(cache.Get("a"));
  EXPECT_TRUE(cache.Get("c"));
  EXPECT_TRUE(cache.Get("d"));
  EXPECT_EQ(cache.Stats().evictions, 1u);
  EXPECT_EQ(cache.Stats().entries, 3u);
}

TEST(LruProductCache, EntriesExpireAfterTheTtl) {
  FakeClock clock;
  LruProductCache cache({.capacity = 10, .ttl = 30s}, clock);
  Load(cache, "p1", Doc("shoe"));
  clock.Advance(29s);
  EXPECT_TRUE(cache.Get("p1"));
  clock.Advance(1s);
  EXPECT_FALSE(cache.Get("p1"));
  EXPECT_EQ(cache.Stats().expirations, 1u);
  EXPECT_EQ(cache.Stats().entries, 0u);
}

TEST(LruProductCache, AZeroTtlNeverExpires) {
  FakeClock clock;
  LruProductCache cache({.capacity = 10, .ttl = Duration::zero()}, clock);
  Load(cache, "p1", Doc("shoe"));
  clock.Advance(24h * 365);
  EXPECT_TRUE(cache.Get("p1"));
}

TEST(LruProductCache, ReloadingAfterExpiryRestartsTheTtl) {
  FakeClock clock;
  LruProductCache cache({.capacity = 10, .ttl = 10s}, clock);
  Load(cache, "p1", Doc("old", 1));
  clock.Advance(11s);
  EXPECT_FALSE(cache.Get("p1"));
  Load(cache, "p1", Doc("new", 2));
  clock.Advance(9s);
  auto hit = cache.Get("p1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->etag, "\"2\"");
}

TEST(LruProductCache, InvalidateDropsTheEntry) {
  FakeClock clock;
  LruProductCache cache({.capacity = 10, .ttl = 60s}, clock);
  Load(cache, "p1", Doc("shoe"));
  cache.Invalidate("p1");
  EXPECT_FALSE(cache.Get("p1"));
  EXPECT_EQ(cache.Stats().invalidations, 1u);
}

// The race the guard exists for: a reader loads version 1 from the database, a writer commits
// version 2 and invalidates, then the slow reader tries to cache version 1.
TEST(LruProductCache, AReadThatBeganBeforeAWriteIsNotCachedAfterIt) {
  FakeClock clock;
  LruProductCache cache({.capacity = 10, .ttl = 60s}, clock);
  const auto stamp = cache.BeginRead("p1");  // the reader starts; it will read version 1
  cache.Invalidate("p1");                    // the writer commits version 2
  cache.PutRead("p1", Doc("stale", 1), stamp);
  EXPECT_FALSE(cache.Get("p1")) << "the stale version was cached after the write";

  // A read that starts after the write is cached as usual.
  Load(cache, "p1", Doc("fresh", 2));
  auto hit = cache.Get("p1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->etag, "\"2\"");
}

TEST(LruProductCache, AnInvalidationOfOneProductDoesNotBlockMostOthers) {
  FakeClock clock;
  LruProductCache cache({.capacity = 100, .ttl = 60s}, clock);
  std::vector<std::pair<std::string, ProductCache::Stamp>> reads;
  for (int i = 0; i < 20; ++i) {
    std::string id = "p" + std::to_string(i);
    reads.emplace_back(id, cache.BeginRead(id));
  }
  cache.Invalidate("p0");
  int cached = 0;
  for (const auto& [id, stamp] : reads) {
    cache.PutRead(id, Doc(id), stamp);
    if (cache.Get(id)) ++cached;
  }
  EXPECT_FALSE(cache.Get("p0"));
  EXPECT_GE(cached, 18) << "striped generations: a write only blocks ids in its own stripe";
}

TEST(LruProductCache, ACapacityOfZeroCachesNothing) {
  FakeClock clock;
  LruProductCache cache({.capacity = 0, .ttl = 60s}, clock);
  Load(cache, "p1", Doc("shoe"));
  EXPECT_FALSE(cache.Get("p1"));
  EXPECT_EQ(cache.Stats().entries, 0u);
}

TEST(LruProductCache, ConcurrentUseStaysWithinCapacity) {
  LruProductCache cache({.capacity = 50, .ttl = 60s});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string id = "p" + std::to_string((i * 7 + t) % 200);
        if (!cache.Get(id)) Load(cache, id, Doc(id));
        if (i % 50 == 0) cache.Invalidate(id);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto stats = cache.Stats();
  EXPECT_LE(stats.entries, 50u);
  EXPECT_EQ(stats.hits + stats.misses, 8000u);
}

}  // namespace
}  // namespace mercato::catalog::app
