// Readiness checks. Each dependency a service needs (its database, the broker, an upstream)
// registers a check; /health/ready runs them all and answers 503 if any critical one is down:
//   {"status":"ready","checks":[{"name":"sqlite","status":"up","latency_ms":0.21}]}
// Checks are blocking functions: the server runs them off its network threads.
//
//   health.Add("sqlite", [&db] { return db.Ping() ? CheckResult::Up() : CheckResult::Down("locked"); });
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

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

  // A non-critical check is reported but does not make the service unready.
  void Add(std::string name, std::function<CheckResult()> check, bool critical = true);
  // Runs every check (a throwing check counts as down); blocking.
  Report Run() const;
  static std::string ToJson(const Report& report);

 private:
  struct Check {
    std::string name;
    std::function<CheckResult()> fn;
    bool critical;
  };
  mutable std::mutex mutex_;
  std::vector<Check> checks_;
};

}  // namespace mercato::obs
