#include "mercato/config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mercato::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Env = std::map<std::string, std::string>;

Schema TestSchema() {
  Schema schema;
  schema.String("data-dir", "./data", "Where the database lives.")
      .Int("port", 8080, "Listen port.", 1, 65535)
      .Double("sample-rate", 0.5, "Trace sampling ratio.", 0.0, 1.0)
      .Bool("verbose", false, "Log at debug level.")
      .Duration("header-timeout", "5s", "Time allowed for request headers.")
      .Bytes("max-body", "1MiB", "Largest accepted request body.")
      .String("log-level", "info", "Minimum log level.")
      .OneOf("log-level", {"debug", "info", "warn", "error"});
  return schema;
}

// A temporary directory removed when the test ends, so file-based tests leave nothing behind.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/mercato_config_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << content;
    return file;
  }

 private:
  std::string path_;
};

// Loads with argv built from `args` (program name prepended) and the injected env map.
Config LoadWith(const std::vector<std::string>& args, const Env& env = {},
                const Schema& schema = TestSchema()) {
  std::vector<const char*> argv{"hello"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return Config::Load("hello", schema, static_cast<int>(argv.size()), argv.data(), &env);
}

// The ConfigError message, or "" when loading succeeded.
std::string LoadError(const std::vector<std::string>& args, const Env& env = {}) {
  try {
    LoadWith(args, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsApplyWhenNothingElseIsGiven) {
  auto config = LoadWith({});
  EXPECT_EQ(config.GetString("data-dir"), "./data");
  EXPECT_EQ(config.GetInt("port"), 8080);
  EXPECT_DOUBLE_EQ(config.GetDouble("sample-rate"), 0.5);
  EXPECT_FALSE(config.GetBool("verbose"));
  EXPECT_EQ(config.GetDuration("header-timeout"), seconds(5));
  EXPECT_EQ(config.GetBytes("max-body"), 1024u * 1024u);
  EXPECT_EQ(config.Source("port"), "default");
  EXPECT_EQ(config.service(), "hello");
  EXPECT_TRUE(config.file().empty());
}

TEST(Config, PrecedenceIsDefaultThenFileThenEnvThenFlag) {
  TempDir dir;
  const std::string file = dir.Write("hello.json", R"({
    "data-dir": "/file", "port": 1000, "sample-rate": 0.1, "verbose": true,
    "header-timeout": "1s", "max-body": "1KiB", "log-level": "warn"})");

  // File only.
  auto from_file = LoadWith({"--config", file});
  EXPECT_EQ(from_file.GetString("data-dir"), "/file");
  EXPECT_EQ(from_file.GetInt("port"), 1000);
  EXPECT_DOUBLE_EQ(from_file.GetDouble("sample-rate"), 0.1);
  EXPECT_TRUE(from_file.GetBool("verbose"));
  EXPECT_EQ(from_file.GetDuration("header-timeout"), seconds(1));
  EXPECT_EQ(from_file.GetBytes("max-body"), 1024u);
  EXPECT_EQ(from_file.GetString("log-level"), "warn");
  for (auto key :
       {"data-dir", "port", "sample-rate", "verbose", "header-timeout", "max-body", "log-level"}) {
    EXPECT_EQ(from_file.Source(key), "file") << key;
  }
  EXPECT_EQ(from_file.file(), file);

  // Env beats file.
  const Env env{{"MERCATO_HELLO_DATA_DIR", "/env"},     {"MERCATO_HELLO_PORT", "2000"},
                {"MERCATO_HELLO_SAMPLE_RATE", "0.2"},   {"MERCATO_HELLO_VERBOSE", "false"},
                {"MERCATO_HELLO_HEADER_TIMEOUT", "2s"}, {"MERCATO_HELLO_MAX_BODY", "2KiB"},
                {"MERCATO_HELLO_LOG_LEVEL", "error"},   {"MERCATO_HELLO_CONFIG", file}};
  auto from_env = LoadWith({}, env);
  EXPECT_EQ(from_env.GetString("data-dir"), "/env");
  EXPECT_EQ(from_env.GetInt("port"), 2000);
  EXPECT_DOUBLE_EQ(from_env.GetDouble("sample-rate"), 0.2);
  EXPECT_FALSE(from_env.GetBool("verbose"));
  EXPECT_EQ(from_env.GetDuration("header-timeout"), seconds(2));
  EXPECT_EQ(from_env.GetBytes("max-body"), 2048u);
  EXPECT_EQ(from_env.GetString("log-level"), "error");
  for (auto key :
       {"data-dir", "port", "sample-rate", "verbose", "header-timeout", "max-body", "log-level"}) {
    EXPECT_EQ(from_env.Source(key), "env") << key;
  }

  // Flags beat env and file.
  auto from_flags =
      LoadWith({"--data-dir=/flag", "--port", "3000", "--sample-rate=0.3", "--verbose",
                "--header-timeout", "3s", "--max-body=3KiB", "--log-level", "debug"},
               env);
  EXPECT_EQ(from_flags.GetString("data-dir"), "/flag");
  EXPECT_EQ(from_flags.GetInt("port"), 3000);
  EXPECT_DOUBLE_EQ(from_flags.GetDouble("sample-rate"), 0.3);
  EXPECT_TRUE(from_flags.GetBool("verbose"));
  EXPECT_EQ(from_flags.GetDuration("header-timeout"), seconds(3));
  EXPECT_EQ(from_flags.GetBytes("max-body"), 3072u);
  EXPECT_EQ(from_flags.GetString("log-level"), "debug");
  for (auto key :
       {"data-dir", "port", "sample-rate", "verbose", "header-timeout", "max-body", "log-level"}) {
    EXPECT_EQ(from_flags.Source(key), "flag") << key;
  }
}

TEST(Config, ConfigFlagBeatsConfigEnvVar) {
  TempDir dir;
  const std::string a = dir.Write("a.json", R"({"port": 1111})");
  const std::string b = dir.Write("b.json", R"({"port": 2222})");
  auto config = LoadWith({"--config=" + b}, {{"MERCATO_HELLO_CONFIG", a}});
  EXPECT_EQ(config.GetInt("port"), 2222);
  EXPECT_EQ(config.file(), b);
}

TEST(Config, FlagsAcceptSpaceAndEqualsForms) {
  EXPECT_EQ(LoadWith({"--port", "9000"}).GetInt("port"), 9000);
  EXPECT_EQ(LoadWith({"--port=9001"}).GetInt("port"), 9001);
  EXPECT_EQ(LoadWith({"--data-dir="}).GetString("data-dir"), "");
  EXPECT_EQ(LoadWith({"--data-dir", "a=b"}).GetString("data-dir"), "a=b");
  // The last occurrence wins, as with most CLIs.
  EXPECT_EQ(LoadWith({"--port=1", "--port=2"}).GetInt("port"), 2);
}

TEST(Config, BoolFlagForms) {
  EXPECT_TRUE(LoadWith({"--verbose"}).GetBool("verbose"));
  EXPECT_TRUE(LoadWith({"--verbose=true"}).GetBool("verbose"));
  EXPECT_FALSE(LoadWith({"--verbose=false"}).GetBool("verbose"));
  EXPECT_FALSE(LoadWith({"--verbose", "--no-verbose"}).GetBool("verbose"));
  EXPECT_EQ(LoadWith({"--no-verbose"}).Source("verbose"), "flag");
  EXPECT_TRUE(LoadWith({}, {{"MERCATO_HELLO_VERBOSE", "1"}}).GetBool("verbose"));
  EXPECT_TRUE(LoadWith({}, {{"MERCATO_HELLO_VERBOSE", "yes"}}).GetBool("verbose"));
  EXPECT_FALSE(LoadWith({}, {{"MERCATO_HELLO_VERBOSE", "off"}}).GetBool("verbose"));
  EXPECT_NE(LoadError({"--verbose=maybe"}).find("--verbose"), std::string::npos);
  EXPECT_NE(LoadError({"--no-verbose=true"}), "");
  // A bare word after a bool flag is a positional argument, not its value.
  EXPECT_NE(LoadError({"--verbose", "false"}), "");
}

TEST(Config, ParsesDurations) {
  Duration d{};
  std::string problem;
  ASSERT_TRUE(ParseDuration("5s", d, problem));
  EXPECT_EQ(d, seconds(5));
  ASSERT_TRUE(ParseDuration("250ms", d, problem));
  EXPECT_EQ(d, milliseconds(250));
  ASSERT_TRUE(ParseDuration("2m", d, problem));
  EXPECT_EQ(d, std::chrono::minutes(2));
  ASSERT_TRUE(ParseDuration("1h", d, problem));
  EXPECT_EQ(d, std::chrono::hours(1));
  ASSERT_TRUE(ParseDuration("1h30m", d, problem));
  EXPECT_EQ(d, std::chrono::minutes(90));
  ASSERT_TRUE(ParseDuration("1.5s", d, problem));
  EXPECT_EQ(d, milliseconds(1500));
  ASSERT_TRUE(ParseDuration("10us", d, problem));
  EXPECT_EQ(d, std::chrono::microseconds(10));
  ASSERT_TRUE(ParseDuration("7ns", d, problem));
  EXPECT_EQ(d, std::chrono::nanoseconds(7));
  ASSERT_TRUE(ParseDuration("0", d, problem));
  EXPECT_EQ(d, Duration::zero());

  EXPECT_FALSE(ParseDuration("5", d, problem));
  EXPECT_NE(problem.find("missing unit"), std::string::npos);
  EXPECT_FALSE(ParseDuration("5sec", d, problem));
  EXPECT_NE(problem.find("unknown unit 'sec'"), std::string::npos);
  EXPECT_FALSE(ParseDuration("", d, problem));
  EXPECT_FALSE(ParseDuration("-5s", d, problem));
  EXPECT_FALSE(ParseDuration("5 s", d, problem));
  EXPECT_FALSE(ParseDuration("s", d, problem));
  EXPECT_FALSE(ParseDuration("99999999999h", d, problem));
}

TEST(Config, ParsesByteSizes) {
  uint64_t b = 0;
  std::string problem;
  ASSERT_TRUE(ParseBytes("512", b, problem));
  EXPECT_EQ(b, 512u);
  ASSERT_TRUE(ParseBytes("64KiB", b, problem));
  EXPECT_EQ(b, 64u * 1024);
  ASSERT_TRUE(ParseBytes("1MiB", b, problem));
  EXPECT_EQ(b, 1024u * 1024);
  ASSERT_TRUE(ParseBytes("2GiB", b, problem));
  EXPECT_EQ(b, 2ULL << 30);
  ASSERT_TRUE(ParseBytes("1MB", b, problem));
  EXPECT_EQ(b, 1000u * 1000);
  ASSERT_TRUE(ParseBytes("3kib", b, problem));
  EXPECT_EQ(b, 3u * 1024);
  ASSERT_TRUE(ParseBytes("10B", b, problem));
  EXPECT_EQ(b, 10u);

  EXPECT_FALSE(ParseBytes("1XB", b, problem));
  EXPECT_NE(problem.find("unknown unit 'XB'"), std::string::npos);
  EXPECT_FALSE(ParseBytes("MiB", b, problem));
  EXPECT_FALSE(ParseBytes("-1", b, problem));
  EXPECT_FALSE(ParseBytes("1.5MiB", b, problem));
  EXPECT_FALSE(ParseBytes("99999999999TiB", b, problem));
}

TEST(Config, BadUnitsAreRejectedWithTheKeyNamed) {
  EXPECT_EQ(
      LoadError({"--header-timeout=5"}),
      "--header-timeout: '5' is not a duration: missing unit (use ns, us, ms, s, m or h) (flag)");
  const std::string env_error = LoadError({}, {{"MERCATO_HELLO_MAX_BODY", "1 MiB"}});
  EXPECT_NE(env_error.find("MERCATO_HELLO_MAX_BODY: '1 MiB' is not a byte size"),
            std::string::npos);
  EXPECT_NE(env_error.find("(env)"), std::string::npos);
}

TEST(Config, BadValuesNameKeySourceAndProblem) {
  EXPECT_EQ(LoadError({"--port", "abc"}), "--port: 'abc' is not an integer (flag)");
  EXPECT_EQ(LoadError({}, {{"MERCATO_HELLO_PORT", "abc"}}),
            "MERCATO_HELLO_PORT: 'abc' is not an integer (env)");
  EXPECT_EQ(LoadError({"--sample-rate=x"}), "--sample-rate: 'x' is not a number (flag)");
  EXPECT_EQ(LoadError({"--port=99999999999999999999"}),
            "--port: '99999999999999999999' does not fit in a 64-bit integer (flag)");
}

TEST(Config, RangesAreEnforced) {
  EXPECT_EQ(LoadError({"--port=0"}), "--port: 0 is out of range [1, 65535] (flag)");
  EXPECT_EQ(LoadError({"--port=65536"}), "--port: 65536 is out of range [1, 65535] (flag)");
  EXPECT_EQ(LoadWith({"--port=65535"}).GetInt("port"), 65535);
  EXPECT_EQ(LoadError({"--sample-rate=1.5"}), "--sample-rate: 1.5 is out of range [0, 1] (flag)");
  EXPECT_DOUBLE_EQ(LoadWith({"--sample-rate=1"}).GetDouble("sample-rate"), 1.0);
}

TEST(Config, OneOfRestrictsStrings) {
  EXPECT_EQ(LoadWith({"--log-level=warn"}).GetString("log-level"), "warn");
  EXPECT_EQ(LoadError({"--log-level=loud"}),
            "--log-level: 'loud' is not one of: debug, info, warn, error (flag)");
  EXPECT_THROW(Schema().Int("n", 1, "").OneOf("n", {"1"}), std::logic_error);
  EXPECT_THROW(Schema().String("s", "x", "").OneOf("s", {"a", "b"}), std::logic_error);
  EXPECT_THROW(Schema().OneOf("missing", {"a"}), std::logic_error);
}

TEST(Config, UnknownFlagIsAnErrorNamingIt) {
  const std::string error = LoadError({"--prot=1"});
  EXPECT_NE(error.find("--prot: unknown flag"), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean --port?"), std::string::npos) << error;
  EXPECT_NE(LoadError({"--bogus"}).find("--bogus: unknown flag"), std::string::npos);
  EXPECT_NE(LoadError({"-x"}).find("-x: unknown flag"), std::string::npos);
}

TEST(Config, MissingFlagValueIsAnError) {
  EXPECT_EQ(LoadError({"--port"}), "--port: missing value (flag)");
  EXPECT_EQ(LoadError({"--port", "--verbose"}), "--port: missing value (flag)");
  EXPECT_EQ(LoadError({"--config"}), "--config: missing value (flag)");
  // A negative number is a value, not a flag.
  Schema schema;
  schema.Int("offset", 0, "");
  EXPECT_EQ(LoadWith({"--offset", "-5"}, {}, schema).GetInt("offset"), -5);
}

TEST(Config, PositionalArgumentsAreErrors) {
  EXPECT_NE(LoadError({"serve"}).find("'serve': unexpected positional argument"),
            std::string::npos);
  EXPECT_NE(LoadError({"--", "x"}).find("unexpected positional argument"), std::string::npos);
  EXPECT_EQ(LoadError({"--"}), "");
}

TEST(Config, FileErrorsNameTheKeyAndFile) {
  TempDir dir;
  const std::string unknown = dir.Write("unknown.json", R"({"prot": 1})");
  std::string error = LoadError({"--config", unknown});
  EXPECT_NE(error.find("prot: unknown key; did you mean port?"), std::string::npos) << error;
  EXPECT_NE(error.find("(file " + unknown + ")"), std::string::npos) << error;

  const std::string bad_value = dir.Write("bad.json", R"({"port": "abc"})");
  EXPECT_EQ(LoadError({"--config", bad_value}),
            "port: 'abc' is not an integer (file " + bad_value + ")");

  const std::string wrong_type = dir.Write("wrong.json", R"({"data-dir": 5})");
  EXPECT_NE(LoadError({"--config", wrong_type}).find("data-dir: expected a JSON string"),
            std::string::npos);

  const std::string bare_duration = dir.Write("duration.json", R"({"header-timeout": 5})");
  EXPECT_NE(
      LoadError({"--config", bare_duration}).find("header-timeout: expected a string with a unit"),
      std::string::npos);

  const std::string range = dir.Write("range.json", R"({"port": 70000})");
  EXPECT_NE(LoadError({"--config", range}).find("port: 70000 is out of range"), std::string::npos);

  const std::string not_json = dir.Write("broken.json", R"({"port": )");
  error = LoadError({"--config", not_json});
  EXPECT_NE(error.find("--config: '" + not_json + "' is not valid JSON"), std::string::npos)
      << error;

  const std::string array = dir.Write("array.json", "[1, 2]");
  EXPECT_NE(LoadError({"--config", array}).find("must hold a JSON object"), std::string::npos);

  error = LoadError({}, {{"MERCATO_HELLO_CONFIG", "/nonexistent/hello.json"}});
  EXPECT_NE(error.find("MERCATO_HELLO_CONFIG: cannot read '/nonexistent/hello.json'"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("(env)"), std::string::npos) << error;
}

TEST(Config, FileAcceptsTypedAndStringValues) {
  TempDir dir;
  const std::string file = dir.Write(
      "typed.json", R"({"port": "8081", "sample-rate": 1, "max-body": 4096, "verbose": "on"})");
  auto config = LoadWith({"--config", file});
  EXPECT_EQ(config.GetInt("port"), 8081);
  EXPECT_DOUBLE_EQ(config.GetDouble("sample-rate"), 1.0);
  EXPECT_EQ(config.GetBytes("max-body"), 4096u);
  EXPECT_TRUE(config.GetBool("verbose"));
}

TEST(Config, HelpListsEveryKeyWithDefaultAndEnvVar) {
  const Schema schema = TestSchema();
  const std::string help = schema.HelpText("hello", "hello");
  EXPECT_NE(help.find("Usage: hello"), std::string::npos);
  for (const auto& key : schema.keys()) {
    EXPECT_NE(help.find("--" + key.name), std::string::npos) << key.name;
    EXPECT_NE(help.find(EnvVarName("hello", key.name)), std::string::npos) << key.name;
    EXPECT_NE(help.find(key.default_text), std::string::npos) << key.name;
    EXPECT_NE(help.find(key.help), std::string::npos) << key.name;
  }
  EXPECT_NE(help.find("--port INT  (int, default 8080, range [1, 65535])"), std::string::npos)
      << help;
  EXPECT_NE(help.find("--verbose, --no-verbose"), std::string::npos);
  EXPECT_NE(help.find("MERCATO_HELLO_HEADER_TIMEOUT"), std::string::npos);
  EXPECT_NE(help.find("default 5s"), std::string::npos);
  EXPECT_NE(help.find("one of: debug, info, warn, error"), std::string::npos);
  EXPECT_NE(help.find("MERCATO_HELLO_CONFIG"), std::string::npos);
}

TEST(Config, HelpFlagIsReportedToTheCaller) {
  EXPECT_THROW(LoadWith({"--help"}), HelpRequested);
  EXPECT_THROW(LoadWith({"--port=1", "-h"}), HelpRequested);
}

TEST(Config, LoadOrExitExitsWithTwoOnBadConfig) {
  const char* argv[] = {"/usr/bin/hello", "--port=abc"};
  EXPECT_EXIT(Config::LoadOrExit("hello", TestSchema(), 2, argv), testing::ExitedWithCode(2),
              "hello: --port: 'abc' is not an integer \\(flag\\)");
}

TEST(Config, LoadOrExitPrintsHelpAndExitsZero) {
  const char* argv[] = {"hello", "--help"};
  EXPECT_EXIT(
      {
        Config::LoadOrExit("hello", TestSchema(), 2, argv);
        std::exit(1);
      },
      testing::ExitedWithCode(0), "");
}

TEST(Config, EnvVarNamesFollowTheConvention) {
  EXPECT_EQ(EnvVarName("hello", "data-dir"), "MERCATO_HELLO_DATA_DIR");
  EXPECT_EQ(EnvVarName("order-history", "port"), "MERCATO_ORDER_HISTORY_PORT");
}

TEST(Config, MisuseIsALogicError) {
  auto config = LoadWith({});
  EXPECT_THROW(config.GetInt("nope"), std::logic_error);
  EXPECT_THROW(config.GetString("port"), std::logic_error);
  EXPECT_THROW(config.GetDuration("max-body"), std::logic_error);
  EXPECT_THROW(config.Source("nope"), std::logic_error);
  EXPECT_THROW(Schema().Int("Port", 1, ""), std::logic_error);
  EXPECT_THROW(Schema().Int("port", 1, "").Bool("port", false, ""), std::logic_error);
  EXPECT_THROW(Schema().String("config", "", ""), std::logic_error);
  EXPECT_THROW(Schema().Duration("t", "5", ""), std::logic_error);
  EXPECT_THROW(Schema().Bytes("b", "1XB", ""), std::logic_error);
  EXPECT_THROW(Schema().Int("n", 0, "", 1, 10), std::logic_error);
  EXPECT_TRUE(TestSchema().Has("port"));
  EXPECT_FALSE(TestSchema().Has("nope"));
}

TEST(Config, ProcessEnvironmentIsReadWhenNoMapIsGiven) {
  // Reads only; PATH is set in any test environment and matches no key, so this proves the
  // default env path works without mutating the real environment.
  const char* argv[] = {"hello"};
  auto config = Config::Load("hello", TestSchema(), 1, argv);
  EXPECT_EQ(config.Source("port"), std::getenv("MERCATO_HELLO_PORT") ? "env" : "default");
}

}  // namespace
}  // namespace mercato::config
