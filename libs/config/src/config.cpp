#include "mercato/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <utility>

#include <boost/json.hpp>

namespace mercato::config {
namespace {

constexpr std::string_view kSourceDefault = "default";
constexpr std::string_view kSourceFile = "file";
constexpr std::string_view kSourceEnv = "env";
constexpr std::string_view kSourceFlag = "flag";
constexpr std::string_view kConfigKey = "config";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view text) { return "'" + std::string(text) + "'"; }

// Shortest text that reads back as the same double, so help and errors show "0.5", not "0.500000".
std::string FormatDouble(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

bool IsKebabCase(std::string_view key) {
  if (key.empty() || !std::islower(static_cast<unsigned char>(key.front()))) return false;
  char previous = 0;
  for (char c : key) {
    const bool ok = std::islower(static_cast<unsigned char>(c)) ||
                    std::isdigit(static_cast<unsigned char>(c)) || c == '-';
    if (!ok || (c == '-' && previous == '-')) return false;
    previous = c;
  }
  return key.back() != '-';
}

bool ParseInt(std::string_view text, int64_t& out, std::string& problem) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range) {
    problem = Quote(text) + " does not fit in a 64-bit integer";
    return false;
  }
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    problem = Quote(text) + " is not an integer";
    return false;
  }
  return true;
}

bool ParseDouble(std::string_view text, double& out, std::string& problem) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() ||
      !std::isfinite(out)) {
    problem = Quote(text) + " is not a number";
    return false;
  }
  return true;
}

bool ParseBool(std::string_view text, bool& out, std::string& problem) {
  const std::string lower = Lower(text);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
    out = true;
    return true;
  }
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
    out = false;
    return true;
  }
  problem = Quote(text) + " is not a boolean (use true or false)";
  return false;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean --port?" for a near miss, so a typo is fixed without reading --help.
std::string Suggestion(const Schema& schema, std::string_view name, std::string_view prefix) {
  const Schema::Key* best = nullptr;
  size_t best_distance = 3;
  for (const auto& key : schema.keys()) {
    const size_t distance = EditDistance(name, key.name);
    if (distance < best_distance) {
      best = &key;
      best_distance = distance;
    }
  }
  if (best == nullptr) return "";
  return "; did you mean " + std::string(prefix) + best->name + "?";
}

using Parsed = std::variant<std::string, int64_t, double, bool, mercato::Duration, uint64_t>;

// Parses and validates one textual value for `key`. On failure `problem` holds the reason.
std::optional<Parsed> ParseValue(const Schema::Key& key, std::string_view text,
                                 std::string& problem) {
  switch (key.type) {
    case Type::kString: {
      if (!key.allowed.empty() &&
          std::find(key.allowed.begin(), key.allowed.end(), text) == key.allowed.end()) {
        std::string list;
        for (const auto& allowed : key.allowed) list += (list.empty() ? "" : ", ") + allowed;
        problem = Quote(text) + " is not one of: " + list;
        return std::nullopt;
      }
      return Parsed(std::string(text));
    }
    case Type::kInt: {
      int64_t value = 0;
      if (!ParseInt(text, value, problem)) return std::nullopt;
      if (value < key.int_min || value > key.int_max) {
        problem = std::to_string(value) + " is out of range [" + std::to_string(key.int_min) +
                  ", " + std::to_string(key.int_max) + "]";
        return std::nullopt;
      }
      return Parsed(value);
    }
    case Type::kDouble: {
      double value = 0;
      if (!ParseDouble(text, value, problem)) return std::nullopt;
      if (value < key.double_min || value > key.double_max) {
        problem = FormatDouble(value) + " is out of range [" + FormatDouble(key.double_min) + ", " +
                  FormatDouble(key.double_max) + "]";
        return std::nullopt;
      }
      return Parsed(value);
    }
    case Type::kBool: {
      bool value = false;
      if (!ParseBool(text, value, problem)) return std::nullopt;
      return Parsed(value);
    }
    case Type::kDuration: {
      mercato::Duration value{};
      std::string reason;
      if (!ParseDuration(text, value, reason)) {
        problem = Quote(text) + " is not a duration: " + reason;
        return std::nullopt;
      }
      return Parsed(value);
    }
    case Type::kBytes: {
      uint64_t value = 0;
      std::string reason;
      if (!ParseBytes(text, value, reason)) {
        problem = Quote(text) + " is not a byte size: " + reason;
        return std::nullopt;
      }
      return Parsed(value);
    }
  }
  problem = "unsupported type";
  return std::nullopt;
}

std::string Describe(Type type) {
  switch (type) {
    case Type::kString:
      return "STRING";
    case Type::kInt:
      return "INT";
    case Type::kDouble:
      return "NUMBER";
    case Type::kBool:
      return "";
    case Type::kDuration:
      return "DURATION";
    case Type::kBytes:
      return "BYTES";
  }
  return "";
}

}  // namespace

std::string_view ToString(Type type) {
  switch (type) {
    case Type::kString:
      return "string";
    case Type::kInt:
      return "int";
    case Type::kDouble:
      return "double";
    case Type::kBool:
      return "bool";
    case Type::kDuration:
      return "duration";
    case Type::kBytes:
      return "bytes";
  }
  return "unknown";
}

bool ParseDuration(std::string_view text, mercato::Duration& out, std::string& problem) {
  if (text == "0") {
    out = mercato::Duration::zero();
    return true;
  }
  if (text.empty()) {
    problem = "empty (expected e.g. 5s, 250ms, 1h30m)";
    return false;
  }
  // Accumulated in long double so "1.5s" and "1h30m" need no special cases; the range check at the
  // end keeps the final conversion to int64 nanoseconds defined.
  long double total_ns = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t number_start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == number_start) {
      problem = "expected a number before " + Quote(text.substr(i)) + " (e.g. 5s, 250ms, 1h30m)";
      return false;
    }
    double number = 0;
    const std::string_view digits = text.substr(number_start, i - number_start);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      problem = Quote(digits) + " is not a number";
      return false;
    }
    const size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    long double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us")
      scale = 1e3L;
    else if (unit == "ms")
      scale = 1e6L;
    else if (unit == "s")
      scale = 1e9L;
    else if (unit == "m")
      scale = 60e9L;
    else if (unit == "h")
      scale = 3600e9L;
    else if (unit.empty()) {
      problem = "missing unit (use ns, us, ms, s, m or h)";
      return false;
    } else {
      problem = "unknown unit " + Quote(unit) + " (use ns, us, ms, s, m or h)";
      return false;
    }
    total_ns += static_cast<long double>(number) * scale;
  }
  if (total_ns > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    problem = "too large";
    return false;
  }
  out = mercato::Duration(static_cast<int64_t>(std::llround(static_cast<double>(total_ns))));
  return true;
}

bool ParseBytes(std::string_view text, uint64_t& out, std::string& problem) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) {
    problem = "expected a whole number with an optional unit (e.g. 512, 64KiB, 1MiB)";
    return false;
  }
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc() || end != text.data() + i) {
    problem = "too large";
    return false;
  }
  const std::string unit = Lower(text.substr(i));
  uint64_t scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "kb")
    scale = 1000ULL;
  else if (unit == "mb")
    scale = 1000ULL * 1000;
  else if (unit == "gb")
    scale = 1000ULL * 1000 * 1000;
  else if (unit == "tb")
    scale = 1000ULL * 1000 * 1000 * 1000;
  else if (unit == "kib")
    scale = 1ULL << 10;
  else if (unit == "mib")
    scale = 1ULL << 20;
  else if (unit == "gib")
    scale = 1ULL << 30;
  else if (unit == "tib")
    scale = 1ULL << 40;
  else {
    problem =
        "unknown unit " + Quote(text.substr(i)) + " (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)";
    return false;
  }
  if (__builtin_mul_overflow(number, scale, &out)) {
    problem = "too large";
    return false;
  }
  return true;
}

std::string EnvVarName(std::string_view service, std::string_view key) {
  std::string name = "MERCATO_";
  for (char c : service)
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  name += '_';
  for (char c : key)
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// --- Schema -----------------------------------------------------------------------------------

Schema::Key& Schema::Add(std::string key, Type type, std::string default_text, std::string help) {
  if (!IsKebabCase(key)) throw std::logic_error("config key '" + key + "' is not kebab-case");
  if (key == kConfigKey || key == "help")
    throw std::logic_error("config key '" + key + "' is reserved");
  if (Has(key)) throw std::logic_error("config key '" + key + "' is declared twice");
  Key& added = keys_.emplace_back();
  added.name = std::move(key);
  added.type = type;
  added.default_text = std::move(default_text);
  added.help = std::move(help);
  return added;
}

Schema& Schema::String(std::string key, std::string default_value, std::string help) {
  Add(std::move(key), Type::kString, std::move(default_value), std::move(help));
  return *this;
}

Schema& Schema::Int(std::string key, int64_t default_value, std::string help, int64_t min,
                    int64_t max) {
  if (min > max || default_value < min || default_value > max) {
    throw std::logic_error("config key '" + key + "': default or range is inconsistent");
  }
  Key& added = Add(std::move(key), Type::kInt, std::to_string(default_value), std::move(help));
  added.int_min = min;
  added.int_max = max;
  return *this;
}

Schema& Schema::Double(std::string key, double default_value, std::string help, double min,
                       double max) {
  if (!std::isfinite(default_value) || !(min <= max) || default_value < min ||
      default_value > max) {
    throw std::logic_error("config key '" + key + "': default or range is inconsistent");
  }
  Key& added = Add(std::move(key), Type::kDouble, FormatDouble(default_value), std::move(help));
  added.double_min = min;
  added.double_max = max;
  return *this;
}

Schema& Schema::Bool(std::string key, bool default_value, std::string help) {
  Add(std::move(key), Type::kBool, default_value ? "true" : "false", std::move(help));
  return *this;
}

Schema& Schema::Duration(std::string key, std::string default_value, std::string help) {
  mercato::Duration parsed{};
  std::string problem;
  if (!ParseDuration(default_value, parsed, problem)) {
    throw std::logic_error("config key '" + key + "': default '" + default_value + "': " + problem);
  }
  Add(std::move(key), Type::kDuration, std::move(default_value), std::move(help));
  return *this;
}

Schema& Schema::Bytes(std::string key, std::string default_value, std::string help) {
  uint64_t parsed = 0;
  std::string problem;
  if (!ParseBytes(default_value, parsed, problem)) {
    throw std::logic_error("config key '" + key + "': default '" + default_value + "': " + problem);
  }
  Add(std::move(key), Type::kBytes, std::move(default_value), std::move(help));
  return *this;
}

Schema& Schema::OneOf(const std::string& key, std::vector<std::string> allowed) {
  auto it = std::find_if(keys_.begin(), keys_.end(), [&](const Key& k) { return k.name == key; });
  if (it == keys_.end() || it->type != Type::kString) {
    throw std::logic_error("OneOf('" + key + "'): not a declared string key");
  }
  if (allowed.empty() ||
      std::find(allowed.begin(), allowed.end(), it->default_text) == allowed.end()) {
    throw std::logic_error("OneOf('" + key + "'): the default '" + it->default_text +
                           "' is not allowed");
  }
  it->allowed = std::move(allowed);
  return *this;
}

bool Schema::Has(std::string_view key) const { return Find(key) != nullptr; }

const Schema::Key* Schema::Find(std::string_view key) const {
  for (const auto& k : keys_) {
    if (k.name == key) return &k;
  }
  return nullptr;
}

std::string Schema::HelpText(std::string_view program, std::string_view service) const {
  std::ostringstream out;
  out << "Usage: " << program << " [flags]\n\n"
      << "Every setting comes from, in rising precedence: its default, the JSON config file,\n"
      << "the environment, a flag. Flags take --key=value or --key value.\n\n"
      << "Flags:\n";
  out << "  --config PATH\n"
      << "        JSON object file with any of the keys below, e.g. {\"port\": 8080}\n"
      << "        env " << EnvVarName(service, kConfigKey) << "\n";
  for (const auto& key : keys_) {
    out << "  --" << key.name;
    if (key.type == Type::kBool) {
      out << ", --no-" << key.name;
    } else {
      out << ' ' << Describe(key.type);
    }
    out << "  (" << ToString(key.type) << ", default ";
    if (key.type == Type::kString) {
      out << '"' << key.default_text << '"';
    } else {
      out << key.default_text;
    }
    if (key.type == Type::kInt && (key.int_min != std::numeric_limits<int64_t>::min() ||
                                   key.int_max != std::numeric_limits<int64_t>::max())) {
      out << ", range [" << key.int_min << ", " << key.int_max << "]";
    }
    if (key.type == Type::kDouble &&
        (std::isfinite(key.double_min) || std::isfinite(key.double_max))) {
      out << ", range [" << FormatDouble(key.double_min) << ", " << FormatDouble(key.double_max)
          << "]";
    }
    if (!key.allowed.empty()) {
      out << ", one of:";
      for (size_t i = 0; i < key.allowed.size(); ++i)
        out << (i == 0 ? " " : ", ") << key.allowed[i];
    }
    out << ")\n";
    if (!key.help.empty()) out << "        " << key.help << "\n";
    out << "        env " << EnvVarName(service, key.name) << "\n";
  }
  out << "  -h, --help\n"
      << "        Print this help and exit.\n";
  return out.str();
}

// --- Loading ----------------------------------------------------------------------------------

// Keeps Load's steps (flags, file, env) as named functions without putting them in the header.
class ConfigLoader {
 public:
  ConfigLoader(std::string_view service, const Schema& schema,
               const std::map<std::string, std::string>* env)
      : service_(service), schema_(schema), env_(env) {}

  Config Load(int argc, const char* const* argv) {
    Config config;
    config.service_ = std::string(service_);
    for (const auto& key : schema_.keys()) {
      std::string problem;
      auto value = ParseValue(key, key.default_text, problem);
      if (!value) throw std::logic_error("config key '" + key.name + "': bad default: " + problem);
      config.entries_.insert_or_assign(
          key.name, Config::Entry{key.type, std::move(*value), std::string(kSourceDefault)});
    }

    // Flags are parsed first (they name the config file) but applied last (they win).
    ParseFlags(argc, argv);

    std::string file_name;  // how the file was named, for errors: "--config" or the env var
    std::string file_source;
    if (config_flag_) {
      config.file_ = *config_flag_;
      file_name = "--config";
      file_source = kSourceFlag;
    } else if (auto from_env = Env(EnvVarName(service_, kConfigKey))) {
      config.file_ = *from_env;
      file_name = EnvVarName(service_, kConfigKey);
      file_source = kSourceEnv;
    }
    if (!config.file_.empty()) ApplyFile(config, config.file_, file_name, file_source);

    for (const auto& key : schema_.keys()) {
      const std::string name = EnvVarName(service_, key.name);
      if (auto text = Env(name)) Set(config, key, *text, name, kSourceEnv, kSourceEnv);
    }
    for (const auto& [key, text, flag] : flags_)
      Set(config, *key, text, flag, kSourceFlag, kSourceFlag);
    return config;
  }

 private:
  struct FlagValue {
    const Schema::Key* key;
    std::string text;
    std::string flag;  // as written, for errors ("--no-verbose")
  };

  [[noreturn]] static void Fail(std::string_view name, std::string_view problem,
                                std::string_view source) {
    throw ConfigError(std::string(name) + ": " + std::string(problem) + " (" + std::string(source) +
                      ")");
  }

  std::optional<std::string> Env(const std::string& name) const {
    if (env_ != nullptr) {
      auto it = env_->find(name);
      if (it == env_->end()) return std::nullopt;
      return it->second;
    }
    const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): start-up only
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  }

  void Set(Config& config, const Schema::Key& key, std::string_view text, std::string_view name,
           std::string_view source_for_error, std::string_view source) {
    std::string problem;
    auto value = ParseValue(key, text, problem);
    if (!value) Fail(name, problem, source_for_error);
    auto& entry = config.entries_.at(key.name);
    entry.value = std::move(*value);
    entry.source = std::string(source);
  }

  void ParseFlags(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "-h" || arg == "--help") throw HelpRequested();
      if (arg == "--") {
        if (i + 1 < argc) Fail(Quote(argv[i + 1]), "unexpected positional argument", kSourceFlag);
        return;
      }
      if (arg.size() < 3 || arg.substr(0, 2) != "--") {
        if (!arg.empty() && arg.front() == '-') Fail(arg, "unknown flag; see --help", kSourceFlag);
        Fail(Quote(arg), "unexpected positional argument (flags look like --key=value)",
             kSourceFlag);
      }
      const std::string_view body = arg.substr(2);
      const size_t equals = body.find('=');
      const std::string_view name = body.substr(0, equals);
      std::optional<std::string> inline_value;
      if (equals != std::string_view::npos) inline_value = std::string(body.substr(equals + 1));
      const std::string flag = "--" + std::string(name);

      // A value taken from the next argument; one starting with "--" is the next flag, not a value.
      auto next_value = [&]() -> std::string {
        if (inline_value) return *inline_value;
        if (i + 1 >= argc || std::string_view(argv[i + 1]).substr(0, 2) == "--") {
          Fail(flag, "missing value", kSourceFlag);
        }
        return argv[++i];
      };

      if (name == kConfigKey) {
        config_flag_ = next_value();
        if (config_flag_->empty()) Fail(flag, "empty path", kSourceFlag);
        continue;
      }
      const Schema::Key* key = schema_.Find(name);
      if (key == nullptr && name.substr(0, 3) == "no-") {
        const Schema::Key* positive = schema_.Find(name.substr(3));
        if (positive != nullptr && positive->type == Type::kBool) {
          if (inline_value)
            Fail(flag, "takes no value (use --" + positive->name + "=VALUE)", kSourceFlag);
          flags_.push_back({positive, "false", flag});
          continue;
        }
      }
      if (key == nullptr) Fail(flag, "unknown flag" + Suggestion(schema_, name, "--"), kSourceFlag);
      if (key->type == Type::kBool) {
        // "--verbose false" is not accepted: it would make "false" ambiguous with a positional.
        flags_.push_back({key, inline_value.value_or("true"), flag});
      } else {
        flags_.push_back({key, next_value(), flag});
      }
    }
  }

  void ApplyFile(Config& config, const std::string& path, const std::string& name,
                 const std::string& source) {
    std::ifstream in(path, std::ios::binary);
    if (!in) Fail(name, "cannot read " + Quote(path) + ": " + std::strerror(errno), source);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) Fail(name, "cannot read " + Quote(path), source);

    boost::system::error_code ec;
    boost::json::value document = boost::json::parse(buffer.str(), ec);
    if (ec) Fail(name, Quote(path) + " is not valid JSON: " + ec.message(), source);
    if (!document.is_object()) Fail(name, Quote(path) + " must hold a JSON object", source);

    const std::string where = std::string(kSourceFile) + " " + path;
    for (const auto& [json_key, json_value] : document.as_object()) {
      const std::string_view key_name(json_key.data(), json_key.size());
      const Schema::Key* key = schema_.Find(key_name);
      if (key == nullptr) Fail(key_name, "unknown key" + Suggestion(schema_, key_name, ""), where);
      std::string text;
      if (json_value.is_string()) {
        text = std::string(json_value.as_string());
      } else if (key->type == Type::kString || key->type == Type::kDuration) {
        // A bare number for a duration has no unit; for a string it is probably a mistake.
        Fail(key_name,
             key->type == Type::kString ? "expected a JSON string"
                                        : "expected a string with a unit, e.g. \"5s\"",
             where);
      } else if (json_value.is_bool()) {
        text = json_value.as_bool() ? "true" : "false";
      } else if (json_value.is_int64()) {
        text = std::to_string(json_value.as_int64());
      } else if (json_value.is_uint64()) {
        text = std::to_string(json_value.as_uint64());
      } else if (json_value.is_double()) {
        text = FormatDouble(json_value.as_double());
      } else {
        Fail(key_name,
             "expected a " + std::string(ToString(key->type)) + ", got " +
                 (json_value.is_null()    ? "null"
                  : json_value.is_array() ? "an array"
                                          : "an object"),
             where);
      }
      if (key->type == Type::kBool && !json_value.is_bool() && !json_value.is_string()) {
        Fail(key_name, "expected true or false", where);
      }
      Set(config, *key, text, key_name, where, kSourceFile);
    }
  }

  std::string_view service_;
  const Schema& schema_;
  const std::map<std::string, std::string>* env_;
  std::optional<std::string> config_flag_;
  std::vector<FlagValue> flags_;
};

Config Config::Load(std::string_view service, const Schema& schema, int argc,
                    const char* const* argv, const std::map<std::string, std::string>* env) {
  return ConfigLoader(service, schema, env).Load(argc, argv);
}

Config Config::LoadOrExit(std::string_view service, const Schema& schema, int argc,
                          const char* const* argv) {
  std::string program(service);
  if (argc > 0 && argv[0] != nullptr && argv[0][0] != '\0') {
    program = argv[0];
    if (auto slash = program.rfind('/'); slash != std::string::npos) program.erase(0, slash + 1);
  }
  try {
    return Load(service, schema, argc, argv);
  } catch (const HelpRequested&) {
    std::cout << schema.HelpText(program, service) << std::flush;
    std::exit(0);  // NOLINT(concurrency-mt-unsafe): start-up, before any thread exists
  } catch (const ConfigError& e) {
    std::cerr << program << ": " << e.what() << std::endl;
    std::exit(2);  // NOLINT(concurrency-mt-unsafe)
  }
}

// --- Access -----------------------------------------------------------------------------------

const Config::Entry& Config::Get(std::string_view key, Type type) const {
  auto it = entries_.find(key);
  if (it == entries_.end())
    throw std::logic_error("config key '" + std::string(key) + "' is not declared");
  if (it->second.type != type) {
    throw std::logic_error("config key '" + std::string(key) + "' is " +
                           std::string(ToString(it->second.type)) + ", not " +
                           std::string(ToString(type)));
  }
  return it->second;
}

std::string Config::GetString(std::string_view key) const {
  return std::get<std::string>(Get(key, Type::kString).value);
}
int64_t Config::GetInt(std::string_view key) const {
  return std::get<int64_t>(Get(key, Type::kInt).value);
}
double Config::GetDouble(std::string_view key) const {
  return std::get<double>(Get(key, Type::kDouble).value);
}
bool Config::GetBool(std::string_view key) const {
  return std::get<bool>(Get(key, Type::kBool).value);
}
mercato::Duration Config::GetDuration(std::string_view key) const {
  return std::get<mercato::Duration>(Get(key, Type::kDuration).value);
}
uint64_t Config::GetBytes(std::string_view key) const {
  return std::get<uint64_t>(Get(key, Type::kBytes).value);
}

std::string Config::Source(std::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end())
    throw std::logic_error("config key '" + std::string(key) + "' is not declared");
  return it->second.source;
}

}  // namespace mercato::config
