// Readiness checks. Each dependency a service needs (its database, the broker, an upstream)
// registers a check; /health/ready runs them all and answers 503 if any critical one is down:
//   {"status":"ready","checks":[{"name":"sqlite","status":"up","latency_ms":0.21}]}
// Checks are blocking functions: the server runs them off its network threads, each on its own
// thread, and one that has not answered within Run()'s timeout is reported down.
//
//   health.Add("sqlite", [&db] { return db.Ping() ? CheckResult::Up() : CheckResult::Down("locked"); });
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mercato/core/clock.hpp"

namespace mercato::obs {

struct CheckResult {
  bool up = true;
  std::string detail;
  static CheckResult Up(std::string detail = {}) { return {true, std::move(detail)}; }
  static CheckResult Down(std::string detail) { return {false, std::move(detail)}; }
};

class HealthRegistry {
 public:
  struct Entry {
    std::string name;
    bool up = false;
    bool critical = true;
    double latency_ms = 0;
    std::string detail;
  };
  struct Report {
    bool ready = true;
    std::vector<Entry> checks;
  };

  // A non-critical check is reported but does not make the service unready. A check may still
  // be running after Run() has given up on it, so whatever it refers to must outlive the
  // registry's last Run() by the check's own worst case, not just the registry.
  void Add(std::string name, std::function<CheckResult()> check, bool critical = true);
  // Runs every check concurrently, each on a thread of its own, and returns within about
  // `timeout` (blocking). A throwing check counts as down; so does one still running at the
  // timeout ("timed out after Nms"), whose thread is left to finish on its own. While it hangs,
  // later runs wait for that same execution instead of starting another thread, so a stuck
  // dependency costs one thread per check, not one per probe.
  Report Run(Duration timeout = std::chrono::seconds(2)) const;
  static std::string ToJson(const Report& report);

 private:
  struct Execution;  // one run of one check, shared with the thread that performs it
  struct Check {
    std::string name;
    std::function<CheckResult()> fn;
    bool critical;
    std::shared_ptr<Execution> last;  // the most recent execution, possibly still running
  };
  mutable std::mutex mutex_;
  mutable std::vector<Check> checks_;
};

}  // namespace mercato::obs
