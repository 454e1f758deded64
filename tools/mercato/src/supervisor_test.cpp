#include "supervisor.hpp"

#include <fstream>

#include <gtest/gtest.h>

namespace mercato::runner {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RestartDelay, DoublesFromHalfASecond) {
  EXPECT_EQ(RestartDelay(1), milliseconds(500));
  EXPECT_EQ(RestartDelay(2), milliseconds(1000));
  EXPECT_EQ(RestartDelay(3), milliseconds(2000));
  EXPECT_EQ(RestartDelay(4), milliseconds(4000));
  EXPECT_EQ(RestartDelay(6), milliseconds(16000));
}

TEST(RestartDelay, CapsAtThirtySeconds) {
  EXPECT_EQ(RestartDelay(7), seconds(30));
  EXPECT_EQ(RestartDelay(8), seconds(30));
  EXPECT_EQ(RestartDelay(1000), seconds(30));  // no overflow for a long crash loop
}

TEST(RestartDelay, FollowsTheGivenPolicy) {
  BackoffPolicy policy{
      .initial = milliseconds(10), .max = milliseconds(35), .reset_after = seconds(1)};

  EXPECT_EQ(RestartDelay(1, policy), milliseconds(10));
  EXPECT_EQ(RestartDelay(2, policy), milliseconds(20));
  EXPECT_EQ(RestartDelay(3, policy), milliseconds(35));
}

TEST(NextCrashStreak, GrowsWhileCrashesComeQuickly) {
  EXPECT_EQ(NextCrashStreak(0, seconds(1)), 1);
  EXPECT_EQ(NextCrashStreak(1, seconds(5)), 2);
  EXPECT_EQ(NextCrashStreak(5, seconds(59)), 6);
}

TEST(NextCrashStreak, ResetsAfterAMinuteOfHealthyRunning) {
  EXPECT_EQ(NextCrashStreak(6, seconds(60)), 1);
  EXPECT_EQ(NextCrashStreak(6, seconds(3600)), 1);
  EXPECT_EQ(RestartDelay(NextCrashStreak(6, seconds(61))), milliseconds(500));
}

TEST(DescribeWaitStatus, NamesExitCodesAndSignals) {
  EXPECT_EQ(DescribeWaitStatus(1 << 8), "exited with status 1");
  EXPECT_EQ(DescribeWaitStatus(9).rfind("killed by signal 9", 0), 0u);
}

TEST(TailLines, ReturnsTheLastLines) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("mercato_tail_" + std::to_string(::getpid()) + ".log");
  {
    std::ofstream out(file);
    for (int i = 1; i <= 30; ++i) out << "line " << i << "\n";
  }

  auto tail = TailLines(file, 20);

  ASSERT_EQ(tail.size(), 20u);
  EXPECT_EQ(tail.front(), "line 11");
  EXPECT_EQ(tail.back(), "line 30");
  EXPECT_TRUE(TailLines("/nonexistent.log", 20).empty());
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace mercato::runner
