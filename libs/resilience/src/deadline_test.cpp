#include "mercato/resilience/deadline.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace mercato::resilience {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Deadline, AfterExpiresOnceTheDurationHasPassed) {
  FakeClock clock;
  const auto deadline = Deadline::After(seconds(2), clock);

  clock.Advance(milliseconds(1999));
  EXPECT_FALSE(deadline.Expired(clock));
  EXPECT_EQ(deadline.Remaining(clock), milliseconds(1));

  clock.Advance(milliseconds(1));
  EXPECT_TRUE(deadline.Expired(clock));
  EXPECT_EQ(deadline.Remaining(clock), Duration::zero());
}

TEST(Deadline, RemainingIsZeroNotNegativeAfterExpiry) {
  FakeClock clock;
  const auto deadline = Deadline::After(seconds(1), clock);

  clock.Advance(seconds(10));

  EXPECT_EQ(deadline.Remaining(clock), Duration::zero());
}

TEST(Deadline, InfiniteNeverExpiresAndHasMaxRemaining) {
  FakeClock clock;
  const auto deadline = Deadline::Infinite();

  clock.Advance(hours(24 * 365));

  EXPECT_TRUE(deadline.IsInfinite());
  EXPECT_FALSE(deadline.Expired(clock));
  EXPECT_EQ(deadline.Remaining(clock), Duration::max());
  EXPECT_EQ(deadline.ToHeader(clock), "");
}

TEST(Deadline, AfterWithHugeDurationSaturatesToInfinite) {
  FakeClock clock;

  const auto deadline = Deadline::After(Duration::max(), clock);

  EXPECT_TRUE(deadline.IsInfinite());
  EXPECT_FALSE(deadline.Expired(clock));
}

TEST(Deadline, ShrinkUsesTheTimeoutWhenItIsShorter) {
  FakeClock clock;
  const auto parent = Deadline::After(seconds(5), clock);

  const auto child = parent.Shrink(seconds(2), clock);

  EXPECT_EQ(child.Remaining(clock), seconds(2));
}

TEST(Deadline, ShrinkNeverExtendsTheParent) {
  FakeClock clock;
  const auto parent = Deadline::After(seconds(1), clock);

  const auto child = parent.Shrink(seconds(30), clock);

  EXPECT_LE(child.at(), parent.at());
  EXPECT_EQ(child.Remaining(clock), seconds(1));
}

TEST(Deadline, ShrinkOfInfiniteIsTheTimeout) {
  FakeClock clock;

  const auto child = Deadline::Infinite().Shrink(seconds(3), clock);

  EXPECT_FALSE(child.IsInfinite());
  EXPECT_EQ(child.Remaining(clock), seconds(3));
}

TEST(Deadline, MinWithNulloptKeepsThis) {
  FakeClock clock;
  const auto deadline = Deadline::After(seconds(1), clock);

  const auto result = deadline.Min(std::optional<Deadline>{});

  EXPECT_EQ(result.at(), deadline.at());
}

TEST(Deadline, HeaderRoundTripsTheTimeLeft) {
  FakeClock clock;
  const auto deadline = Deadline::After(milliseconds(1500), clock);
  clock.Advance(milliseconds(250));

  const std::string header = deadline.ToHeader(clock);
  const auto parsed = Deadline::FromHeader(header, clock);

  EXPECT_EQ(header, "1250");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at(), deadline.at());
}

TEST(Deadline, ToHeaderRoundsDownToWholeMilliseconds) {
  FakeClock clock;
  const auto deadline = Deadline::After(std::chrono::microseconds(2999), clock);

  EXPECT_EQ(deadline.ToHeader(clock), "2");
}

TEST(Deadline, ToHeaderIsZeroWhenExpired) {
  FakeClock clock;
  const auto deadline = Deadline::After(milliseconds(5), clock);

  clock.Advance(seconds(1));

  EXPECT_EQ(deadline.ToHeader(clock), "0");
}

TEST(Deadline, FromHeaderRejectsGarbage) {
  FakeClock clock;
  for (const char* value : {"", " ", "abc", "12abc", "1.5", "+5", "0x10", "--5", "5 5", "-"}) {
    EXPECT_FALSE(Deadline::FromHeader(value, clock).has_value()) << "value: '" << value << "'";
  }
}

TEST(Deadline, FromHeaderRejectsOverflow) {
  FakeClock clock;

  EXPECT_FALSE(Deadline::FromHeader("99999999999999999999999", clock).has_value());
  EXPECT_FALSE(Deadline::FromHeader("-99999999999999999999999", clock).has_value());
}

TEST(Deadline, FromHeaderToleratesSurroundingWhitespace) {
  FakeClock clock;

  const auto parsed = Deadline::FromHeader(" 250\t", clock);

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->Remaining(clock), milliseconds(250));
}

TEST(Deadline, FromHeaderNegativeOrZeroIsAlreadyExpired) {
  FakeClock clock;

  const auto negative = Deadline::FromHeader("-250", clock);
  const auto zero = Deadline::FromHeader("0", clock);

  ASSERT_TRUE(negative.has_value());
  ASSERT_TRUE(zero.has_value());
  EXPECT_TRUE(negative->Expired(clock));
  EXPECT_TRUE(zero->Expired(clock));
}

TEST(Deadline, FromHeaderCapsAbsurdBudgetsAtOneDay) {
  FakeClock clock;

  const auto parsed = Deadline::FromHeader("9000000000000", clock);  // ~285 years

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->Remaining(clock), hours(24));
}

}  // namespace
}  // namespace mercato::resilience
