#include "mercato/http/client.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "mercato/resilience/deadline.hpp"
#include "mercato/testing/testing.hpp"
#include "test_upstream.hpp"

namespace mercato::http {
namespace {

namespace asio = boost::asio;
using testing::Behaviour;
using testing::TestUpstream;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using BreakerState = resilience::CircuitBreaker::State;

ClientRequest Get(std::string path = "/") {
  ClientRequest r;
  r.path = std::move(path);
  return r;
}

ClientRequest Post(std::string body = "{}") {
  ClientRequest r;
  r.method = Method::kPost;
  r.path = "/orders";
  r.body = std::move(body);
  return r;
}

class ClientTest : public ::testing::Test {
 protected:
  // Runs `task` to completion on this test's io_context, on the test thread.
  // (co_spawn wants a default-constructible result, which Result<T> is not.)
  template <class T>
  T Run(Task<T> task) {
    std::optional<T> result;
    auto done = asio::co_spawn(
        io_,
        [&result, t = std::move(task)]() mutable -> Task<void> { result.emplace(co_await std::move(t)); },
        asio::use_future);
    io_.restart();
    io_.run();
    done.get();
    return std::move(*result);
  }

  // Short backoff so retry tests stay fast; each test changes what it is about.
  ClientOptions Options(std::string name) const {
    ClientOptions o;
    o.name = std::move(name);
    o.base_url = upstream_.base_url();
    o.retry.base_delay = 1ms;
    o.retry.max_delay = 10ms;
    return o;
  }

  double CounterValue(const std::string& name, std::vector<std::string> label_names,
                      const std::vector<std::string>& values) {
    return registry_.AddCounter(name, "", std::move(label_names)).WithLabels(values).Value();
  }
  double GaugeValue(const std::string& name, const std::string& upstream) {
    return registry_.AddGauge(name, "", {"upstream"}).WithLabels({upstream}).Value();
  }
  double Retries(const std::string& upstream) {
    return CounterValue("mercato_http_client_retries_total", {"upstream"}, {upstream});
  }

  asio::io_context io_;  // first: outlives every client (and its pooled sockets) in a test
  TestUpstream upstream_;
  obs::Registry registry_;
};

// --- retries ---------------------------------------------------------------------------------

TEST_F(ClientTest, GetIsRetriedOn503UntilSuccess) {
  upstream_.Push(Behaviour::Reply(503));
  upstream_.Push(Behaviour::Reply(503));
  upstream_.SetDefault(Behaviour::Reply(200, "ok"));
  Client client(Options("catalog"), registry_);

  auto r = Run(client.Send(Get("/items")));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(upstream_.requests(), 3);
  EXPECT_EQ(Retries("catalog"), 2);
  EXPECT_EQ(CounterValue("mercato_http_client_requests_total", {"upstream", "method", "status"},
                         {"catalog", "GET", "503"}),
            2);
}

TEST_F(ClientTest, ExhaustedRetriesReturnTheLastResponse) {
  upstream_.SetDefault(Behaviour::Reply(503, "busy"));
  Client client(Options("catalog"), registry_);

  auto r = Run(client.Send(Get()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "busy");
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(upstream_.requests(), 3);
}

TEST_F(ClientTest, PostWithoutIdempotencyKeyIsNotRetried) {
  upstream_.SetDefault(Behaviour::Reply(503));
  Client client(Options("orders"), registry_);

  auto r = Run(client.Send(Post()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(upstream_.requests(), 1);
  EXPECT_EQ(Retries("orders"), 0);
}

TEST_F(ClientTest, PostWithIdempotencyKeyIsRetried) {
  upstream_.Push(Behaviour::Reply(503));
  upstream_.SetDefault(Behaviour::Reply(201));
  Client client(Options("orders"), registry_);
  auto request = Post();
  request.headers.Set("Idempotency-Key", "k-1");

  auto r = Run(client.Send(request));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(upstream_.requests(), 2);
  ASSERT_TRUE(upstream_.last_request());
  EXPECT_EQ(upstream_.last_request()->Header("Idempotency-Key"), "k-1");
}

TEST_F(ClientTest, ExplicitNonIdempotentGetIsNotRetried) {
  upstream_.SetDefault(Behaviour::Reply(503));
  Client client(Options("catalog"), registry_);
  auto request = Get();
  request.idempotent = false;

  auto r = Run(client.Send(request));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(upstream_.requests(), 1);
}

TEST_F(ClientTest, RefusedConnectIsRetriedEvenForPost) {
  auto options = Options("payments");
  options.base_url = "http://127.0.0.1:" + std::to_string(mercato::testing::ClosedTcpPort());
  options.breaker_enabled = false;
  Client client(options, registry_);

  auto r = Run(client.Send(Post()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(Retries("payments"), 2);
  EXPECT_EQ(CounterValue("mercato_http_client_requests_total", {"upstream", "method", "status"},
                         {"payments", "POST", "error"}),
            3);
}

TEST_F(ClientTest, ResetAfterSendingPostIsNotRetried) {
  upstream_.SetDefault(Behaviour::Of(Behaviour::Kind::kResetAfterRead));
  Client client(Options("payments"), registry_);

  auto r = Run(client.Send(Post()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(upstream_.requests(), 1);
}

TEST_F(ClientTest, RetryAfterIsHonoured) {
  upstream_.Push(Behaviour::Reply(429).WithRetryAfter("1"));
  upstream_.SetDefault(Behaviour::Reply(200));
  auto options = Options("ratelimited");
  options.retry.max_delay = 1s;  // Retry-After is capped at 4 x max_delay
  Client client(options, registry_);
  const auto started = SteadyClock::now();

  auto r = Run(client.Send(Get()));

  const auto elapsed = SteadyClock::now() - started;
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(elapsed, 1s);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(ClientTest, EmptyRetryBudgetAllowsNoRetries) {
  upstream_.SetDefault(Behaviour::Reply(503));
  auto options = Options("catalog");
  options.retry_budget_ratio = 0;
  options.retry_budget_min_per_second = 0;
  Client client(options, registry_);

  auto r = Run(client.Send(Get()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(upstream_.requests(), 1);
  EXPECT_EQ(Retries("catalog"), 0);
}

// --- circuit breaker -------------------------------------------------------------------------

TEST_F(ClientTest, BreakerOpensFailsFastThenRecoversThroughHalfOpen) {
  FakeClock clock;  // drives open_duration without sleeping
  auto options = Options("flaky");
  options.retry.max_attempts = 1;
  options.breaker = {.window_size = 4,
                     .minimum_calls = 4,
                     .failure_rate_threshold = 0.5,
                     .open_duration = 200ms,
                     .half_open_max_calls = 1};
  upstream_.SetDefault(Behaviour::Reply(500));
  Client client(options, registry_, clock);
  EXPECT_EQ(GaugeValue("mercato_circuit_breaker_state", "flaky"), 0);

  for (int i = 0; i < 4; ++i) {
    auto r = Run(client.Send(Get()));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 500);
  }
  EXPECT_EQ(client.breaker().state(), BreakerState::kOpen);
  EXPECT_EQ(GaugeValue("mercato_circuit_breaker_state", "flaky"), 1);

  auto rejected = Run(client.Send(Get()));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(upstream_.requests(), 4);

  clock.Advance(200ms);
  upstream_.SetDefault(Behaviour::Reply(200));
  auto trial = Run(client.Send(Get()));

  ASSERT_TRUE(trial) << trial.error().message;
  EXPECT_EQ(trial->status, 200);
  EXPECT_EQ(upstream_.requests(), 5);
  EXPECT_EQ(client.breaker().state(), BreakerState::kClosed);
  EXPECT_EQ(GaugeValue("mercato_circuit_breaker_state", "flaky"), 0);
  const std::vector<std::string> labels = {"upstream", "to"};
  EXPECT_EQ(CounterValue("mercato_circuit_breaker_transitions_total", labels, {"flaky", "open"}), 1);
  EXPECT_EQ(CounterValue("mercato_circuit_breaker_transitions_total", labels, {"flaky", "half_open"}), 1);
  EXPECT_EQ(CounterValue("mercato_circuit_breaker_transitions_total", labels, {"flaky", "closed"}), 1);
}

TEST_F(ClientTest, ClientErrorsDoNotOpenTheBreaker) {
  auto options = Options("strict");
  options.breaker = {.window_size = 4, .minimum_calls = 4, .failure_rate_threshold = 0.5};
  upstream_.SetDefault(Behaviour::Reply(404));
  Client client(options, registry_);

  for (int i = 0; i < 6; ++i) {
    auto r = Run(client.Send(Get()));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 404);
  }

  EXPECT_EQ(client.breaker().state(), BreakerState::kClosed);
  EXPECT_EQ(upstream_.requests(), 6);
}

// --- bulkhead --------------------------------------------------------------------------------

TEST_F(ClientTest, BulkheadRejectsTheCallPastTheCap) {
  upstream_.SetDefault(Behaviour::Of(Behaviour::Kind::kStall));
  auto options = Options("slow");
  options.max_concurrent = 2;
  options.attempt_timeout = 500ms;
  options.retry.max_attempts = 1;
  Client client(options, registry_);
  std::array<std::optional<Result<ClientResponse>>, 3> results;
  std::array<SteadyClock::time_point, 3> finished{};
  // GCC 12 destroys a braced temporary inside a co_await expression twice, and Send's default
  // `context = {}` is one: inside a coroutine, pass a named context.
  const CallContext context;
  auto call = [&](size_t i) -> Task<void> {
    auto r = co_await client.Send(Get(), context);
    finished[i] = SteadyClock::now();
    results[i].emplace(std::move(r));
  };
  const auto started = SteadyClock::now();

  for (size_t i = 0; i < 3; ++i) asio::co_spawn(io_, call(i), asio::detached);
  io_.run();

  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(results[i]);
    ASSERT_FALSE(*results[i]);
    EXPECT_EQ(results[i]->error().code, ErrorCode::kDeadlineExceeded);
  }
  ASSERT_TRUE(results[2]);
  ASSERT_FALSE(*results[2]);
  EXPECT_EQ(results[2]->error().code, ErrorCode::kResourceExhausted);
  EXPECT_LT(finished[2] - started, 200ms);
  EXPECT_EQ(upstream_.requests(), 2);
  EXPECT_EQ(CounterValue("mercato_bulkhead_rejected_total", {"upstream"}, {"slow"}), 1);
  EXPECT_EQ(GaugeValue("mercato_bulkhead_in_flight", "slow"), 0);
}

// --- deadlines -------------------------------------------------------------------------------

TEST_F(ClientTest, StalledUpstreamTimesOutAfterTheAttemptTimeout) {
  upstream_.SetDefault(Behaviour::Of(Behaviour::Kind::kStall));
  auto options = Options("stuck");
  options.attempt_timeout = 200ms;
  options.retry.max_attempts = 1;
  Client client(options, registry_);
  const auto started = SteadyClock::now();

  auto r = Run(client.Send(Get()));

  const auto elapsed = SteadyClock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1s);
}

TEST_F(ClientTest, CallerDeadlineCapsTheAttemptTimeoutAndStopsRetries) {
  upstream_.SetDefault(Behaviour::Of(Behaviour::Kind::kStall));
  auto options = Options("stuck");
  options.attempt_timeout = 5s;
  options.breaker.minimum_calls = 1;  // so that one recorded failure would show in FailureRate
  Client client(options, registry_);
  CallContext context;
  context.deadline = resilience::Deadline::After(300ms, Clock::Real());
  const auto started = SteadyClock::now();

  auto r = Run(client.Send(Get(), context));

  const auto elapsed = SteadyClock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 1s);
  EXPECT_EQ(upstream_.requests(), 1);
  // Our caller ran out of time; that says nothing about the upstream.
  EXPECT_EQ(client.breaker().FailureRate(), -1);
}

TEST_F(ClientTest, DeadlineHeaderNeverExceedsWhatTheCallerHasLeft) {
  auto options = Options("catalog");
  options.attempt_timeout = 5s;
  Client client(options, registry_);
  CallContext context;
  context.deadline = resilience::Deadline::After(1s, Clock::Real());

  auto r = Run(client.Send(Get(), context));
  const auto remaining = context.deadline.Remaining(Clock::Real());

  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(upstream_.last_request());
  const auto header = upstream_.last_request()->Header(resilience::kDeadlineHeader);
  ASSERT_TRUE(header);
  const int64_t ms = std::stoll(*header);
  EXPECT_LE(ms, 1000);
  EXPECT_GE(std::chrono::milliseconds(ms), std::chrono::duration_cast<std::chrono::milliseconds>(remaining));
  EXPECT_GT(ms, 0);
}

TEST_F(ClientTest, AttemptTimeoutIsSentAsTheDeadlineWithoutACallerDeadline) {
  Client client(Options("catalog"), registry_);  // attempt_timeout 2 s

  auto r = Run(client.Send(Get()));

  ASSERT_TRUE(r) << r.error().message;
  const auto header = upstream_.last_request()->Header(resilience::kDeadlineHeader);
  ASSERT_TRUE(header);
  EXPECT_LE(std::stoll(*header), 2000);
  EXPECT_GT(std::stoll(*header), 1000);
}

TEST_F(ClientTest, ExpiredDeadlineFailsWithoutSending) {
  Client client(Options("catalog"), registry_);
  CallContext context;
  context.deadline = resilience::Deadline::After(Duration::zero(), Clock::Real());

  auto r = Run(client.Send(Get(), context));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(upstream_.connections(), 0);
}

// --- propagation -----------------------------------------------------------------------------

TEST_F(ClientTest, PropagatesTraceCorrelationAndAuthorization) {
  Client client(Options("catalog"), registry_);
  CallContext context;
  context.trace = obs::TraceContext::NewRoot();
  context.correlation_id = "corr-42";
  context.authorization = "Bearer caller";

  auto r = Run(client.Send(Get(), context));

  ASSERT_TRUE(r) << r.error().message;
  const auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  const auto traceparent = seen->Header("traceparent");
  ASSERT_TRUE(traceparent);
  const auto received = obs::TraceContext::Parse(*traceparent);
  ASSERT_TRUE(received);
  EXPECT_EQ(received->trace_id, context.trace->trace_id);
  EXPECT_NE(received->span_id, context.trace->span_id);
  EXPECT_EQ(seen->Header("X-Correlation-ID"), "corr-42");
  EXPECT_EQ(seen->Header("Authorization"), "Bearer caller");
  EXPECT_EQ(seen->Header("User-Agent"), "mercato");
  EXPECT_EQ(seen->Header("Host"), "127.0.0.1:" + std::to_string(upstream_.port()));
}

TEST_F(ClientTest, RequestAuthorizationWinsOverTheCallers) {
  Client client(Options("catalog"), registry_);
  CallContext context;
  context.authorization = "Bearer caller";
  auto request = Post("{\"a\":1}");
  request.headers.Set("Authorization", "Bearer service");

  auto r = Run(client.Send(request, context));

  ASSERT_TRUE(r) << r.error().message;
  const auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->Header("Authorization"), "Bearer service");
  EXPECT_EQ(seen->Header("Content-Type"), "application/json");
  EXPECT_EQ(seen->Header("Content-Length"), "7");
  EXPECT_EQ(seen->body, "{\"a\":1}");
  EXPECT_FALSE(seen->Header("X-Correlation-ID"));
  // Without a caller trace the call starts a new one.
  ASSERT_TRUE(seen->Header("traceparent"));
  EXPECT_TRUE(obs::TraceContext::Parse(*seen->Header("traceparent")));
}

TEST_F(ClientTest, UnsafePathIsInvalidArgument) {
  Client client(Options("catalog"), registry_);

  auto r = Run(client.Send(Get("/a b\r\nX: y")));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(upstream_.connections(), 0);
}

// --- connection pool -------------------------------------------------------------------------

TEST_F(ClientTest, SequentialCallsReuseOneConnection) {
  Client client(Options("catalog"), registry_);

  for (int i = 0; i < 20; ++i) {
    auto r = Run(client.Send(Get("/items/" + std::to_string(i))));
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 200);
  }

  EXPECT_EQ(upstream_.requests(), 20);
  EXPECT_EQ(upstream_.connections(), 1);
  EXPECT_EQ(client.idle_connections(), 1u);
}

TEST_F(ClientTest, ConnectionCloseFromTheServerIsHonoured) {
  upstream_.SetDefault(Behaviour::Reply(200).WithClose());
  Client client(Options("catalog"), registry_);

  for (int i = 0; i < 2; ++i) {
    auto r = Run(client.Send(Get()));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(client.idle_connections(), 0u);
  }

  EXPECT_EQ(upstream_.connections(), 2);
}

TEST_F(ClientTest, ConnectionDroppedOnReuseIsRetriedOnAFreshOneWithoutCountingAnAttempt) {
  upstream_.Push(Behaviour::Reply(200));
  upstream_.Push(Behaviour::Of(Behaviour::Kind::kCloseAfterRead));
  upstream_.SetDefault(Behaviour::Reply(200, "fresh"));
  Client client(Options("catalog"), registry_);
  ASSERT_TRUE(Run(client.Send(Get())));

  auto r = Run(client.Send(Get()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "fresh");
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(upstream_.requests(), 3);
  EXPECT_EQ(upstream_.connections(), 2);
  EXPECT_EQ(Retries("catalog"), 0);
}

TEST_F(ClientTest, ServerClosingIdleConnectionsDoesNotFailTheNextCall) {
  Client client(Options("catalog"), registry_);
  ASSERT_TRUE(Run(client.Send(Get())));
  ASSERT_EQ(client.idle_connections(), 1u);

  upstream_.CloseIdleConnections();
  ASSERT_TRUE(upstream_.WaitFor([&] { return upstream_.open_connections() == 0; }, 2s));
  auto r = Run(client.Send(Get()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(upstream_.connections(), 2);
}

TEST_F(ClientTest, ZeroIdleConnectionsMeansNoPooling) {
  auto options = Options("catalog");
  options.max_idle_connections = 0;
  Client client(options, registry_);

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Run(client.Send(Get())));

  EXPECT_EQ(client.idle_connections(), 0u);
  EXPECT_EQ(upstream_.connections(), 3);
}

// --- small pieces ----------------------------------------------------------------------------

TEST(ClientResponse, JsonParsesTheBody) {
  ClientResponse response;
  response.body = R"({"id":7})";

  auto json = response.Json();

  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(json->at("id").as_int64(), 7);
}

TEST(ClientResponse, JsonOfGarbageIsInvalidArgument) {
  ClientResponse response;
  response.body = "{not json";

  auto json = response.Json();

  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().code, ErrorCode::kInvalidArgument);
}

TEST(Client, BadBaseUrlThrowsAtConstruction) {
  obs::Registry registry;
  for (const char* url : {"https://127.0.0.1:1", "nonsense", "http://:80", "", "http://127.0.0.1:70000"}) {
    ClientOptions options;
    options.name = "x";
    options.base_url = url;
    EXPECT_THROW(Client(options, registry), std::invalid_argument) << url;
  }
}

TEST(SleepFor, SuspendsForAtLeastTheDuration) {
  asio::io_context io;
  const auto started = SteadyClock::now();

  auto done = asio::co_spawn(io, SleepFor(50ms), asio::use_future);
  io.run();
  done.get();

  EXPECT_GE(SteadyClock::now() - started, 50ms);
}

}  // namespace
}  // namespace mercato::http
