// The service host: what every Mercato binary's main() builds on. It turns a Config into a
// running HTTP server with the standard endpoints (/health/live, /health/ready, /metrics,
// /openapi.yaml), JSON logging, process metrics, optional OTLP trace export and graceful
// shutdown on SIGTERM; the service adds its routes, health checks and background tasks.
//
//   int main(int argc, char** argv) {
//     auto config = config::Config::LoadOrExit("hello", service::BaseSchema(8190), argc, argv);
//     service::Service service("hello", config);
//     hello::Register(service);                 // routes, checks, storage
//     return service.Run();
//   }
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/config/config.hpp"
#include "mercato/http/router.hpp"
#include "mercato/http/server.hpp"
#include "mercato/observability/health.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::service {

// The keys every service accepts (port, host, data-dir, threads, log-level, limits, timeouts,
// otlp-endpoint, port-file, ...). Services add their own keys to the returned schema.
config::Schema BaseSchema(int default_port);

class Service {
 public:
  Service(std::string name, config::Config config);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  const config::Config& config() const { return config_; }
  // The service's data directory (created on construction).
  const std::string& data_dir() const { return data_dir_; }
  http::Router& router() { return router_; }
  obs::HealthRegistry& health() { return health_; }
  obs::Registry& metrics() { return obs::Registry::Default(); }
  // Who may call the chassis' operator endpoints (/admin/..., e.g. the bus' dead letters). A
  // service with authentication sets a guard (identity: an admin token); without one they are
  // open, which is only acceptable because services bind to 127.0.0.1 by default.
  // A coroutine, so a guard may look the caller up (are they still an active admin?).
  using AdminGuard = std::function<Task<Result<void>>(http::RequestContext&)>;
  void SetAdminGuard(AdminGuard guard) { admin_guard_ = std::move(guard); }
  // Ok when allowed; unauthenticated / permission_denied otherwise.
  Task<Result<void>> CheckAdmin(http::RequestContext& ctx) const;
  // The OpenAPI document served at GET /openapi.yaml.
  void SetOpenApi(std::string yaml) { openapi_ = std::move(yaml); }

  // The server (created by the constructor; listening only once Run() starts).
  http::Server& server() { return *server_; }

  // Listens, serves until SIGTERM/SIGINT has drained, flushes telemetry; returns the exit code.
  int Run();

 private:
  void AddStandardRoutes();
  std::string name_;
  config::Config config_;
  std::string data_dir_;
  http::Router router_;
  obs::HealthRegistry health_;
  std::string openapi_;
  AdminGuard admin_guard_;
  std::unique_ptr<http::Server> server_;
  std::shared_ptr<obs::SpanExporter> exporter_;
};

}  // namespace mercato::service
