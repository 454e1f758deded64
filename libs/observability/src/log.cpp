#include "mercato/observability/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#include "json_util.hpp"
#include "mercato/core/clock.hpp"

namespace mercato::obs {
namespace {

struct LogConfig {
  std::string service;
  int fd = 2;
};

// The level is read on every call, so it lives in its own atomic and is read relaxed: a level
// change becoming visible a few lines late is harmless.
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

// Published with release/acquire and never freed while the process runs: ConfigureLogging keeps
// every config it replaces (see there), which is what lets writers read it without a lock.
// Until ConfigureLogging runs (tools, tests), lines name the program.
const LogConfig kDefaultLogConfig{program_invocation_short_name, 2};
std::atomic<const LogConfig*> g_config{&kDefaultLogConfig};

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendKey(std::string& out, std::string_view key) {
  out += ",\"";
  AppendJsonEscaped(out, key);
  out += "\":";
}

void AppendStringField(std::string& out, std::string_view key, std::string_view value) {
  AppendKey(out, key);
  out += '"';
  AppendJsonEscaped(out, value);
  out += '"';
}

// One write(2) per line keeps lines from different threads whole; a partial write (a full pipe,
// a signal) resumes where it stopped.
void WriteAll(int fd, const std::string& line) {
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a logging failure
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel& out) {
  if (text == "debug")
    out = LogLevel::kDebug;
  else if (text == "info")
    out = LogLevel::kInfo;
  else if (text == "warn")
    out = LogLevel::kWarn;
  else if (text == "error")
    out = LogLevel::kError;
  else
    return false;
  return true;
}

void ConfigureLogging(std::string service, LogLevel min_level, int fd) {
  // Writers read the config without a lock, so a replaced one is retired, never freed; the list
  // keeps it reachable (reconfiguration happens once per process, a few times in tests).
  static std::mutex retired_mutex;
  static std::vector<std::unique_ptr<LogConfig>> retired;
  auto config = std::make_unique<LogConfig>(LogConfig{std::move(service), fd});
  std::lock_guard lock(retired_mutex);
  g_config.store(config.get(), std::memory_order_release);
  retired.push_back(std::move(config));
  SetLogLevel(min_level);
}

void SetLogLevel(LogLevel min_level) {
  g_min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void Logger::Write(LogLevel level, std::string_view msg, LogFields fields) const {
  if (!LogEnabled(level)) return;
  const LogConfig* config = g_config.load(std::memory_order_acquire);

  thread_local std::string line;
  line.clear();
  line += "{\"ts\":\"";
  line += FormatRfc3339(std::chrono::system_clock::now());
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += '"';
  AppendStringField(line, "service", config->service);
  AppendStringField(line, "msg", msg);
  if (!ids_.trace_id.empty()) AppendStringField(line, "trace_id", ids_.trace_id);
  if (!ids_.span_id.empty()) AppendStringField(line, "span_id", ids_.span_id);
  if (!ids_.correlation_id.empty()) AppendStringField(line, "correlation_id", ids_.correlation_id);

  for (const LogField& field : fields) {
    AppendKey(line, field.key);
    std::visit(
        [](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            line += '"';
            AppendJsonEscaped(line, v);
            line += '"';
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            AppendJsonDouble(line, v);
          } else {
            char buf[24];
            auto result = std::to_chars(buf, buf + sizeof buf, v);
            line.append(buf, result.ptr);
          }
        },
        field.value);
  }
  line += "}\n";
  WriteAll(config->fd, line);
}

void AppendJsonDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buf[32];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::string_view kReplacement = "\\ufffd";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Multi-byte sequence: validate per RFC 3629 (no overlongs, no surrogates, <= U+10FFFF).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    }
    bool valid = len != 0 && i + len <= n && s[i + 1] >= lo && s[i + 1] <= hi;
    for (size_t k = 2; valid && k < len; ++k) valid = (s[i + k] & 0xc0) == 0x80;
    if (!valid) {
      out += kReplacement;
      ++i;  // resynchronise on the next byte
      continue;
    }
    out.append(text.data() + i, len);
    i += len;
  }
}

}  // namespace mercato::obs
