#include "mercato/service/service.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mercato/http/blocking_client.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/observability/otlp_exporter.hpp"

namespace mercato::service {

config::Schema BaseSchema(int default_port) {
  config::Schema schema;
  schema.Int("port", default_port, "TCP port to listen on (0: an ephemeral port)", 0, 65535)
      .String("host", "127.0.0.1", "address to bind")
      .String("data-dir", "./data", "directory for databases, secrets and state")
      .Int("threads", 1, "event-loop threads", 1, 64)
      .String("log-level", "info", "minimum log level")
      .OneOf("log-level", {"debug", "info", "warn", "error"})
      .Bool("access-log", false, "log every request (errors are always logged)")
      .Int("max-connections", 10000, "open connections beyond which new ones get 503", 1, 1000000)
      .Bytes("max-header-bytes", "16KiB", "largest request header accepted (else 431)")
      .Bytes("max-body-bytes", "1MiB", "largest request body accepted (else 413)")
      .Duration("header-timeout", "10s", "time to receive a request header; idle keep-alive timeout (else 408)")
      .Duration("body-timeout", "30s", "time to receive a request body (else 408)")
      .Duration("request-timeout", "30s", "default deadline of a request")
      .Duration("drain-timeout", "20s", "on SIGTERM, how long in-flight requests may take")
      .String("otlp-endpoint", "", "OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); empty: no export")
      .String("port-file", "", "write the bound port to this file once listening (for tools and tests)");
  return schema;
}

Task<Result<void>> Service::CheckAdmin(http::RequestContext& ctx) const {
  if (!admin_guard_) co_return Ok();
  co_return co_await admin_guard_(ctx);
}

Service::Service(std::string name, config::Config config)
    : name_(std::move(name)), config_(std::move(config)) {
  obs::LogLevel level = obs::LogLevel::kInfo;
  obs::ParseLogLevel(config_.GetString("log-level"), level);
  obs::ConfigureLogging(name_, level);

  data_dir_ = config_.GetString("data-dir");
  std::error_code ec;
  std::filesystem::create_directories(data_dir_, ec);
  if (ec) {
    throw std::runtime_error("cannot create data directory " + data_dir_ + ": " + ec.message());
  }

  obs::RegisterProcessMetrics(metrics());
  metrics().AddGauge("mercato_build_info", "Always 1; labels name the service", {"service"})
      .WithLabels({name_})
      .Set(1);

  if (auto endpoint = config_.GetString("otlp-endpoint"); !endpoint.empty()) {
    std::string url = endpoint + "/v1/traces";
    exporter_ = std::make_shared<obs::OtlpExporter>(
        obs::OtlpExporter::Options{.service_name = name_}, [url](const std::string& body) {
          auto r = http::BlockingRequest({.method = "POST",
                                          .url = url,
                                          .headers = {{"Content-Type", "application/json"}},
                                          .body = body,
                                          .timeout = std::chrono::seconds(2)});
          return r && r->status >= 200 && r->status < 300;
        });
    obs::SetSpanExporter(exporter_);
  }

  http::ServerOptions options;
  options.service_name = name_;
  options.host = config_.GetString("host");
  options.port = static_cast<uint16_t>(config_.GetInt("port"));
  options.threads = static_cast<int>(config_.GetInt("threads"));
  options.max_connections = static_cast<int>(config_.GetInt("max-connections"));
  options.max_header_bytes = config_.GetBytes("max-header-bytes");
  options.max_body_bytes = config_.GetBytes("max-body-bytes");
  options.header_timeout = config_.GetDuration("header-timeout");
  options.body_timeout = config_.GetDuration("body-timeout");
  options.request_timeout = config_.GetDuration("request-timeout");
  options.drain_timeout = config_.GetDuration("drain-timeout");
  options.access_log = config_.GetBool("access-log");
  server_ = std::make_unique<http::Server>(options, router_, metrics());
}

Service::~Service() {
  if (exporter_) obs::SetSpanExporter(nullptr);
}

void Service::AddStandardRoutes() {
  router_.Add(http::Method::kGet, "/health/live", [](http::RequestContext&) -> Task<http::Response> {
    co_return http::RawJson(200, R"({"status":"live"})");
  });
  router_.Add(http::Method::kGet, "/health/ready", [this](http::RequestContext&) -> Task<http::Response> {
    obs::HealthRegistry::Report report;
    if (server_->stopping()) {
      report.ready = false;
      report.checks.push_back({.name = "draining", .up = false, .critical = true, .detail = "shutting down"});
    } else {
      std::function<void()> run_checks = [&] { report = health_.Run(); };  // checks may block
      co_await http::RunBlocking(std::move(run_checks));
    }
    co_return http::RawJson(report.ready ? 200 : 503, obs::HealthRegistry::ToJson(report))
        .WithHeader("Cache-Control", "no-store");
  });
  router_.Add(http::Method::kGet, "/metrics", [this](http::RequestContext&) -> Task<http::Response> {
    // Process metrics read /proc, so the exposition is built off the network thread.
    std::string text;
    std::function<void()> expose = [&] { text = metrics().Expose(); };
    co_await http::RunBlocking(std::move(expose));
    co_return http::Text(200, std::move(text), "text/plain; version=0.0.4; charset=utf-8");
  });
  router_.Add(http::Method::kGet, "/openapi.yaml", [this](http::RequestContext&) -> Task<http::Response> {
    if (openapi_.empty()) co_return http::Problem(ErrorCode::kNotFound, "no OpenAPI document");
    co_return http::Text(200, openapi_, "application/yaml");
  });
}

int Service::Run() {
  AddStandardRoutes();
  auto port_file = config_.GetString("port-file");
  server_->OnListening([port_file](uint16_t port) {
    if (port_file.empty()) return;
    // Written to a temporary name and renamed, so a reader never sees a half-written port.
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << port << "\n";
    }
    std::filesystem::rename(tmp, port_file);
  });
  try {
    server_->Listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: cannot listen on %s:%lld: %s\n", name_.c_str(),
                 config_.GetString("host").c_str(), static_cast<long long>(config_.GetInt("port")),
                 e.what());
    return 1;
  }
  obs::LogInfo("starting", {{"data_dir", data_dir_}});
  server_->Run();
  if (auto otlp = std::dynamic_pointer_cast<obs::OtlpExporter>(exporter_)) otlp->Flush();
  return 0;
}

}  // namespace mercato::service
