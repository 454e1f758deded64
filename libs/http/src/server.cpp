// The chassis HTTP/1.1 server. One of the few translation units that include Boost.Beast.
//
// Per connection: one coroutine on its own strand reads a request header (bounded by
// header_timeout and max_header_bytes), then the body (body_timeout, max_body_bytes), builds a
// RequestContext, routes it, awaits the handler and writes the response; repeat while keep-alive.
// Hot-path costs are kept flat: metric children are resolved once per route and status, trace ids
// come from a thread-local generator, the Date header is formatted once per second.
#include "mercato/http/server.hpp"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <ctime>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "mercato/observability/log.hpp"

namespace mercato::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr int kMaxStatus = 600;

// Metric children of one route, resolved once so a request only touches atomics.
struct RouteMetrics {
  std::string method;
  std::string route;
  obs::Histogram* duration = nullptr;
  std::array<std::atomic<obs::Counter*>, kMaxStatus> by_status{};
};

// The live state of one connection that Stop() needs: its strand and, while it waits for the
// next request with nothing received, a way to close it.
struct SessionHandle {
  asio::any_io_executor executor;
  tcp::socket* socket = nullptr;  // only touched on `executor`
  bool idle = false;
};

// Bounds one I/O phase of a connection (reading a header, a body, writing a response). Unlike
// beast::tcp_stream's timeout, which closes the socket, expiry only cancels the pending
// operation, so the session can still answer 408 on the open connection. A generation number
// makes a firing that raced with the operation's completion harmless.
class Watchdog : public std::enable_shared_from_this<Watchdog> {
 public:
  Watchdog(asio::any_io_executor executor, tcp::socket& socket)
      : timer_(executor), socket_(&socket) {}

  void Arm(Duration timeout) {
    ++generation_;
    fired_ = false;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), generation = generation_](beast::error_code ec) {
      if (ec || generation != self->generation_ || !self->socket_) return;
      self->fired_ = true;
      beast::error_code ignored;
      self->socket_->cancel(ignored);
    });
  }
  void Disarm() {
    ++generation_;
    timer_.cancel();
  }
  // The session is over: never touch its socket again.
  void Detach() {
    Disarm();
    socket_ = nullptr;
  }
  bool fired() const { return fired_; }

 private:
  asio::steady_timer timer_;
  tcp::socket* socket_;
  uint64_t generation_ = 0;
  bool fired_ = false;
};

// "Tue, 25 Nov 2026 19:03:17 GMT", reformatted at most once per second per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local char buffer[40];
  thread_local size_t length = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    length = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return {buffer, length};
}

bool IsValidCorrelationId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Router& router;
  obs::Registry& metrics;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  // The acceptor, the signal set, the drain timer and the stop logic live on one strand, so
  // they are never touched from two event-loop threads at once (--threads > 1).
  asio::strand<asio::io_context::executor_type> control{asio::make_strand(ioc)};
  std::optional<asio::signal_set> signals;
  asio::steady_timer drain_timer{control};
  std::atomic<bool> stopping{false};
  std::atomic<uint16_t> port{0};
  std::vector<std::function<void(uint16_t)>> on_listening;

  std::mutex sessions_mutex;
  std::list<std::shared_ptr<SessionHandle>> sessions;

  obs::Family<obs::Counter>& requests_total;
  obs::Family<obs::Histogram>& request_duration;
  obs::Gauge& connections_open;
  obs::Gauge& requests_in_flight;
  obs::Counter& connections_rejected;
  obs::Counter& handler_exceptions;
  std::vector<std::unique_ptr<RouteMetrics>> route_metrics;
  RouteMetrics unmatched;

  Impl(ServerOptions o, Router& r, obs::Registry& m)
      : options(std::move(o)),
        router(r),
        metrics(m),
        requests_total(m.AddCounter("http_requests_total", "HTTP requests served",
                                    {"method", "route", "status"})),
        request_duration(m.AddHistogram("http_request_duration_seconds",
                                        "Time from a request's last header byte to its response",
                                        {"method", "route"})),
        connections_open(
            m.AddGauge("http_connections_open", "Open client connections").WithLabels({})),
        requests_in_flight(
            m.AddGauge("http_requests_in_flight", "Requests being handled").WithLabels({})),
        connections_rejected(m.AddCounter("http_connections_rejected_total",
                                          "Connections refused at max-connections")
                                 .WithLabels({})),
        handler_exceptions(m.AddCounter("http_handler_exceptions_total",
                                        "Exceptions that escaped a handler (answered 500)")
                               .WithLabels({})) {
    unmatched.method = "ANY";
    unmatched.route = "unmatched";
    unmatched.duration = &request_duration.WithLabels({"ANY", "unmatched"});
  }

  void PrepareRouteMetrics() {
    if (!route_metrics.empty()) return;
    for (auto& route : router.routes()) {
      auto rm = std::make_unique<RouteMetrics>();
      rm->method = route->method_text;
      rm->route = route->path_template;
      rm->duration = &request_duration.WithLabels({rm->method, rm->route});
      route->user_data = rm.get();
      route_metrics.push_back(std::move(rm));
    }
  }

  void Count(RouteMetrics& rm, int status, double seconds) {
    rm.duration->Observe(seconds);
    if (status < 0 || status >= kMaxStatus) status = 0;
    obs::Counter* counter = rm.by_status[status].load(std::memory_order_acquire);
    if (!counter) {
      counter = &requests_total.WithLabels({rm.method, rm.route, std::to_string(status)});
      rm.by_status[status].store(counter, std::memory_order_release);
    }
    counter->Inc();
  }

  // --- lifecycle -----------------------------------------------------------------------------

  void BeginStop() {
    if (stopping.exchange(true)) return;
    obs::LogInfo("draining", {{"port", static_cast<int64_t>(port.load())}});
    beast::error_code ec;
    acceptor.close(ec);
    if (signals) signals->cancel(ec);
    std::list<std::shared_ptr<SessionHandle>> snapshot;
    {
      std::lock_guard lock(sessions_mutex);
      snapshot = sessions;
    }
    for (auto& h : snapshot) {
      asio::post(h->executor, [h] {
        if (h->idle && h->socket) h->socket->close();
      });
    }
    if (snapshot.empty()) {
      ioc.stop();
      return;
    }
    drain_timer.expires_after(options.drain_timeout);
    drain_timer.async_wait([this](beast::error_code wait_ec) {
      if (wait_ec) return;  // drained in time
      std::lock_guard lock(sessions_mutex);
      obs::LogWarn("drain timeout: closing busy connections",
                   {{"connections", static_cast<int64_t>(sessions.size())}});
      for (auto& h : sessions) {
        asio::post(h->executor, [h] {
          if (h->socket) h->socket->close();
        });
      }
      // Give the closed sessions a moment to unwind, then stop regardless.
      drain_timer.expires_after(std::chrono::milliseconds(200));
      drain_timer.async_wait([this](beast::error_code) { ioc.stop(); });
    });
  }

  void SessionEnded(const std::shared_ptr<SessionHandle>& handle) {
    bool last = false;
    {
      std::lock_guard lock(sessions_mutex);
      sessions.remove(handle);
      last = sessions.empty();
    }
    connections_open.Dec();
    if (last && stopping.load()) {
      asio::post(control, [this] {
        drain_timer.cancel();
        ioc.stop();
      });
    }
  }

  // --- accepting -----------------------------------------------------------------------------

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      beast::error_code ec;
      // Named, not a temporary inside the co_await: GCC 12 destroys such temporaries twice, and
      // a strand's double release frees its implementation under live connections.
      auto strand = asio::make_strand(ioc);
      tcp::socket socket =
          co_await acceptor.async_accept(strand, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping.load()) co_return;
        // EMFILE and friends: back off briefly instead of spinning.
        obs::LogWarn("accept failed", {{"error", ec.message()}});
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      size_t open;
      {
        std::lock_guard lock(sessions_mutex);
        open = sessions.size();
      }
      if (static_cast<int>(open) >= options.max_connections) {
        connections_rejected.Inc();
        asio::co_spawn(socket.get_executor(), RejectConnection(std::move(socket)), asio::detached);
        continue;
      }
      auto handle = std::make_shared<SessionHandle>();
      handle->executor = socket.get_executor();
      {
        std::lock_guard lock(sessions_mutex);
        sessions.push_back(handle);
      }
      connections_open.Inc();
      asio::co_spawn(handle->executor, Session(std::move(socket), handle),
                     [this, handle](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           obs::LogError("connection failed", {{"error", ex.what()}});
                         } catch (...) {
                           obs::LogError("connection failed", {{"error", "non-standard exception"}});
                         }
                       }
                       SessionEnded(handle);
                     });
    }
  }

  asio::awaitable<void> RejectConnection(tcp::socket socket) {
    auto problem = TransportProblem(503, "too-many-connections", "connection limit reached");
    std::string raw =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
        "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
        std::to_string(problem.body.size()) + "\r\n\r\n" + problem.body;
    beast::error_code ec;
    co_await asio::async_write(socket, asio::buffer(raw),
                               asio::redirect_error(asio::use_awaitable, ec));
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  // --- one connection ------------------------------------------------------------------------

  static bool IsParseError(const beast::error_code& ec) {
    static const auto& kCategory = bhttp::make_error_code(bhttp::error::bad_method).category();
    return ec.category() == kCategory && ec != bhttp::error::end_of_stream &&
           ec != bhttp::error::partial_message && ec != bhttp::error::need_more;
  }

  // Takes the response by reference: callers pass a named variable (see AcceptLoop on GCC 12).
  asio::awaitable<void> WriteAndClose(tcp::socket& socket, Watchdog& watchdog, Response& response,
                                      unsigned version) {
    bhttp::response<bhttp::string_body> out;
    out.version(version ? version : 11);
    out.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers.fields()) out.set(name, value);
    out.set(bhttp::field::date, HttpDate());
    out.body() = std::move(response.body);
    out.keep_alive(false);
    out.prepare_payload();
    beast::error_code ec;
    watchdog.Arm(std::chrono::seconds(5));
    co_await bhttp::async_write(socket, out, asio::redirect_error(asio::use_awaitable, ec));
    watchdog.Disarm();
    if (!ec) co_await LingeringClose(socket, watchdog);
  }

  // After an error response to a request that may not have been read in full: stop sending, then
  // read and discard for a short while, so the client receives the response before the close
  // (closing with unread data makes the kernel send RST, which can destroy the response in flight).
  // Bounded in time and bytes.
  asio::awaitable<void> LingeringClose(tcp::socket& socket, Watchdog& watchdog) {
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16384> sink;
    size_t discarded = 0;
    watchdog.Arm(std::chrono::seconds(2));
    while (!ec && discarded < 8 * 1024 * 1024) {
      discarded += co_await socket.async_read_some(asio::buffer(sink),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    }
    watchdog.Disarm();
  }

  Response TooLarge() const {
    return TransportProblem(
        413, "content-too-large",
        "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes");
  }

  asio::awaitable<void> Session(tcp::socket socket, std::shared_ptr<SessionHandle> handle) {
    auto watchdog = std::make_shared<Watchdog>(socket.get_executor(), socket);
    beast::flat_buffer buffer;
    handle->socket = &socket;
    std::string remote_address;
    {
      beast::error_code peer_ec;
      auto peer = socket.remote_endpoint(peer_ec);
      if (!peer_ec) remote_address = peer.address().to_string();
    }
    struct Detach {  // nothing may point at the socket once this frame is gone
      SessionHandle& h;
      Watchdog& w;
      ~Detach() {
        h.socket = nullptr;
        w.Detach();
      }
    } detach{*handle, *watchdog};

    for (;;) {
      if (stopping.load()) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);

      beast::error_code ec;
      handle->idle = buffer.size() == 0;
      watchdog->Arm(options.header_timeout);
      co_await bhttp::async_read_header(socket, buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      watchdog->Disarm();
      handle->idle = false;
      if (ec) {
        if (watchdog->fired()) {
          // Silence on an idle keep-alive connection is normal; a stalled header is not.
          if (parser.got_some() || buffer.size() > 0) {
            Count(unmatched, 408, 0);
            {
              Response problem =
                  TransportProblem(408, "request-timeout", "request header not received in time");
              co_await WriteAndClose(socket, *watchdog, problem, 11);
            }
          }
        } else if (ec == bhttp::error::header_limit) {
          Count(unmatched, 431, 0);
          {
            Response problem = TransportProblem(
                431, "header-fields-too-large",
                "request header exceeds " + std::to_string(options.max_header_bytes) + " bytes");
            co_await WriteAndClose(socket, *watchdog, problem, 11);
          }
        } else if (ec == bhttp::error::body_limit) {  // a declared Content-Length over the limit
          Count(unmatched, 413, 0);
          {
            Response problem = TooLarge();
            co_await WriteAndClose(socket, *watchdog, problem, 11);
          }
        } else if (IsParseError(ec)) {
          Count(unmatched, 400, 0);
          {
            Response problem = TransportProblem(400, "malformed-request",
                                                "malformed HTTP request: " + ec.message());
            co_await WriteAndClose(socket, *watchdog, problem, 11);
          }
        }
        break;  // end of stream, reset, or closed by a drain
      }

      unsigned version = parser.get().version();
      if (auto length = parser.content_length(); length && *length > options.max_body_bytes) {
        Count(unmatched, 413, 0);
        {
          Response problem = TooLarge();
          co_await WriteAndClose(socket, *watchdog, problem, version);
        }
        break;
      }
      if (!parser.is_done()) {
        if (auto expect = parser.get()[bhttp::field::expect];
            version >= 11 && EqualsIgnoreCase(expect, "100-continue")) {
          bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, version};
          watchdog->Arm(options.body_timeout);
          co_await bhttp::async_write(socket, proceed,
                                      asio::redirect_error(asio::use_awaitable, ec));
          watchdog->Disarm();
          if (ec) break;
        }
        watchdog->Arm(options.body_timeout);
        co_await bhttp::async_read(socket, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
        watchdog->Disarm();
        if (ec) {
          if (watchdog->fired()) {
            Count(unmatched, 408, 0);
            {
              Response problem =
                  TransportProblem(408, "request-timeout", "request body not received in time");
              co_await WriteAndClose(socket, *watchdog, problem, version);
            }
          } else if (ec == bhttp::error::body_limit) {
            Count(unmatched, 413, 0);
            {
              Response problem = TooLarge();
              co_await WriteAndClose(socket, *watchdog, problem, version);
            }
          } else if (IsParseError(ec)) {
            Count(unmatched, 400, 0);
            {
              Response problem = TransportProblem(400, "malformed-request",
                                                  "malformed HTTP body: " + ec.message());
              co_await WriteAndClose(socket, *watchdog, problem, version);
            }
          }
          break;
        }
      }

      bhttp::request<bhttp::string_body> request = parser.release();
      bool keep_alive = request.keep_alive();
      bool head = request.method() == bhttp::verb::head;

      std::string correlation_id;
      Response response = co_await Handle(request, correlation_id, remote_address);

      keep_alive = keep_alive && !stopping.load();
      bhttp::response<bhttp::string_body> out;
      out.version(request.version());
      out.result(static_cast<unsigned>(response.status));
      for (auto& [name, value] : response.headers.fields()) out.set(name, value);
      out.set(bhttp::field::date, HttpDate());
      out.set("X-Correlation-ID", correlation_id);
      out.keep_alive(keep_alive);
      out.body() = std::move(response.body);
      if (response.status == 204 || response.status == 304 || response.status < 200) {
        out.body().clear();
        out.erase(bhttp::field::content_length);
      } else {
        out.prepare_payload();
        if (head) out.body().clear();  // Content-Length still announces the GET body's size
      }
      watchdog->Arm(options.body_timeout);
      co_await bhttp::async_write(socket, out, asio::redirect_error(asio::use_awaitable, ec));
      watchdog->Disarm();
      if (ec || !keep_alive) break;
    }
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  // An exception escaped a handler: a bug. The caller learns only the correlation id; the log
  // has the rest.
  Response HandlerFailed(const RequestContext& ctx, const std::string& route, std::string_view what) {
    handler_exceptions.Inc();
    ctx.Log().Error("handler threw", {{"route", route}, {"error", what}});
    return TransportProblem(500, "internal",
                            "internal error (correlation id " + std::string(ctx.correlation_id()) + ")");
  }

  // Builds the context, routes, runs the handler, records metrics. Never throws.
  asio::awaitable<Response> Handle(bhttp::request<bhttp::string_body>& request,
                                   std::string& correlation_id,
                                   std::string_view remote_address) {
    const auto started = std::chrono::steady_clock::now();
    requests_in_flight.Inc();

    std::string_view method_text = request.method_string();
    Method method = ParseMethod(method_text);
    std::vector<RequestContext::Field> headers;
    headers.reserve(16);
    std::string_view traceparent, correlation_header, deadline_header;
    for (const auto& field : request) {
      std::string_view name = field.name_string();
      std::string_view value = field.value();
      headers.emplace_back(name, value);
      if (EqualsIgnoreCase(name, "traceparent"))
        traceparent = value;
      else if (EqualsIgnoreCase(name, "x-correlation-id"))
        correlation_header = value;
      else if (EqualsIgnoreCase(name, resilience::kDeadlineHeader))
        deadline_header = value;
    }

    obs::TraceContext trace;
    std::optional<std::array<uint8_t, 8>> parent;
    if (auto incoming =
            traceparent.empty() ? std::nullopt : obs::TraceContext::Parse(traceparent)) {
      trace = incoming->Child();
      parent = incoming->span_id;
    } else {
      trace = obs::TraceContext::NewRoot();
    }
    correlation_id = IsValidCorrelationId(correlation_header) ? std::string(correlation_header)
                                                              : trace.TraceIdHex();
    auto deadline = resilience::Deadline::After(options.request_timeout, Clock::Real());
    if (!deadline_header.empty()) {
      deadline = deadline.Min(resilience::Deadline::FromHeader(deadline_header, Clock::Real()));
    }

    RequestContext ctx(method, method_text, request.target(), std::move(headers),
                       std::move(request.body()), trace, parent, correlation_id, deadline);
    ctx.SetRemoteAddress(remote_address);

    auto match = router.Find(method, ctx.path());
    if (!match.route && method == Method::kHead) {
      match = router.Find(Method::kGet, ctx.path());  // HEAD is GET without the body
    }
    Response response;
    RouteMetrics* rm = &unmatched;
    if (!match.route) {
      if (!match.allowed.empty()) {
        bool get = false, head = false;
        for (auto m : match.allowed) {
          get = get || m == Method::kGet;
          head = head || m == Method::kHead;
        }
        if (get && !head) match.allowed.push_back(Method::kHead);  // HEAD is served wherever GET is
        response = TransportProblem(
                       405, "method-not-allowed",
                       std::string(method_text) + " is not allowed on " + std::string(ctx.path()))
                       .WithHeader("Allow", AllowHeader(match.allowed));
      } else {
        response = Problem(ErrorCode::kNotFound, "no route for " + std::string(ctx.path()));
      }
    } else {
      rm = static_cast<RouteMetrics*>(match.route->user_data);
      if (!rm) rm = &unmatched;
      ctx.SetRoute(match.route->path_template, std::move(match.params));
      std::optional<obs::SpanRecorder> span;
      if (obs::TracingEnabled() && trace.sampled()) {
        span.emplace(std::string(method_text) + " " + match.route->path_template,
                     obs::SpanKind::kServer, trace, parent);
      }
      try {
        if (ctx.deadline().Expired(Clock::Real())) {
          response = Problem(ErrorCode::kDeadlineExceeded, "the caller's deadline had passed");
        } else {
          response = co_await match.route->handler(ctx);
        }
      } catch (const std::exception& e) {
        response = HandlerFailed(ctx, match.route->path_template, e.what());
      } catch (...) {
        response = HandlerFailed(ctx, match.route->path_template, "non-standard exception");
      }
      if (span) {
        span->SetAttribute("http.response.status_code", std::to_string(response.status));
        if (response.status >= 500) span->SetError("HTTP " + std::to_string(response.status));
      }
    }

    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    Count(*rm, response.status, seconds);
    requests_in_flight.Dec();
    if (options.access_log || response.status >= 500) {
      auto level = response.status >= 500 ? obs::LogLevel::kError : obs::LogLevel::kInfo;
      ctx.Log().Write(level, "request",
                      {{"method", method_text},
                       {"route", rm->route},
                       {"path", ctx.path()},
                       {"status", response.status},
                       {"duration_ms", seconds * 1000.0}});
    }
    co_return response;
  }
};

Server::Server(ServerOptions options, Router& router, obs::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}

Server::~Server() = default;

void Server::Listen() {
  auto& s = *impl_;
  tcp::endpoint endpoint(asio::ip::make_address(s.options.host), s.options.port);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint);
  s.acceptor.listen(asio::socket_base::max_listen_connections);
  s.port = s.acceptor.local_endpoint().port();
  s.PrepareRouteMetrics();
  for (auto& fn : s.on_listening) fn(s.port);
}

uint16_t Server::port() const { return impl_->port.load(); }

void Server::OnListening(std::function<void(uint16_t)> fn) {
  impl_->on_listening.push_back(std::move(fn));
}

void Server::Spawn(Task<void> task) {
  asio::co_spawn(impl_->ioc, std::move(task), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      obs::LogError("background task failed", {{"error", ex.what()}});
    } catch (...) {
      obs::LogError("background task failed", {{"error", "non-standard exception"}});
    }
  });
}

void Server::Run() {
  auto& s = *impl_;
  if (!s.acceptor.is_open()) Listen();
  if (s.options.handle_signals) {
    s.signals.emplace(s.control, SIGTERM, SIGINT);
    s.signals->async_wait([&s](beast::error_code ec, int signal) {
      if (ec) return;
      obs::LogInfo("signal received", {{"signal", signal}});
      s.BeginStop();
    });
  }
  asio::co_spawn(s.control, s.AcceptLoop(), asio::detached);
  obs::LogInfo("listening", {{"host", s.options.host},
                             {"port", static_cast<int64_t>(s.port.load())},
                             {"threads", s.options.threads}});
  std::vector<std::thread> extra;
  for (int i = 1; i < s.options.threads; ++i) extra.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& t : extra) t.join();
  obs::LogInfo("stopped");
}

void Server::Stop() {
  asio::post(impl_->control, [this] { impl_->BeginStop(); });
}

bool Server::stopping() const { return impl_->stopping.load(); }

}  // namespace mercato::http
