// Structured JSON logs, one object per line on stderr (or a file descriptor you choose):
//   {"ts":"...","level":"info","service":"hello","msg":"listening","trace_id":"..","span_id":"..",
//    "correlation_id":"..","port":8080}
// A Logger is a cheap value that carries the ids of one request or job; the free functions log
// with no ids. Formatting happens in a thread-local buffer and the line goes out in one write(2),
// so lines from different threads never interleave.
//
//   obs::ConfigureLogging("hello", obs::LogLevel::kInfo);
//   obs::Logger(ctx.LogIds()).Warn("payment declined", {{"order_id", id}, {"attempt", 2}});
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mercato::obs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug" | "info" | "warn" | "error"; false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel& out);

// A field value. Strings are escaped; never pass secrets, tokens, passwords or card data.
using LogValue = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
struct LogField {
  std::string_view key;
  LogValue value;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
  LogField(std::string_view k, I v)
      : key(k), value(std::is_signed_v<I> ? LogValue(static_cast<int64_t>(v))
                                          : LogValue(static_cast<uint64_t>(v))) {}
};
using LogFields = std::initializer_list<LogField>;

// The ids a log line carries. Views: the owner (a request context) outlives the Logger.
struct LogIds {
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view correlation_id;
};

// Process-wide settings; call once at start. `fd` defaults to stderr.
void ConfigureLogging(std::string service, LogLevel min_level, int fd = 2);
void SetLogLevel(LogLevel min_level);
bool LogEnabled(LogLevel level);

class Logger {
 public:
  Logger() = default;
  explicit Logger(LogIds ids) : ids_(ids) {}

  void Debug(std::string_view msg, LogFields fields = {}) const { Write(LogLevel::kDebug, msg, fields); }
  void Info(std::string_view msg, LogFields fields = {}) const { Write(LogLevel::kInfo, msg, fields); }
  void Warn(std::string_view msg, LogFields fields = {}) const { Write(LogLevel::kWarn, msg, fields); }
  void Error(std::string_view msg, LogFields fields = {}) const { Write(LogLevel::kError, msg, fields); }
  void Write(LogLevel level, std::string_view msg, LogFields fields) const;

 private:
  LogIds ids_;
};

// Logging without request ids (start-up, background jobs).
inline void LogDebug(std::string_view msg, LogFields f = {}) { Logger().Debug(msg, f); }
inline void LogInfo(std::string_view msg, LogFields f = {}) { Logger().Info(msg, f); }
inline void LogWarn(std::string_view msg, LogFields f = {}) { Logger().Warn(msg, f); }
inline void LogError(std::string_view msg, LogFields f = {}) { Logger().Error(msg, f); }

// Appends `text` to `out` as the body of a JSON string (quotes not included), escaping control
// characters, quotes and backslashes; invalid UTF-8 bytes become U+FFFD.
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace mercato::obs
