// Client: the outgoing HTTP/1.1 client every service call goes through. Per Send: deadline check,
// bulkhead permit, then attempts (breaker permit, pooled or fresh connection, one exchange) with
// jittered backoff between them while the retry policy, the retry budget and the deadline allow.
// This is one of the three TUs allowed to include Beast (see libs/http/CMakeLists.txt).

#include "mercato/http/client.hpp"

#include <sys/socket.h>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/random.hpp"
#include "mercato/http/request_context.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/resilience/bulkhead.hpp"

namespace mercato::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Request = bhttp::request<bhttp::string_body>;
using OutcomeKind = resilience::AttemptOutcome::Kind;

constexpr std::string_view kUserAgent = "mercato";
constexpr std::string_view kIdempotencyKey = "Idempotency-Key";
constexpr std::string_view kCorrelationHeader = "X-Correlation-ID";
constexpr std::string_view kTraceparent = "traceparent";

// Where base_url points, split once at construction.
struct Upstream {
  std::string host;         // for the resolver: IPv6 without brackets
  std::string port;
  std::string host_header;  // as written: "127.0.0.1:8105", "[::1]:80"
  std::string path_prefix;  // "" or "/api" (no trailing slash)
};

// 1..65535; Boost.URL's port_number() wraps larger values, so the digits are checked here.
bool IsValidPort(std::string_view digits) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size() && value > 0 &&
         value <= 65535;
}

// A bad base_url is a configuration mistake: fail at start-up, not on the first call.
Upstream ParseBaseUrl(const std::string& name, const std::string& base_url) {
  if (name.empty()) throw std::invalid_argument("http client: options.name is empty");
  auto parsed = boost::urls::parse_uri(base_url);
  if (!parsed || parsed->scheme_id() != boost::urls::scheme::http || !parsed->has_authority() ||
      parsed->encoded_host().empty() || (parsed->has_port() && !IsValidPort(parsed->port()))) {
    throw std::invalid_argument("http client " + name + ": base_url must be http://host[:port], got '" +
                                base_url + "'");
  }
  Upstream u;
  u.host = parsed->host_address();
  u.port = parsed->has_port() ? std::string(parsed->port()) : std::string("80");
  u.host_header = std::string(parsed->encoded_host_and_port());
  u.path_prefix = std::string(parsed->encoded_path());
  while (!u.path_prefix.empty() && u.path_prefix.back() == '/') u.path_prefix.pop_back();
  return u;
}

std::optional<bhttp::verb> ToVerb(Method method) {
  switch (method) {
    case Method::kGet: return bhttp::verb::get;
    case Method::kHead: return bhttp::verb::head;
    case Method::kPost: return bhttp::verb::post;
    case Method::kPut: return bhttp::verb::put;
    case Method::kPatch: return bhttp::verb::patch;
    case Method::kDelete: return bhttp::verb::delete_;
    case Method::kOptions: return bhttp::verb::options;
    case Method::kOther: return std::nullopt;
  }
  return std::nullopt;
}

// Rejects bytes that would let a value break out of its line (request smuggling, header
// injection): CR, LF and NUL anywhere; in a path also spaces and other controls.
bool IsSafeFieldValue(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}
bool IsSafeTarget(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Sets the stream's timeout for the next operation from a deadline (infinite: none).
void ExpireAt(beast::tcp_stream& stream, const resilience::Deadline& deadline, const Clock& clock) {
  if (deadline.IsInfinite()) {
    stream.expires_never();
  } else {
    stream.expires_after(deadline.Remaining(clock));
  }
}

bool IsTimeout(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

// What a kept-alive connection looks like when the server has dropped it since: the request (or
// the first read) meets a closed or reset socket.
bool IsStaleError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::error::not_connected;
}

// True when an idle pooled socket cannot carry another request: the peer has closed it (FIN or
// RST is queued) or sent bytes nobody asked for. Checking costs one non-blocking syscall and
// saves a doomed write for the common case of a server's idle timeout.
bool PeerGone(tcp::socket& socket) {
  char byte = 0;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;  // 0: orderly shutdown; > 0: unsolicited data, the framing can no longer be trusted
}

asio::execution_context& ContextOf(const asio::any_io_executor& executor) {
  return asio::query(executor, asio::execution::context);
}

// One keep-alive connection; `buffer` belongs to it because a read may fetch past a response.
struct Connection {
  explicit Connection(const asio::any_io_executor& executor) : stream(executor) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

// What one attempt came to: a complete response, or a failure that retrying can reason about.
struct AttemptResult {
  std::optional<ClientResponse> response;
  OutcomeKind failure = OutcomeKind::kSuccess;
  Error error;
};

// One request/response exchange on an open connection.
struct Exchange {
  beast::error_code ec;
  bool failed_on_write = false;
  bool got_bytes = false;  // some of a response arrived before the failure
  bool keep_alive = false;
  std::optional<bhttp::response<bhttp::string_body>> response;
};

// Every TryAcquire() that returned true must be answered exactly once; the destructor answers
// "ignored" when the coroutine is torn down mid-attempt, so a half-open slot is never leaked.
class BreakerCall {
 public:
  explicit BreakerCall(resilience::CircuitBreaker* breaker) : breaker_(breaker) {}
  BreakerCall(const BreakerCall&) = delete;
  BreakerCall& operator=(const BreakerCall&) = delete;
  ~BreakerCall() { Ignored(); }
  void Success(Duration elapsed) { Finish([&](auto& b) { b.OnSuccess(elapsed); }); }
  void Failure(Duration elapsed) { Finish([&](auto& b) { b.OnFailure(elapsed); }); }
  void Ignored() { Finish([](auto& b) { b.OnIgnored(); }); }

 private:
  template <class F>
  void Finish(F f) {
    if (breaker_ == nullptr) return;
    auto* breaker = std::exchange(breaker_, nullptr);
    f(*breaker);
  }
  resilience::CircuitBreaker* breaker_;
};

// Keeps mercato_bulkhead_in_flight in step with the permit's lifetime.
class InFlight {
 public:
  explicit InFlight(obs::Gauge& gauge) : gauge_(gauge) { gauge_.Inc(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { gauge_.Dec(); }

 private:
  obs::Gauge& gauge_;
};

}  // namespace

struct Client::Impl {
  Impl(ClientOptions opts, obs::Registry& registry, const Clock& clk)
      : options(std::move(opts)),
        clock(clk),
        upstream(ParseBaseUrl(options.name, options.base_url)),
        breaker(options.name, options.breaker, clock),
        bulkhead(options.name, options.max_concurrent),
        budget(options.retry_budget_ratio, options.retry_budget_min_per_second, clock),
        requests(registry.AddCounter("mercato_http_client_requests_total",
                                     "Outgoing HTTP attempts by upstream, method and status "
                                     "(\"error\" when no response arrived)",
                                     {"upstream", "method", "status"})),
        duration(registry.AddHistogram("mercato_http_client_request_duration_seconds",
                                       "Outgoing HTTP attempt latency", {"upstream", "method"})),
        retries(registry
                    .AddCounter("mercato_http_client_retries_total", "Outgoing HTTP retries",
                                {"upstream"})
                    .WithLabels({options.name})),
        breaker_state(registry
                          .AddGauge("mercato_circuit_breaker_state",
                                    "Circuit breaker state (0 closed, 1 open, 2 half_open)",
                                    {"upstream"})
                          .WithLabels({options.name})),
        transitions(registry.AddCounter("mercato_circuit_breaker_transitions_total",
                                        "Circuit breaker state changes", {"upstream", "to"})),
        bulkhead_rejected(registry
                              .AddCounter("mercato_bulkhead_rejected_total",
                                          "Calls rejected because the bulkhead was full",
                                          {"upstream"})
                              .WithLabels({options.name})),
        bulkhead_in_flight(registry
                               .AddGauge("mercato_bulkhead_in_flight",
                                         "Calls holding a bulkhead permit", {"upstream"})
                               .WithLabels({options.name})) {
    breaker_state.Set(static_cast<double>(breaker.state()));
    // The listener runs outside the breaker's lock, on whichever thread caused the change.
    breaker.SetListener([this](std::string_view name, resilience::CircuitBreaker::State from,
                               resilience::CircuitBreaker::State to) {
      breaker_state.Set(static_cast<double>(to));
      transitions.WithLabels({name, resilience::ToString(to)}).Inc();
      obs::LogWarn("circuit breaker state changed", {{"upstream", name},
                                                     {"from", resilience::ToString(from)},
                                                     {"to", resilience::ToString(to)}});
    });
  }

  // The most recently used idle connection of `executor`'s execution context that still looks
  // alive. A socket belongs to the io_context whose reactor registered it, so connections made
  // under another io_context are left for that one's coroutines. Within one io_context any
  // coroutine may take it, whatever its strand (a service runs each inbound connection on its
  // own strand; matching executors would give every inbound connection a private pool): only
  // one coroutine holds a connection at a time, and Beast runs the stream's completion and
  // timeout handlers on the awaiting coroutine's executor, not on the one it was created with.
  std::unique_ptr<Connection> TakeIdle(const asio::any_io_executor& executor) {
    const asio::execution_context* const context = &ContextOf(executor);
    std::vector<std::unique_ptr<Connection>> dead;  // destroyed after unlocking
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(pool_mutex);
      for (auto it = idle.rbegin(); it != idle.rend();) {
        if (&ContextOf((*it)->stream.get_executor()) != context) {
          ++it;
          continue;
        }
        auto conn = std::move(*it);
        it = decltype(it)(idle.erase(std::next(it).base()));
        if (PeerGone(conn->stream.socket())) {
          dead.push_back(std::move(conn));
          continue;
        }
        found = std::move(conn);
        break;
      }
    }
    return found;
  }

  void Release(std::unique_ptr<Connection> conn) {
    std::unique_ptr<Connection> evicted;
    std::lock_guard lock(pool_mutex);
    if (options.max_idle_connections == 0) return;
    if (idle.size() >= options.max_idle_connections) {
      // The least recently used goes: it is the likeliest to have been closed by the server.
      evicted = std::move(idle.front());
      idle.erase(idle.begin());
    }
    idle.push_back(std::move(conn));
  }

  Task<Result<std::vector<tcp::endpoint>>> Resolve() {
    {
      std::lock_guard lock(resolve_mutex);
      if (!endpoints.empty()) co_return endpoints;
    }
    std::vector<tcp::endpoint> found;
    beast::error_code ec;
    const auto address = asio::ip::make_address(upstream.host, ec);
    if (!ec) {
      found.emplace_back(address, static_cast<uint16_t>(std::stoul(upstream.port)));
    } else {
      // getaddrinfo cannot be interrupted, so the deadline is not applied here; the connect
      // that follows is bounded.
      const auto executor = co_await asio::this_coro::executor;
      tcp::resolver resolver(executor);
      beast::error_code resolve_ec;
      const auto results = co_await resolver.async_resolve(
          upstream.host, upstream.port, asio::redirect_error(asio::use_awaitable, resolve_ec));
      if (resolve_ec) {
        co_return Error{ErrorCode::kUnavailable,
                        options.name + ": resolve " + upstream.host + ": " + resolve_ec.message()};
      }
      for (const auto& entry : results) found.push_back(entry.endpoint());
    }
    std::lock_guard lock(resolve_mutex);
    endpoints = found;
    co_return std::move(found);
  }

  // Dropped after a failed connect, so an upstream that moved is looked up again.
  void ForgetEndpoints() {
    std::lock_guard lock(resolve_mutex);
    endpoints.clear();
  }

  Task<Result<std::unique_ptr<Connection>>> Connect(const asio::any_io_executor& executor,
                                                    const resilience::Deadline& deadline) {
    auto targets = co_await Resolve();
    if (!targets) co_return targets.error();
    auto conn = std::make_unique<Connection>(executor);
    conn->stream.expires_after(std::min(options.connect_timeout, deadline.Remaining(clock)));
    beast::error_code ec;
    co_await conn->stream.async_connect(*targets, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      ForgetEndpoints();
      if (deadline.Expired(clock)) {
        co_return Error{ErrorCode::kDeadlineExceeded, options.name + ": deadline exceeded while connecting"};
      }
      co_return Error{ErrorCode::kUnavailable, options.name + ": connect: " +
                                                   (IsTimeout(ec) ? std::string("timed out")
                                                                  : ec.message())};
    }
    beast::error_code ignored;
    conn->stream.socket().set_option(tcp::no_delay(true), ignored);
    co_return std::move(conn);
  }

  Task<Exchange> Perform(Connection& conn, const Request& request,
                         const resilience::Deadline& deadline) {
    Exchange x;
    ExpireAt(conn.stream, deadline, clock);
    co_await bhttp::async_write(conn.stream, request, asio::redirect_error(asio::use_awaitable, x.ec));
    if (x.ec) {
      x.failed_on_write = true;
      co_return x;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    // A response to HEAD announces a length but carries no body.
    if (request.method() == bhttp::verb::head) parser.skip(true);
    ExpireAt(conn.stream, deadline, clock);
    co_await bhttp::async_read(conn.stream, conn.buffer, parser,
                               asio::redirect_error(asio::use_awaitable, x.ec));
    x.got_bytes = parser.got_some();
    if (x.ec) co_return x;
    conn.stream.expires_never();
    x.keep_alive = parser.keep_alive() && request.keep_alive();
    x.response = parser.release();
    co_return x;
  }

  // One attempt: a connection (pooled when possible), one exchange. A pooled connection that
  // turns out to be dead before any response byte gets one fresh-connection retry that is not
  // an attempt: the server never saw the request (a failed write), or saw it and may have acted
  // (a failed first read), which is only safe to repeat for an idempotent call.
  Task<AttemptResult> Attempt(const asio::any_io_executor& executor, const Request& request,
                              const resilience::Deadline& deadline, bool idempotent) {
    AttemptResult result;
    bool allow_pooled = true;
    for (;;) {
      std::unique_ptr<Connection> conn;
      if (allow_pooled) conn = TakeIdle(executor);
      const bool pooled = conn != nullptr;
      if (!conn) {
        auto fresh = co_await Connect(executor, deadline);
        if (!fresh) {
          result.failure = OutcomeKind::kConnectFailed;
          result.error = std::move(fresh).error();
          co_return result;
        }
        conn = std::move(*fresh);
      }
      Exchange x = co_await Perform(*conn, request, deadline);
      if (!x.ec) {
        ClientResponse response;
        response.status = static_cast<int>(x.response->result_int());
        for (const auto& field : *x.response) {
          response.headers.Add(std::string(field.name_string()), std::string(field.value()));
        }
        response.body = std::move(x.response->body());
        // Bytes past the response would corrupt the next exchange on this connection.
        if (x.keep_alive && conn->buffer.size() == 0) Release(std::move(conn));
        result.response = std::move(response);
        co_return result;
      }
      if (pooled && !x.got_bytes && IsStaleError(x.ec) && (x.failed_on_write || idempotent)) {
        allow_pooled = false;
        continue;
      }
      const std::string step = x.failed_on_write ? "write" : "read";
      if (IsTimeout(x.ec) || deadline.Expired(clock)) {
        result.failure = OutcomeKind::kTimedOut;
        result.error = Error{ErrorCode::kDeadlineExceeded,
                             options.name + ": " + step + ": deadline exceeded"};
      } else {
        // Reset, EOF, a malformed or oversized response: the upstream is not usable right now.
        result.failure = OutcomeKind::kReset;
        result.error = Error{ErrorCode::kUnavailable, options.name + ": " + step + ": " + x.ec.message()};
      }
      co_return result;
    }
  }

  ClientOptions options;
  const Clock& clock;
  Upstream upstream;
  resilience::CircuitBreaker breaker;
  resilience::Bulkhead bulkhead;
  resilience::RetryBudget budget;

  mutable std::mutex pool_mutex;
  std::vector<std::unique_ptr<Connection>> idle;  // back() is the most recently used

  std::mutex resolve_mutex;
  std::vector<tcp::endpoint> endpoints;  // empty until first resolved

  obs::Family<obs::Counter>& requests;
  obs::Family<obs::Histogram>& duration;
  obs::Counter& retries;
  obs::Gauge& breaker_state;
  obs::Family<obs::Counter>& transitions;
  obs::Counter& bulkhead_rejected;
  obs::Gauge& bulkhead_in_flight;
};

Client::Client(ClientOptions options, obs::Registry& metrics, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), metrics, clock)) {}

Client::~Client() = default;

resilience::CircuitBreaker& Client::breaker() { return impl_->breaker; }
const ClientOptions& Client::options() const { return impl_->options; }
size_t Client::idle_connections() const {
  std::lock_guard lock(impl_->pool_mutex);
  return impl_->idle.size();
}

Task<Result<ClientResponse>> Client::Send(ClientRequest request) {
  // Not a coroutine: the empty context is moved into the other overload's frame before this
  // returns, so nothing outlives this call by reference.
  return Send(std::move(request), CallContext());
}

Task<Result<ClientResponse>> Client::Send(ClientRequest request, CallContext context) {
  Impl& s = *impl_;
  const std::string& name = s.options.name;
  const auto verb = ToVerb(request.method);
  if (!verb) co_return Error{ErrorCode::kInvalidArgument, name + ": unsupported method", "method"};
  const std::string method(bhttp::to_string(*verb));
  if (request.path.empty()) request.path = "/";
  if (request.path.front() != '/' || !IsSafeTarget(request.path)) {
    co_return Error{ErrorCode::kInvalidArgument, name + ": bad request path", "path"};
  }
  for (const auto& [field, value] : request.headers.fields()) {
    if (field.empty() || !IsSafeFieldValue(field) || !IsSafeFieldValue(value)) {
      co_return Error{ErrorCode::kInvalidArgument, name + ": bad header " + field, "headers"};
    }
  }
  if (context.deadline.Expired(s.clock)) {
    s.requests.WithLabels({name, method, "error"}).Inc();
    co_return Error{ErrorCode::kDeadlineExceeded, name + ": deadline exceeded before sending"};
  }
  auto permit = s.bulkhead.TryAcquire();
  if (!permit) {
    s.bulkhead_rejected.Inc();
    co_return std::move(permit).error();
  }
  InFlight in_flight(s.bulkhead_in_flight);
  s.budget.OnRequest();

  const bool idempotent = request.idempotent.value_or(
      IsIdempotent(request.method) ||
      ((request.method == Method::kPost || request.method == Method::kPatch) &&
       request.headers.Find(kIdempotencyKey) != nullptr));

  Request out{*verb, s.upstream.path_prefix + request.path, 11};
  out.set(bhttp::field::host, s.upstream.host_header);
  out.set(bhttp::field::user_agent, kUserAgent);
  if (!request.body.empty() && !request.content_type.empty()) {
    out.set(bhttp::field::content_type, request.content_type);
  }
  for (const auto& [field, value] : request.headers.fields()) {
    // Framing is ours: a caller's Content-Length could disagree with the body.
    if (EqualsIgnoreCase(field, "Content-Length") || EqualsIgnoreCase(field, "Transfer-Encoding")) {
      continue;
    }
    if (EqualsIgnoreCase(field, "Host") || EqualsIgnoreCase(field, "User-Agent") ||
        EqualsIgnoreCase(field, "Content-Type")) {
      out.set(field, value);
    } else {
      out.insert(field, value);
    }
  }
  if (!context.correlation_id.empty() && out.find(kCorrelationHeader) == out.end()) {
    out.set(kCorrelationHeader, context.correlation_id);
  }
  if (!context.authorization.empty() && out.find(bhttp::field::authorization) == out.end()) {
    out.set(bhttp::field::authorization, context.authorization);
  }
  out.body() = std::move(request.body);
  out.prepare_payload();

  const auto executor = co_await asio::this_coro::executor;
  const Duration attempt_timeout = request.timeout.value_or(s.options.attempt_timeout);
  const std::string span_name = method + " " + name;
  std::optional<ClientResponse> last_response;
  Error last_error{ErrorCode::kInternal, name + ": no attempt made"};
  int attempt = 0;
  for (;;) {
    ++attempt;
    if (s.options.breaker_enabled && !s.breaker.TryAcquire()) {
      if (attempt == 1) {
        s.requests.WithLabels({name, method, "error"}).Inc();
        co_return Error{ErrorCode::kUnavailable, name + ": circuit open"};
      }
      // Opened while we were retrying: what the previous attempt got is the answer.
      break;
    }
    BreakerCall breaker_call(s.options.breaker_enabled ? &s.breaker : nullptr);
    const auto deadline = context.deadline.Shrink(attempt_timeout, s.clock);
    // When the caller's deadline, not our own timeout, bounds the attempt, running out of time
    // says nothing about the upstream's health.
    const bool caller_bound = deadline.at() == context.deadline.at();

    // The child id is minted here rather than by SpanRecorder, which passes the parent through
    // when nothing exports spans: the upstream must see its own parent span either way.
    std::optional<obs::SpanRecorder> span;
    if (context.trace) {
      span.emplace(span_name, obs::SpanKind::kClient, context.trace->Child(), context.trace->span_id);
    } else {
      span.emplace(span_name, obs::SpanKind::kClient, obs::TraceContext::NewRoot(), std::nullopt);
    }
    span->SetAttribute("http.request.method", method);
    span->SetAttribute("server.address", s.upstream.host_header);
    if (attempt > 1) span->SetAttribute("http.request.resend_count", std::to_string(attempt - 1));
    out.set(kTraceparent, span->context().ToTraceparent());
    if (deadline.IsInfinite()) {
      out.erase(resilience::kDeadlineHeader);
    } else {
      out.set(resilience::kDeadlineHeader, deadline.ToHeader(s.clock));
    }

    const auto started = s.clock.Now();
    AttemptResult result = co_await s.Attempt(executor, out, deadline, idempotent);
    const Duration elapsed = s.clock.Now() - started;
    s.duration.WithLabels({name, method}).Observe(Seconds(elapsed));

    resilience::AttemptOutcome outcome;
    if (result.response) {
      const int status = result.response->status;
      s.requests.WithLabels({name, method, std::to_string(status)}).Inc();
      span->SetAttribute("http.response.status_code", std::to_string(status));
      if (status >= 500) {
        breaker_call.Failure(elapsed);
        span->SetError("HTTP " + std::to_string(status));
      } else {
        breaker_call.Success(elapsed);
      }
      outcome.kind = OutcomeKind::kStatus;
      outcome.status = status;
      if (const std::string* retry_after = result.response->Header("Retry-After")) {
        outcome.retry_after = resilience::ParseRetryAfter(*retry_after, s.clock);
      }
      result.response->attempts = attempt;
      last_response = std::move(result.response);
    } else {
      s.requests.WithLabels({name, method, "error"}).Inc();
      if (caller_bound && result.error.code == ErrorCode::kDeadlineExceeded) {
        breaker_call.Ignored();
      } else {
        breaker_call.Failure(elapsed);
      }
      span->SetError(result.error.message);
      outcome.kind = result.failure;
      last_response.reset();
      last_error = std::move(result.error);
    }
    span.reset();  // the span covers the attempt, not the backoff after it

    if (!resilience::ShouldRetry(s.options.retry, attempt, outcome, idempotent)) break;
    if (context.deadline.Expired(s.clock)) break;
    const Duration delay = resilience::RetryDelay(s.options.retry, attempt, outcome, RandomUnit());
    // Sleeping into the deadline would only turn the last outcome into a timeout.
    if (!context.deadline.IsInfinite() && delay >= context.deadline.Remaining(s.clock)) break;
    if (!s.budget.TryWithdraw()) break;
    s.retries.Inc();
    obs::LogDebug("retrying upstream call",
                  {{"upstream", name}, {"method", method}, {"attempt", attempt + 1},
                   {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()}});
    if (delay > Duration::zero()) co_await SleepFor(delay);
  }
  if (last_response) co_return std::move(*last_response);
  co_return last_error;
}

Result<boost::json::value> ClientResponse::Json() const {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  if (ec) return Error{ErrorCode::kInvalidArgument, "response body is not JSON: " + ec.message()};
  return value;
}

CallContext CallContext::From(const RequestContext& ctx) {
  CallContext call;
  call.trace = ctx.trace();
  call.correlation_id = std::string(ctx.correlation_id());
  if (auto authorization = ctx.Header("Authorization")) call.authorization = std::string(*authorization);
  call.deadline = ctx.deadline();
  return call;
}

Task<void> SleepFor(Duration d) {
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  // Saturate instead of overflowing now + d for "forever"-sized durations.
  const auto now = std::chrono::steady_clock::now();
  const auto limit = std::chrono::steady_clock::time_point::max() - now;
  timer.expires_at(d >= limit ? std::chrono::steady_clock::time_point::max() : now + d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace mercato::http
