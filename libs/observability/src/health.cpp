#include "mercato/observability/health.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "json_util.hpp"
#include "mercato/observability/log.hpp"

namespace mercato::obs {

namespace {

using SteadyClock = std::chrono::steady_clock;

double MillisecondsBetween(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

CheckResult Invoke(const std::function<CheckResult()>& check) {
  try {
    return check();
  } catch (const std::exception& e) {
    return CheckResult::Down(e.what());
  } catch (...) {
    return CheckResult::Down("check threw an unknown exception");
  }
}

}  // namespace

// Shared by Run() and the check's thread, so either may finish first.
struct HealthRegistry::Execution {
  SteadyClock::time_point started = SteadyClock::now();
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;      // guarded by mutex
  CheckResult result;     // guarded by mutex; valid once done
  double latency_ms = 0;  // guarded by mutex; valid once done
};

void HealthRegistry::Add(std::string name, std::function<CheckResult()> check, bool critical) {
  std::lock_guard lock(mutex_);
  checks_.push_back({std::move(name), std::move(check), critical, nullptr});
}

HealthRegistry::Report HealthRegistry::Run(Duration timeout) const {
  // Clamped so that now + timeout cannot overflow: a probe has no use for a day-long wait.
  timeout = std::clamp<Duration>(timeout, Duration::zero(), std::chrono::hours(24));
  const auto deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(timeout);
  struct Pending {
    std::string name;
    bool critical;
    std::shared_ptr<Execution> execution;
    std::function<CheckResult()> fn;  // set when this run must start the execution
  };
  std::vector<Pending> pending;
  {
    // Threads start outside the lock: a slow spawn must not block Add() or a concurrent probe.
    std::lock_guard lock(mutex_);
    pending.reserve(checks_.size());
    for (Check& check : checks_) {
      Pending p{check.name, check.critical, check.last, nullptr};
      bool running = false;
      if (p.execution) {
        std::lock_guard execution_lock(p.execution->mutex);
        running = !p.execution->done;
      }
      if (!running) {
        p.execution = std::make_shared<Execution>();
        p.fn = check.fn;
        check.last = p.execution;
      }
      pending.push_back(std::move(p));
    }
  }

  for (Pending& p : pending) {
    if (!p.fn) continue;  // still running from an earlier probe: wait for that one
    try {
      // Detached: a hung check must not hold up the probe, nor the registry's destruction. The
      // thread owns the check (a copy) and its share of the execution.
      std::thread([fn = std::move(p.fn), execution = p.execution] {
        CheckResult result = Invoke(fn);
        const auto now = SteadyClock::now();
        {
          std::lock_guard lock(execution->mutex);
          execution->result = std::move(result);
          execution->latency_ms = MillisecondsBetween(execution->started, now);
          execution->done = true;
        }
        execution->finished.notify_all();
      }).detach();
    } catch (const std::system_error& e) {  // no thread to be had: report it rather than throw
      std::lock_guard lock(p.execution->mutex);
      p.execution->result = CheckResult::Down(std::string("could not start check: ") + e.what());
      p.execution->done = true;
    }
  }

  const auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  Report report;
  report.checks.reserve(pending.size());
  for (Pending& p : pending) {
    Entry entry;
    entry.name = std::move(p.name);
    entry.critical = p.critical;
    Execution& execution = *p.execution;
    std::unique_lock lock(execution.mutex);
    // One deadline for all: the checks run concurrently, so the probe takes about the slowest.
    if (execution.finished.wait_until(lock, deadline, [&execution] { return execution.done; })) {
      entry.up = execution.result.up;
      entry.detail = execution.result.detail;
      entry.latency_ms = execution.latency_ms;
    } else {
      entry.up = false;
      entry.detail = "timed out after " + std::to_string(timeout_ms) + "ms";
      entry.latency_ms = MillisecondsBetween(execution.started, SteadyClock::now());
    }
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
