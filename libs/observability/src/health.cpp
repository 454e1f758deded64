#include "mercato/observability/health.hpp"

#include <chrono>
#include <exception>

#include "json_util.hpp"
#include "mercato/observability/log.hpp"

namespace mercato::obs {

void HealthRegistry::Add(std::string name, std::function<CheckResult()> check, bool critical) {
  std::lock_guard lock(mutex_);
  checks_.push_back({std::move(name), std::move(check), critical});
}

HealthRegistry::Report HealthRegistry::Run() const {
  std::vector<Check> checks;
  {
    // Run outside the lock: a slow check must not block Add() or a concurrent probe.
    std::lock_guard lock(mutex_);
    checks = checks_;
  }
  Report report;
  report.checks.reserve(checks.size());
  for (const Check& check : checks) {
    Entry entry;
    entry.name = check.name;
    entry.critical = check.critical;
    const auto started = std::chrono::steady_clock::now();
    try {
      CheckResult result = check.fn();
      entry.up = result.up;
      entry.detail = std::move(result.detail);
    } catch (const std::exception& e) {
      entry.up = false;
      entry.detail = e.what();
    } catch (...) {
      entry.up = false;
      entry.detail = "check threw an unknown exception";
    }
    entry.latency_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    if (!entry.up && entry.critical) report.ready = false;
    report.checks.push_back(std::move(entry));
  }
  return report;
}

std::string HealthRegistry::ToJson(const Report& report) {
  std::string out =
      report.ready ? R"({"status":"ready","checks":[)" : R"({"status":"not_ready","checks":[)";
  for (size_t i = 0; i < report.checks.size(); ++i) {
    const Entry& e = report.checks[i];
    if (i > 0) out += ',';
    out += R"({"name":")";
    AppendJsonEscaped(out, e.name);
    out += e.up ? R"(","status":"up")" : R"(","status":"down")";
    out += e.critical ? R"(,"critical":true)" : R"(,"critical":false)";
    out += R"(,"latency_ms":)";
    AppendJsonDouble(out, e.latency_ms);
    if (!e.detail.empty()) {
      out += R"(,"detail":")";
      AppendJsonEscaped(out, e.detail);
      out += '"';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace mercato::obs
