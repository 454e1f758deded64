#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/hex.hpp"
#include "mercato/core/id.hpp"
#include "mercato/core/money.hpp"
#include "mercato/core/random.hpp"
#include "mercato/core/result.hpp"

namespace mercato {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Error{ErrorCode::kInvalidArgument, "must be positive", "v"};
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto ok = ParsePositive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  auto bad = ParsePositive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "v");
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(Result, VoidResult) {
  Result<void> ok = Ok();
  EXPECT_TRUE(ok);
  Result<void> bad = Error{ErrorCode::kNotFound, "x"};
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
}

TEST(ErrorCode, HasStableWireNames) {
  EXPECT_EQ(ToString(ErrorCode::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(ToString(ErrorCode::kResourceExhausted), "resource_exhausted");
  EXPECT_EQ(ToString(ErrorCode::kDeadlineExceeded), "deadline_exceeded");
}

TEST(Hex, EncodesLowerCaseTwoDigitsPerByte) {
  const uint8_t bytes[] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xff};

  EXPECT_EQ(HexEncode(bytes), "00f067aa0bff");
  EXPECT_EQ(HexEncode(bytes, 0), "");
  std::string out = "id=";
  AppendHex(out, {bytes + 3, 2});
  EXPECT_EQ(out, "id=aa0b");
}

TEST(Id, IsUuidV7AndSortsByCreation) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back(NewId());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(IsUuid(ids[i])) << ids[i];
    EXPECT_EQ(ids[i][14], '7') << "version nibble";
    EXPECT_TRUE(ids[i][19] == '8' || ids[i][19] == '9' || ids[i][19] == 'a' || ids[i][19] == 'b');
    if (i > 0) {
      EXPECT_LT(ids[i - 1], ids[i]);
    }
  }
}

TEST(Id, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& bucket : per_thread) {
    threads.emplace_back([&bucket] {
      for (int i = 0; i < 10000; ++i) bucket.push_back(NewId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& bucket : per_thread) all.insert(bucket.begin(), bucket.end());
  EXPECT_EQ(all.size(), 40000u);
}

TEST(Id, TimestampComesFromTheClock) {
  FakeClock clock;
  // Ids are monotonic per process, so the fake time must lie beyond every id minted so far.
  WallTime future;
  ASSERT_TRUE(ParseRfc3339("2099-01-01T00:00:00Z", future));
  clock.SetWall(future);
  auto a = NewId(clock);
  EXPECT_EQ(a.substr(0, 8), "03b3d512") << "48-bit unix-ms prefix of 2099-01-01";
  clock.Advance(std::chrono::hours(24));
  auto b = NewId(clock);
  EXPECT_LT(a.substr(0, 13), b.substr(0, 13));
}

TEST(Id, RejectsMalformed) {
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("01936a4e-7c1f-7a3b-9d2e-5f0a1b2c3d4g"));
  EXPECT_FALSE(IsUuid("01936a4e7c1f-7a3b-9d2e-5f0a1b2c3d4e0"));
}

TEST(SequentialIds, AreDeterministic) {
  SequentialIds ids("ord");
  EXPECT_EQ(ids.Next(), "ord-000001");
  EXPECT_EQ(ids.Next(), "ord-000002");
}

TEST(Money, FormatsByCurrencyMinorUnit) {
  EXPECT_EQ(Money::Of(1999, "USD")->ToString(), "19.99 USD");
  EXPECT_EQ(Money::Of(-50, "EUR")->ToString(), "-0.50 EUR");
  EXPECT_EQ(Money::Of(500, "JPY")->ToString(), "500 JPY");
  EXPECT_EQ(Money::Of(1234, "KWD")->ToString(), "1.234 KWD");
  EXPECT_EQ(Money::Of(INT64_MIN, "USD")->ToString(), "-92233720368547758.08 USD");
}

TEST(Money, RejectsBadCurrencyAndMixedArithmetic) {
  EXPECT_EQ(Money::Of(1, "usd").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Money::Of(1, "US").error().code, ErrorCode::kInvalidArgument);
  auto usd = *Money::Of(100, "USD");
  auto eur = *Money::Of(100, "EUR");
  EXPECT_FALSE(usd.Plus(eur));
  EXPECT_EQ(usd.Plus(usd)->minor_units(), 200);
  EXPECT_EQ(usd.Minus(*Money::Of(150, "USD"))->minor_units(), -50);
}

TEST(Money, DetectsOverflow) {
  auto big = *Money::Of(INT64_MAX, "USD");
  EXPECT_FALSE(big.Plus(*Money::Of(1, "USD")));
  EXPECT_FALSE(big.Times(2));
  EXPECT_EQ(Money::Of(333, "USD")->Times(3)->minor_units(), 999);
}

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  auto t0 = clock.Now();
  auto w0 = clock.WallNow();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(clock.Now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(clock.WallNow() - w0, std::chrono::milliseconds(1500));
}

TEST(Rfc3339, RoundTripsAndAcceptsOffsets) {
  WallTime t;
  ASSERT_TRUE(ParseRfc3339("2026-11-25T19:03:17.123Z", t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-25T19:03:17.123Z");
  ASSERT_TRUE(ParseRfc3339("2026-11-25T21:03:17+02:00", t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-25T19:03:17.000Z");
  EXPECT_FALSE(ParseRfc3339("2026-11-25 19:03", t));
  EXPECT_FALSE(ParseRfc3339("2026-13-25T19:03:17Z", t));
  EXPECT_FALSE(ParseRfc3339("2026-11-25T19:03:17", t));
  // Beyond what 64-bit nanoseconds hold: refused, never wrapped to some other time.
  EXPECT_FALSE(ParseRfc3339("2300-01-01T00:00:00Z", t));
  EXPECT_FALSE(ParseRfc3339("0001-01-01T00:00:00Z", t));
  EXPECT_TRUE(ParseRfc3339("2261-12-31T00:00:00Z", t));
}

TEST(Random, BelowStaysInBounds) {
  for (int i = 0; i < 10000; ++i) {
    EXPECT_LT(RandomBelow(7), 7u);
    double u = RandomUnit();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
  EXPECT_EQ(RandomBelow(0), 0u);
}

}  // namespace
}  // namespace mercato
