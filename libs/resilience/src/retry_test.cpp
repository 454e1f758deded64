#include "mercato/resilience/retry.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace mercato::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = AttemptOutcome::Kind;

constexpr double kAlmostOne = 0.9999999999;

AttemptOutcome Outcome(Kind kind, int status = 0) {
  AttemptOutcome outcome;
  outcome.kind = kind;
  outcome.status = status;
  return outcome;
}

RetryPolicy Policy() {
  RetryPolicy policy;
  policy.max_attempts = 5;
  policy.base_delay = milliseconds(100);
  policy.max_delay = seconds(1);
  policy.multiplier = 2.0;
  return policy;
}

// --- BackoffDelay -------------------------------------------------------------------------

TEST(BackoffDelay, StaysBelowTheExponentialCapForEveryDraw) {
  const RetryPolicy policy = Policy();
  // caps: 100, 200, 400, 800, then max_delay 1000 ms
  const milliseconds caps[] = {milliseconds(100), milliseconds(200),  milliseconds(400),
                               milliseconds(800), milliseconds(1000), milliseconds(1000)};
  for (int retry = 1; retry <= 6; ++retry) {
    const Duration cap = caps[retry - 1];
    for (double unit : {0.0, 0.25, 0.5, 0.75, kAlmostOne}) {
      const Duration delay = BackoffDelay(policy, retry, unit);
      EXPECT_GE(delay, Duration::zero()) << "retry " << retry << " unit " << unit;
      EXPECT_LT(delay, cap) << "retry " << retry << " unit " << unit;
    }
  }
}

TEST(BackoffDelay, IsProportionalToTheDraw) {
  const RetryPolicy policy = Policy();

  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), Duration::zero());
  EXPECT_EQ(BackoffDelay(policy, 1, 0.5), milliseconds(50));
  EXPECT_EQ(BackoffDelay(policy, 3, 0.5), milliseconds(200));
  EXPECT_EQ(BackoffDelay(policy, 10, 0.5), milliseconds(500));  // capped at max_delay
}

TEST(BackoffDelay, NearlyOneDrawApproachesTheCap) {
  const RetryPolicy policy = Policy();

  const Duration delay = BackoffDelay(policy, 4, kAlmostOne);

  EXPECT_GT(delay, milliseconds(799));
  EXPECT_LT(delay, milliseconds(800));
}

TEST(BackoffDelay, HugeRetryNumbersDoNotOverflow) {
  const RetryPolicy policy = Policy();

  for (int retry : {64, 1000, std::numeric_limits<int>::max()}) {
    const Duration delay = BackoffDelay(policy, retry, kAlmostOne);
    EXPECT_GT(delay, milliseconds(999)) << "retry " << retry;
    EXPECT_LT(delay, policy.max_delay) << "retry " << retry;
  }
}

TEST(BackoffDelay, HugeMaxDelayDoesNotOverflow) {
  RetryPolicy policy = Policy();
  policy.max_delay = Duration::max();

  const Duration delay = BackoffDelay(policy, std::numeric_limits<int>::max(), kAlmostOne);

  EXPECT_GT(delay, Duration::zero());
}

TEST(BackoffDelay, OutOfRangeDrawsAreClamped) {
  const RetryPolicy policy = Policy();

  EXPECT_LT(BackoffDelay(policy, 1, 1.0), milliseconds(100));
  EXPECT_LT(BackoffDelay(policy, 1, 7.0), milliseconds(100));
  EXPECT_EQ(BackoffDelay(policy, 1, -1.0), Duration::zero());
  EXPECT_EQ(BackoffDelay(policy, 1, std::nan("")), Duration::zero());
}

// --- RetryDelay ---------------------------------------------------------------------------

TEST(RetryDelay, UsesRetryAfterWhenLongerThanBackoff) {
  const RetryPolicy policy = Policy();
  AttemptOutcome outcome = Outcome(Kind::kStatus, 503);
  outcome.retry_after = seconds(3);

  EXPECT_EQ(RetryDelay(policy, 1, outcome, 0.5), seconds(3));
}

TEST(RetryDelay, KeepsBackoffWhenLongerThanRetryAfter) {
  const RetryPolicy policy = Policy();
  AttemptOutcome outcome = Outcome(Kind::kStatus, 503);
  outcome.retry_after = milliseconds(10);

  EXPECT_EQ(RetryDelay(policy, 3, outcome, 0.5), milliseconds(200));
}

TEST(RetryDelay, CapsRetryAfterAtFourTimesMaxDelay) {
  const RetryPolicy policy = Policy();
  AttemptOutcome outcome = Outcome(Kind::kStatus, 429);
  outcome.retry_after = seconds(3600);

  EXPECT_EQ(RetryDelay(policy, 1, outcome, 0.5), seconds(4));
}

TEST(RetryDelay, WithoutRetryAfterIsTheBackoff) {
  const RetryPolicy policy = Policy();

  EXPECT_EQ(RetryDelay(policy, 2, Outcome(Kind::kTimedOut), 0.5), BackoffDelay(policy, 2, 0.5));
}

// --- ShouldRetry --------------------------------------------------------------------------

TEST(IsRetryableStatus, OnlyOverloadAndGatewayErrors) {
  for (int status : {429, 502, 503, 504}) EXPECT_TRUE(IsRetryableStatus(status)) << status;
  for (int status : {200, 400, 404, 409, 500, 501})
    EXPECT_FALSE(IsRetryableStatus(status)) << status;
}

struct ShouldRetryCase {
  Kind kind;
  int status;
  bool idempotent;
  bool expected;
};

TEST(ShouldRetry, TruthTableWhileAttemptsRemain) {
  const RetryPolicy policy = Policy();
  const ShouldRetryCase cases[] = {
      {Kind::kSuccess, 0, true, false},      {Kind::kSuccess, 0, false, false},
      {Kind::kConnectFailed, 0, true, true}, {Kind::kConnectFailed, 0, false, true},
      {Kind::kTimedOut, 0, true, true},      {Kind::kTimedOut, 0, false, false},
      {Kind::kReset, 0, true, true},         {Kind::kReset, 0, false, false},
      {Kind::kStatus, 503, true, true},      {Kind::kStatus, 503, false, false},
      {Kind::kStatus, 429, true, true},      {Kind::kStatus, 502, true, true},
      {Kind::kStatus, 504, true, true},      {Kind::kStatus, 500, true, false},
      {Kind::kStatus, 404, true, false},     {Kind::kStatus, 400, false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ShouldRetry(policy, 1, Outcome(c.kind, c.status), c.idempotent), c.expected)
        << "kind " << static_cast<int>(c.kind) << " status " << c.status << " idempotent "
        << c.idempotent;
  }
}

TEST(ShouldRetry, NeverWhenAttemptsAreExhausted) {
  const RetryPolicy policy = Policy();  // 5 attempts
  for (Kind kind : {Kind::kConnectFailed, Kind::kTimedOut, Kind::kReset, Kind::kStatus}) {
    const AttemptOutcome outcome = Outcome(kind, 503);
    EXPECT_TRUE(ShouldRetry(policy, 4, outcome, true)) << static_cast<int>(kind);
    EXPECT_FALSE(ShouldRetry(policy, 5, outcome, true)) << static_cast<int>(kind);
    EXPECT_FALSE(ShouldRetry(policy, 6, outcome, true)) << static_cast<int>(kind);
  }
}

TEST(ShouldRetry, SingleAttemptPolicyNeverRetries) {
  RetryPolicy policy = Policy();
  policy.max_attempts = 1;

  EXPECT_FALSE(ShouldRetry(policy, 1, Outcome(Kind::kConnectFailed), true));
}

// --- ParseRetryAfter ----------------------------------------------------------------------

TEST(ParseRetryAfter, ReadsDeltaSeconds) {
  FakeClock clock;

  EXPECT_EQ(ParseRetryAfter("120", clock), seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", clock), seconds(0));
  EXPECT_EQ(ParseRetryAfter(" 7 ", clock), seconds(7));
}

TEST(ParseRetryAfter, HugeDeltaSecondsSaturates) {
  FakeClock clock;

  EXPECT_EQ(ParseRetryAfter("99999999999999999999999999", clock), Duration::max());
}

TEST(ParseRetryAfter, ReadsAnImfFixdateRelativeToWallClock) {
  FakeClock clock;
  clock.SetWall(std::chrono::sys_days(std::chrono::year(1994) / 11 / 6) + std::chrono::hours(8) +
                std::chrono::minutes(49));

  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", clock), seconds(37));
}

TEST(ParseRetryAfter, DateInThePastIsZero) {
  FakeClock clock;  // 2026

  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", clock), Duration::zero());
}

TEST(ParseRetryAfter, AcceptsLeapDayAndRejectsImpossibleDates) {
  FakeClock clock;
  clock.SetWall(std::chrono::sys_days(std::chrono::year(2028) / 2 / 29));

  EXPECT_EQ(ParseRetryAfter("Tue, 29 Feb 2028 00:00:10 GMT", clock), seconds(10));
  EXPECT_FALSE(ParseRetryAfter("Thu, 29 Feb 2027 00:00:10 GMT", clock).has_value());
  EXPECT_FALSE(ParseRetryAfter("Mon, 31 Apr 2028 00:00:10 GMT", clock).has_value());
  EXPECT_FALSE(ParseRetryAfter("Mon, 10 Apr 2028 24:00:00 GMT", clock).has_value());
}

TEST(ParseRetryAfter, RejectsGarbage) {
  FakeClock clock;
  for (const char* value : {"", "soon", "-5", "+5", "1.5", "12s", "Sun, 06 Nov 1994 08:49:37 UTC",
                            "Sun, 06 Foo 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                            "Sunday, 06-Nov-94 08:49:37 GMT"}) {
    EXPECT_FALSE(ParseRetryAfter(value, clock).has_value()) << "value: '" << value << "'";
  }
}

// --- RetryBudget --------------------------------------------------------------------------

TEST(RetryBudget, AllowsRetriesInProportionToRequests) {
  FakeClock clock;
  RetryBudget budget(0.2, 0.0, clock);
  for (int i = 0; i < 100; ++i) budget.OnRequest();

  int allowed = 0;
  while (allowed < 1000 && budget.TryWithdraw()) ++allowed;

  EXPECT_EQ(allowed, 20);
  EXPECT_FALSE(budget.TryWithdraw());
}

TEST(RetryBudget, RefusesRetriesWithNoRequestsAndNoFloor) {
  FakeClock clock;
  RetryBudget budget(0.2, 0.0, clock);

  clock.Advance(seconds(60));

  EXPECT_FALSE(budget.TryWithdraw());
  EXPECT_DOUBLE_EQ(budget.Balance(), 0.0);
}

TEST(RetryBudget, DepositsAreCapped) {
  FakeClock clock;
  RetryBudget budget(0.2, 0.0, clock);

  for (int i = 0; i < 1'000'000; ++i) budget.OnRequest();

  EXPECT_LE(budget.Balance(), 200.0 + 1e-6);
}

TEST(RetryBudget, FloorAllowsMinPerSecondWithoutRequests) {
  FakeClock clock;
  RetryBudget budget(0.2, 5.0, clock);

  int allowed = 0;
  while (allowed < 1000 && budget.TryWithdraw()) ++allowed;

  EXPECT_EQ(allowed, 5);
}

TEST(RetryBudget, FloorRefillsAsTheClockAdvances) {
  FakeClock clock;
  RetryBudget budget(0.2, 5.0, clock);
  while (budget.TryWithdraw()) {
  }

  clock.Advance(milliseconds(400));  // 2 tokens' worth
  int allowed = 0;
  while (allowed < 1000 && budget.TryWithdraw()) ++allowed;

  EXPECT_EQ(allowed, 2);
}

TEST(RetryBudget, FloorNeverHoldsMoreThanOneSecondsWorth) {
  FakeClock clock;
  RetryBudget budget(0.2, 5.0, clock);

  clock.Advance(std::chrono::hours(1));
  int allowed = 0;
  while (allowed < 1000 && budget.TryWithdraw()) ++allowed;

  EXPECT_EQ(allowed, 5);
}

TEST(RetryBudget, FloorAndDepositsAddUp) {
  FakeClock clock;
  RetryBudget budget(0.5, 2.0, clock);
  for (int i = 0; i < 10; ++i) budget.OnRequest();  // 5 deposited

  int allowed = 0;
  while (allowed < 1000 && budget.TryWithdraw()) ++allowed;

  EXPECT_EQ(allowed, 7);
}

TEST(RetryBudget, RejectsNegativeRates) {
  FakeClock clock;

  EXPECT_THROW(RetryBudget(-0.1, 1.0, clock), std::invalid_argument);
  EXPECT_THROW(RetryBudget(0.1, -1.0, clock), std::invalid_argument);
}

}  // namespace
}  // namespace mercato::resilience
