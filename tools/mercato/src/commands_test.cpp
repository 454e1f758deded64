#include "commands.hpp"

#include <gtest/gtest.h>

#include "supervisor.hpp"

namespace mercato::runner {
namespace {

TEST(ParseUpOptions, UsesDefaults) {
  auto options = ParseUpOptions({});

  ASSERT_TRUE(options);
  EXPECT_FALSE(options->detach);
  EXPECT_EQ(options->data_dir, "data");
  EXPECT_EQ(options->base_port, 8000);
  EXPECT_FALSE(options->topology);
  EXPECT_TRUE(options->only.empty());
}

TEST(ParseUpOptions, ReadsEveryOptionInBothSpellings) {
  auto options = ParseUpOptions({"--detach", "--data-dir", "/tmp/d", "--base-port=9000",
                                 "--topology", "t.json", "--only=nats,hello"});

  ASSERT_TRUE(options) << options.error().message;
  EXPECT_TRUE(options->detach);
  EXPECT_EQ(options->data_dir, "/tmp/d");
  EXPECT_EQ(options->base_port, 9000);
  EXPECT_EQ(options->topology, std::filesystem::path("t.json"));
  EXPECT_EQ(options->only, (std::vector<std::string>{"nats", "hello"}));
}

TEST(ParseUpOptions, RejectsUnknownOptionsAndBadValues) {
  EXPECT_FALSE(ParseUpOptions({"--detatch"}));
  EXPECT_FALSE(ParseUpOptions({"--base-port", "http"}));
  EXPECT_FALSE(ParseUpOptions({"--base-port", "70000"}));
  EXPECT_FALSE(ParseUpOptions({"--data-dir"}));
  EXPECT_FALSE(ParseUpOptions({"--detach=yes"}));
  EXPECT_EQ(ParseUpOptions({"--detatch"}).error().code, ErrorCode::kInvalidArgument);
}

TEST(ParseUpOptions, RecognisesHelp) {
  auto options = ParseUpOptions({"--help"});

  ASSERT_TRUE(options);
  EXPECT_TRUE(options->help);
}

TEST(ParseDataDirOptions, ReadsDataDirAndRejectsTheRest) {
  auto options = ParseDataDirOptions({"--data-dir", "x"});

  ASSERT_TRUE(options);
  EXPECT_EQ(options->data_dir, "x");
  EXPECT_FALSE(ParseDataDirOptions({"--detach"}));
}

TEST(FormatTable, AlignsColumns) {
  EXPECT_EQ(FormatTable({{"NAME", "PID"}, {"hello", "1"}, {"a", "12345"}}),
            "NAME   PID\n"
            "hello  1\n"
            "a      12345\n");
}

TEST(FormatNotices, OneLinePerProcessWithANoticeInStartOrder) {
  std::vector<LaunchPlan> plans(3);
  plans[0].name = "nats";
  plans[1].name = "identity";
  plans[1].notice = "first admin's credentials: /srv/data/secrets/admin.json";
  plans[2].name = "hello";
  plans[2].notice = "try /hello/world";

  EXPECT_EQ(FormatNotices(plans),
            "identity: first admin's credentials: /srv/data/secrets/admin.json\n"
            "hello: try /hello/world\n");
}

TEST(FormatNotices, EmptyWhenNoProcessHasOne) {
  std::vector<LaunchPlan> plans(2);
  plans[0].name = "nats";
  plans[1].name = "hello";

  EXPECT_EQ(FormatNotices(plans), "");
  EXPECT_EQ(FormatNotices({}), "");
}

TEST(FormatUptime, PicksTwoUnits) {
  EXPECT_EQ(FormatUptime(std::chrono::seconds(42)), "42s");
  EXPECT_EQ(FormatUptime(std::chrono::seconds(187)), "3m07s");
  EXPECT_EQ(FormatUptime(std::chrono::seconds(7500)), "2h05m");
  EXPECT_EQ(FormatUptime(std::chrono::seconds(3 * 86400 + 4 * 3600)), "3d04h");
  EXPECT_EQ(FormatUptime(std::chrono::seconds(-5)), "0s");
}

TEST(StopTimeout, OutlastsTheDefaultDrainTimeout) {
  constexpr std::chrono::seconds kServiceDrainDefault{20};  // --drain-timeout in libs/service

  EXPECT_GT(SupervisorOptions{}.stop_timeout, kServiceDrainDefault);
}

TEST(DownTimeout, CoversAFullStopOfEveryProcessInTurn) {
  for (size_t processes : {size_t{1}, size_t{3}, size_t{12}}) {
    EXPECT_GT(DownTimeout(processes), kDefaultStopTimeout * static_cast<long>(processes))
        << processes << " processes";
  }
  EXPECT_EQ(DownTimeout(2), std::chrono::seconds(55));
}

}  // namespace
}  // namespace mercato::runner
