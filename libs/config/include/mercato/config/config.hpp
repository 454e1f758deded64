// Service configuration: a typed, validated set of keys read once at start-up from, in rising
// precedence, the schema's defaults < a JSON file < the environment < command-line flags.
// Every problem (unknown flag, bad value, out of range...) is found before the service starts.
//
//   auto schema = Schema().Int("port", 8080, "listen port", 1, 65535).Duration("header-timeout",
//   "5s", "..."); auto config = Config::LoadOrExit("hello", schema, argc, argv);   // --port 9000,
//   MERCATO_HELLO_PORT=9000 auto port = config.GetInt("port");
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mercato/core/clock.hpp"

namespace mercato::config {

enum class Type { kString, kInt, kDouble, kBool, kDuration, kBytes };

// "string", "int", ...: how types are named in help text and error messages.
std::string_view ToString(Type type);

// A start-up configuration problem. The message is one line naming the key, the source and the
// problem: "--port: 'abc' is not an integer (flag)".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by Config::Load when --help or -h is given, so callers that use Load directly (not
// LoadOrExit) can print Schema::HelpText themselves.
class HelpRequested : public ConfigError {
 public:
  HelpRequested() : ConfigError("help requested") {}
};

// The value parsers Config uses, exposed for services that parse the same formats elsewhere.
// Durations: one or more <number><unit> with units ns, us, ms, s, m, h ("5s", "250ms", "1h30m",
// "1.5s"); "0" alone is allowed. Bytes: a non-negative integer with an optional unit B, KB, MB, GB,
// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024); units are case-insensitive.
// On failure they return false and put the reason ("unknown unit 'sec'") in `problem`.
bool ParseDuration(std::string_view text, Duration& out, std::string& problem);
bool ParseBytes(std::string_view text, uint64_t& out, std::string& problem);

// The declared keys. Adders throw std::logic_error for a programming error: a key that is not
// kebab-case, declared twice, reserved ("config", "help"), or a default that is invalid.
class Schema {
 public:
  struct Key {
    std::string name;
    Type type = Type::kString;
    std::string default_text;  // as shown in help, e.g. "5s", "8080", "true"
    std::string help;
    int64_t int_min = std::numeric_limits<int64_t>::min();
    int64_t int_max = std::numeric_limits<int64_t>::max();
    double double_min = -std::numeric_limits<double>::infinity();
    double double_max = std::numeric_limits<double>::infinity();
    std::vector<std::string> allowed;  // OneOf; empty means any string
  };

  // Keys are kebab-case ("data-dir"). Each adder returns *this for chaining.
  Schema& String(std::string key, std::string default_value, std::string help);
  Schema& Int(std::string key, int64_t default_value, std::string help,
              int64_t min = std::numeric_limits<int64_t>::min(),
              int64_t max = std::numeric_limits<int64_t>::max());
  Schema& Double(std::string key, double default_value, std::string help,
                 double min = -std::numeric_limits<double>::infinity(),
                 double max = std::numeric_limits<double>::infinity());
  Schema& Bool(std::string key, bool default_value, std::string help);
  // Defaults like "5s", "250ms", "2m", "1h".
  Schema& Duration(std::string key, std::string default_value, std::string help);
  // Defaults like "1MiB", "64KiB", "512".
  Schema& Bytes(std::string key, std::string default_value, std::string help);
  // Restricts a string key (already declared) to a set of values; the default must be one of them.
  Schema& OneOf(const std::string& key, std::vector<std::string> allowed);

  bool Has(std::string_view key) const;
  // nullptr when the key is not declared.
  const Key* Find(std::string_view key) const;
  // In declaration order.
  const std::vector<Key>& keys() const { return keys_; }

  // Usage text listing every key: flag, env var, type, default and help.
  std::string HelpText(std::string_view program, std::string_view service) const;

 private:
  Key& Add(std::string key, Type type, std::string default_text, std::string help);

  std::vector<Key> keys_;
};

// "MERCATO_HELLO_DATA_DIR" for service "hello", key "data-dir".
std::string EnvVarName(std::string_view service, std::string_view key);

class Config {
 public:
  // service "hello" gives the env prefix MERCATO_HELLO_; key "data-dir" is read from env
  // MERCATO_HELLO_DATA_DIR and flag --data-dir=V or --data-dir V (bools: --flag, --flag=true|false,
  // --no-flag). The file comes from --config PATH or MERCATO_HELLO_CONFIG: a JSON object such as
  // {"port": 8080, "data-dir": "x", "header-timeout": "5s"}.
  // Throws ConfigError for an unknown flag, unknown key in the file, bad value, out-of-range value,
  // missing flag value, positional argument, unreadable file or bad JSON; HelpRequested for --help.
  // env == nullptr reads the process environment; tests pass a map instead.
  // Environment variables with the service's prefix that match no key are ignored, because the
  // same prefix may be shared with deployment tooling.
  static Config Load(std::string_view service, const Schema& schema, int argc,
                     const char* const* argv,
                     const std::map<std::string, std::string>* env = nullptr);

  // For main(): --help/-h prints HelpText to stdout and exits 0; a ConfigError prints
  // "<program>: <message>" to stderr and exits 2.
  static Config LoadOrExit(std::string_view service, const Schema& schema, int argc,
                           const char* const* argv);

  // Reading an undeclared key or with the wrong type throws std::logic_error (a programming error).
  std::string GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  mercato::Duration GetDuration(std::string_view key) const;
  uint64_t GetBytes(std::string_view key) const;

  // Where the effective value came from: "default" | "file" | "env" | "flag".
  std::string Source(std::string_view key) const;

  const std::string& service() const { return service_; }
  // The file that was read, empty when none.
  const std::string& file() const { return file_; }

 private:
  using Value = std::variant<std::string, int64_t, double, bool, mercato::Duration, uint64_t>;
  struct Entry {
    Type type;
    Value value;
    std::string source;
  };

  const Entry& Get(std::string_view key, Type type) const;

  std::string service_;
  std::string file_;
  std::map<std::string, Entry, std::less<>> entries_;

  friend class ConfigLoader;
};

}  // namespace mercato::config
