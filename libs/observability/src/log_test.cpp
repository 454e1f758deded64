#include "mercato/observability/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

namespace mercato::obs {
namespace {

// Points the logger at a pipe and collects everything written to it. A reader thread drains the
// pipe so large outputs cannot fill it and block the writers.
class LogCapture {
 public:
  explicit LogCapture(LogLevel level) {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe failed");
    reader_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) text_.append(buf, static_cast<size_t>(n));
    });
    ConfigureLogging("test-svc", level, fds_[1]);
  }
  ~LogCapture() { Finish(); }

  // Restores stderr logging and returns the captured lines.
  std::vector<std::string> Finish() {
    if (fds_[1] >= 0) {
      ConfigureLogging("test-svc", LogLevel::kInfo, 2);
      ::close(fds_[1]);
      fds_[1] = -1;
      reader_.join();
      ::close(fds_[0]);
    }
    std::vector<std::string> lines;
    std::istringstream in(text_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  int fds_[2] = {-1, -1};
  std::thread reader_;
  std::string text_;
};

boost::json::object ParseLine(const std::string& line) {
  return boost::json::parse(line).as_object();
}

TEST(Logger, WritesOneJsonObjectPerLineWithIdsAndFields) {
  LogCapture capture(LogLevel::kDebug);

  Logger({"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "corr-1"})
      .Warn("payment declined", {{"order_id", "o-42"},
                                 {"attempt", 2},
                                 {"amount", 12.5},
                                 {"retry", true},
                                 {"big", uint64_t{18446744073709551615ULL}}});
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), 1u);
  auto obj = ParseLine(lines[0]);
  EXPECT_EQ(obj.at("level").as_string(), "warn");
  EXPECT_EQ(obj.at("service").as_string(), "test-svc");
  EXPECT_EQ(obj.at("msg").as_string(), "payment declined");
  EXPECT_EQ(obj.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(obj.at("span_id").as_string(), "00f067aa0ba902b7");
  EXPECT_EQ(obj.at("correlation_id").as_string(), "corr-1");
  EXPECT_EQ(obj.at("order_id").as_string(), "o-42");
  EXPECT_EQ(obj.at("attempt").as_int64(), 2);
  EXPECT_EQ(obj.at("amount").as_double(), 12.5);
  EXPECT_EQ(obj.at("retry").as_bool(), true);
  EXPECT_EQ(obj.at("big").as_uint64(), 18446744073709551615ULL);
  const std::string ts(obj.at("ts").as_string());
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-25T19:03:17.123Z
  EXPECT_EQ(ts.back(), 'Z');
  // Field order is part of the format: people read these lines too.
  EXPECT_EQ(lines[0].find("{\"ts\":"), 0u);
  EXPECT_LT(lines[0].find("\"level\""), lines[0].find("\"service\""));
  EXPECT_LT(lines[0].find("\"msg\""), lines[0].find("\"trace_id\""));
  EXPECT_LT(lines[0].find("\"correlation_id\""), lines[0].find("\"order_id\""));
}

TEST(Logger, OmitsEmptyIds) {
  LogCapture capture(LogLevel::kInfo);

  LogInfo("started");
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), 1u);
  auto obj = ParseLine(lines[0]);
  EXPECT_FALSE(obj.contains("trace_id"));
  EXPECT_FALSE(obj.contains("span_id"));
  EXPECT_FALSE(obj.contains("correlation_id"));
  EXPECT_EQ(obj.size(), 4u);
}

TEST(Logger, DropsLinesBelowTheMinimumLevel) {
  LogCapture capture(LogLevel::kWarn);

  LogDebug("d");
  LogInfo("i");
  LogWarn("w");
  LogError("e");
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ParseLine(lines[0]).at("msg").as_string(), "w");
  EXPECT_EQ(ParseLine(lines[1]).at("msg").as_string(), "e");
}

TEST(Logger, SetLogLevelChangesFilteringAtRunTime) {
  LogCapture capture(LogLevel::kError);

  LogInfo("hidden");
  SetLogLevel(LogLevel::kDebug);
  LogDebug("shown");
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(ParseLine(lines[0]).at("msg").as_string(), "shown");
}

TEST(Logger, EscapesHostileStringsIntoValidJson) {
  LogCapture capture(LogLevel::kInfo);
  const std::string hostile = std::string("quote\" back\\ nl\n tab\t bell\x07 nul") + '\0' + "end";
  const std::string invalid_utf8 =
      "a\xff"
      "b\xc3"
      "c\xe2\x82"
      "d\xed\xa0\x80"
      "e\xc0\xaf"
      "f";

  LogInfo(hostile,
          {{"k\"ey", hostile}, {"bad", invalid_utf8}, {"ok", "caf\xc3\xa9 \xf0\x9f\x98\x80"}});
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), 1u);
  auto obj = ParseLine(lines[0]);
  EXPECT_EQ(obj.at("msg").as_string(), hostile);
  EXPECT_EQ(obj.at("k\"ey").as_string(), hostile);
  EXPECT_EQ(obj.at("ok").as_string(), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  const std::string r = "\xef\xbf\xbd";  // U+FFFD, one per invalid byte
  EXPECT_EQ(obj.at("bad").as_string(),
            "a" + r + "b" + r + "c" + r + r + "d" + r + r + r + "e" + r + r + "f");
}

TEST(Logger, WritesNonFiniteDoublesAsNull) {
  LogCapture capture(LogLevel::kInfo);

  LogInfo(
      "x",
      {{"nan", std::nan("")}, {"inf", std::numeric_limits<double>::infinity()}, {"third", 0.1}});
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), 1u);
  auto obj = ParseLine(lines[0]);
  EXPECT_TRUE(obj.at("nan").is_null());
  EXPECT_TRUE(obj.at("inf").is_null());
  EXPECT_EQ(obj.at("third").as_double(), 0.1);
  EXPECT_NE(lines[0].find("\"third\":0.1"), std::string::npos);  // shortest round-trip form
}

TEST(AppendJsonEscaped, ReplacesEachInvalidByteForAnyInput) {
  // Every single byte value, then every two-byte combination starting with a high byte.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0x80; b < 256; b += 7) {
      std::string input{static_cast<char>(a), static_cast<char>(b), 'x'};
      std::string out = "\"";

      AppendJsonEscaped(out, input);
      out += '"';

      boost::system::error_code ec;
      auto value = boost::json::parse(out, ec);
      ASSERT_FALSE(ec) << "bytes " << a << "," << b << ": " << out;
      EXPECT_EQ(value.as_string().back(), 'x');
    }
  }
}

TEST(Logger, LinesFromManyThreadsNeverInterleave) {
  LogCapture capture(LogLevel::kInfo);
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 1000;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLinesPerThread; ++i) {
        LogInfo("concurrent line with some padding to make it longer",
                {{"thread", t}, {"i", i}, {"pad", std::string(100, 'p')}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto lines = capture.Finish();

  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesPerThread));
  std::vector<int> per_thread(kThreads, 0);
  for (const auto& line : lines) {
    auto obj = ParseLine(line);
    ++per_thread.at(static_cast<size_t>(obj.at("thread").as_int64()));
  }
  for (int count : per_thread) EXPECT_EQ(count, kLinesPerThread);
}

TEST(ParseLogLevel, AcceptsTheFourNamesOnly) {
  LogLevel level = LogLevel::kInfo;

  EXPECT_TRUE(ParseLogLevel("debug", level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("error", level));
  EXPECT_EQ(level, LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("WARN", level));
  EXPECT_FALSE(ParseLogLevel("", level));
  EXPECT_EQ(level, LogLevel::kError);
}

}  // namespace
}  // namespace mercato::obs
