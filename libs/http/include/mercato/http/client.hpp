// The one way a service calls another over HTTP. Per upstream: a keep-alive connection pool, a
// per-call deadline (never longer than what the caller has left), retries with jittered
// exponential backoff for idempotent requests only (limited by a retry budget), a circuit
// breaker and a bulkhead. It propagates traceparent (a child span), X-Correlation-ID,
// Authorization and the remaining deadline.
//
//   http::Client payments(options);                      // options.name = "payments", .base_url
//   http::ClientRequest request;                         // a named variable, see the note below
//   request.method = http::Method::kPost; request.path = "/payments"; request.body = json;
//   auto call = http::CallContext::From(ctx);            // named too
//   auto r = co_await payments.Send(std::move(request), std::move(call));
//   if (!r) co_return http::Problem(r.error());          // unavailable, deadline_exceeded, ...
//   if (r->status == 201) ...                            // any HTTP status is a value
//
// GCC 12 destroys some temporaries created inside a co_await expression twice (braced
// initialisers, lambdas with owning captures, strings built inline). Build arguments as named
// variables first and pass them moved.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/core/task.hpp"
#include "mercato/http/types.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/observability/trace.hpp"
#include "mercato/resilience/circuit_breaker.hpp"
#include "mercato/resilience/deadline.hpp"
#include "mercato/resilience/retry.hpp"

namespace mercato::http {

class RequestContext;

struct ClientOptions {
  std::string name;      // the upstream's name: metric label, breaker and bulkhead name
  std::string base_url;  // "http://127.0.0.1:8105" (no path)
  Duration attempt_timeout = std::chrono::seconds(2);  // per attempt, capped by the deadline
  Duration connect_timeout = std::chrono::milliseconds(500);
  size_t max_idle_connections = 64;
  int max_concurrent = 128;  // bulkhead
  resilience::RetryPolicy retry;
  double retry_budget_ratio = 0.2;
  double retry_budget_min_per_second = 10;
  bool breaker_enabled = true;
  resilience::CircuitBreaker::Options breaker;
  size_t max_response_bytes = 8 * 1024 * 1024;
};

// What an outgoing call inherits from the request being served (or from a background job).
struct CallContext {
  std::optional<obs::TraceContext> trace;  // the caller's current span; the call gets a child
  std::string correlation_id;
  std::string authorization;               // forwarded when the request sets none itself
  resilience::Deadline deadline = resilience::Deadline::Infinite();

  static CallContext From(const RequestContext& ctx);
};

struct ClientRequest {
  Method method = Method::kGet;
  std::string path;  // "/payments?order_id=1" (appended to base_url)
  Headers headers;
  std::string body;
  std::string content_type = "application/json";
  // Overrides the method's idempotency (RFC 9110); a POST carrying an Idempotency-Key header is
  // treated as idempotent.
  std::optional<bool> idempotent;
  std::optional<Duration> timeout;  // per attempt; defaults to ClientOptions::attempt_timeout
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  int attempts = 1;
  const std::string* Header(std::string_view name) const { return headers.Find(name); }
  Result<boost::json::value> Json() const;
};

class Client {
 public:
  explicit Client(ClientOptions options, obs::Registry& metrics = obs::Registry::Default(),
                  const Clock& clock = Clock::Real());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Errors: unavailable (connect/reset after retries, or circuit open), deadline_exceeded,
  // resource_exhausted (bulkhead full), invalid_argument (bad request). HTTP statuses, 5xx
  // included, come back as responses once retries are spent.
  // Both parameters are taken by value: the coroutine starts lazily, when awaited, so it owns
  // what it reads rather than referring to caller objects that may be gone by then. The
  // one-argument form is for calls outside any request (no trace, no deadline but our own).
  Task<Result<ClientResponse>> Send(ClientRequest request);
  Task<Result<ClientResponse>> Send(ClientRequest request, CallContext context);

  resilience::CircuitBreaker& breaker();
  const ClientOptions& options() const;
  size_t idle_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Suspends the calling coroutine for `d` without blocking its thread.
Task<void> SleepFor(Duration d);

}  // namespace mercato::http
