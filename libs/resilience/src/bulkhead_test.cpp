#include "mercato/resilience/bulkhead.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace mercato::resilience {
namespace {

TEST(Bulkhead, AdmitsUpToTheCapAndRejectsBeyond) {
  Bulkhead bulkhead("payments", 2);

  auto first = bulkhead.TryAcquire();
  auto second = bulkhead.TryAcquire();
  auto third = bulkhead.TryAcquire();

  EXPECT_TRUE(first);
  EXPECT_TRUE(second);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(bulkhead.in_flight(), 2);
  EXPECT_EQ(bulkhead.rejected(), 1u);
}

TEST(Bulkhead, RejectionNamesTheBulkheadAndItsCap) {
  Bulkhead bulkhead("payments", 1);
  auto held = bulkhead.TryAcquire();

  auto rejected = bulkhead.TryAcquire();

  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().message, "bulkhead payments full (1 in flight)");
}

TEST(Bulkhead, PermitIsReleasedOnDestruction) {
  Bulkhead bulkhead("payments", 1);
  {
    auto permit = bulkhead.TryAcquire();
    ASSERT_TRUE(permit);
    EXPECT_EQ(bulkhead.in_flight(), 1);
  }

  EXPECT_EQ(bulkhead.in_flight(), 0);
  EXPECT_TRUE(bulkhead.TryAcquire());
}

TEST(Bulkhead, ExplicitReleaseIsIdempotent) {
  Bulkhead bulkhead("payments", 2);
  auto permit = bulkhead.TryAcquire();
  auto other = bulkhead.TryAcquire();
  ASSERT_TRUE(permit);

  permit->Release();
  permit->Release();

  EXPECT_EQ(bulkhead.in_flight(), 1);
}

TEST(Bulkhead, MoveAssignReleasesTheOverwrittenPermit) {
  Bulkhead bulkhead("payments", 2);
  auto a = bulkhead.TryAcquire();
  auto b = bulkhead.TryAcquire();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);

  *a = std::move(*b);

  EXPECT_EQ(bulkhead.in_flight(), 1);
}

TEST(Bulkhead, MoveConstructTransfersWithoutDoubleRelease) {
  Bulkhead bulkhead("payments", 2);
  auto a = bulkhead.TryAcquire();
  ASSERT_TRUE(a);
  {
    Bulkhead::Permit moved(std::move(*a));
    EXPECT_EQ(bulkhead.in_flight(), 1);
  }

  EXPECT_EQ(bulkhead.in_flight(), 0);
}

TEST(Bulkhead, SelfMoveAssignKeepsThePermit) {
  Bulkhead bulkhead("payments", 1);
  auto a = bulkhead.TryAcquire();
  ASSERT_TRUE(a);
  Bulkhead::Permit& alias = *a;

  *a = std::move(alias);

  EXPECT_EQ(bulkhead.in_flight(), 1);
}

TEST(Bulkhead, RejectsANonPositiveCapAtConstruction) {
  EXPECT_THROW(Bulkhead("payments", 0), std::invalid_argument);
}

TEST(Bulkhead, NeverExceedsTheCapUnderContention) {
  constexpr int kMax = 3;
  constexpr int kThreads = 8;
  constexpr int kIterations = 20'000;
  Bulkhead bulkhead("payments", kMax);
  std::atomic<int> max_observed{0};  // the bulkhead's own count, as readers see it
  std::atomic<int> holders{0};       // permits actually held at once, counted independently
  std::atomic<int> max_holders{0};
  std::atomic<int> admitted{0};
  auto raise = [](std::atomic<int>& max, int seen) {
    int prev = max.load();
    while (seen > prev && !max.compare_exchange_weak(prev, seen)) {
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, raise] {
      for (int i = 0; i < kIterations; ++i) {
        auto permit = bulkhead.TryAcquire();
        if (!permit) continue;
        admitted.fetch_add(1);
        raise(max_holders, holders.fetch_add(1) + 1);
        raise(max_observed, bulkhead.in_flight());
        std::this_thread::yield();  // hold the permit a moment so holders overlap
        holders.fetch_sub(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_LE(max_observed.load(), kMax);
  EXPECT_LE(max_holders.load(), kMax);
  EXPECT_EQ(max_holders.load(), kMax);  // the cap was actually reached, so the test had teeth
  EXPECT_GT(admitted.load(), 0);
  EXPECT_EQ(bulkhead.in_flight(), 0);
  EXPECT_EQ(static_cast<uint64_t>(admitted.load()) + bulkhead.rejected(),
            static_cast<uint64_t>(kThreads) * kIterations);
}

}  // namespace
}  // namespace mercato::resilience
