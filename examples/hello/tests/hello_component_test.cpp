// Component tests of the chassis through the hello sample: the real binary on an ephemeral port,
// spoken to over real sockets, unhappy paths included.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include "mercato/testing/testing.hpp"

namespace mercato::hello {
namespace {

using namespace std::chrono_literals;
using testing::Get;
using testing::RawConnection;
using testing::ServiceProcess;
using testing::StatusOf;

boost::json::object ParseObject(const std::string& body) { return boost::json::parse(body).as_object(); }

class HelloTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    service_ = new ServiceProcess(ServiceProcess::Start(
        "hello", {"--header-timeout", "2s", "--body-timeout", "2s", "--max-connections", "64"}));
  }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  static uint16_t port() { return service_->port(); }
  static ServiceProcess* service_;
};
ServiceProcess* HelloTest::service_ = nullptr;

TEST_F(HelloTest, GreetsByName) {
  auto r = Get(port(), "/hello/Ada");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(ParseObject(r->body).at("message").as_string(), "Hello, Ada!");
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
}

TEST_F(HelloTest, ServesItemDocumentsOfAboutHalfAKilobyte) {
  auto r = Get(port(), "/items/item-0042");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_GT(r->body.size(), 400u);
  EXPECT_LT(r->body.size(), 700u);
  auto item = ParseObject(r->body);
  EXPECT_EQ(item.at("id").as_string(), "item-0042");
  EXPECT_EQ(item.at("price").as_object().at("currency").as_string(), "USD");
}

TEST_F(HelloTest, UnknownRouteIsProblemJson404) {
  auto r = Get(port(), "/no/such/route");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->Header("Content-Type"), "application/problem+json");
  auto problem = ParseObject(r->body);
  EXPECT_EQ(problem.at("status").as_int64(), 404);
  EXPECT_EQ(problem.at("type").as_string(), "https://mercato.dev/problems/not-found");
}

TEST_F(HelloTest, UnknownItemIs404) {
  auto r = Get(port(), "/items/item-9999");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ParseObject(r->body).at("code").as_string(), "not_found");
}

TEST_F(HelloTest, WrongMethodIs405WithAllow) {
  auto r = testing::Request(port(), "DELETE", "/items/item-0001");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("Allow"), "GET, PUT, HEAD");
  EXPECT_EQ(r->Header("Content-Type"), "application/problem+json");
}

TEST_F(HelloTest, PutStoresAnItemAndGetReturnsIt) {
  std::string body = R"({"name":"Teapot","description":"Short and stout","price":{"amount":1250,"currency":"EUR"},"weight_g":800})";
  auto put = testing::Request(port(), "PUT", "/items/teapot-1", body, {{"Content-Type", "application/json"}});
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201) << put->body;
  auto again = testing::Request(port(), "PUT", "/items/teapot-1", body, {{"Content-Type", "application/json"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  auto get = Get(port(), "/items/teapot-1");
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200);
  auto item = ParseObject(get->body);
  EXPECT_EQ(item.at("name").as_string(), "Teapot");
  EXPECT_EQ(item.at("price").as_object().at("amount").as_int64(), 1250);
}

TEST_F(HelloTest, InvalidBodiesAreProblemsNamingTheField) {
  auto malformed = testing::Request(port(), "PUT", "/items/x", "{\"name\":", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(ParseObject(malformed->body).at("code").as_string(), "invalid_argument");

  auto negative = testing::Request(port(), "PUT", "/items/x",
                                   R"({"name":"x","price":{"amount":-1,"currency":"USD"}})",
                                   {{"Content-Type", "application/json"}});
  ASSERT_TRUE(negative);
  EXPECT_EQ(negative->status, 400);
  EXPECT_EQ(ParseObject(negative->body).at("field").as_string(), "price.amount");
}

TEST_F(HelloTest, MalformedRequestLineIs400AndServerKeepsServing) {
  {
    RawConnection c(port());
    ASSERT_TRUE(c.Send("GARBAGE\x01 / HTTP/9.9\r\n\r\n"));
    auto raw = c.ReadUntilClosed(5s);
    EXPECT_EQ(StatusOf(raw), 400) << raw;
    EXPECT_NE(raw.find("application/problem+json"), std::string::npos);
  }
  auto r = Get(port(), "/hello/still-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HelloTest, SixtyFourKibOfHeadersIs431) {
  RawConnection c(port());
  std::string request = "GET /hello/x HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 66; ++i) request += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
  request += "\r\n";
  ASSERT_GE(request.size(), 64u * 1024);
  c.Send(request);
  auto raw = c.ReadUntilClosed(5s);
  EXPECT_EQ(StatusOf(raw), 431) << raw.substr(0, 200);
}

TEST_F(HelloTest, TwoMibBodyIs413) {
  RawConnection c(port());
  std::string body(2 * 1024 * 1024, 'x');
  std::string head = "PUT /items/big HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  c.Send(head);
  c.Send(body);  // the server may answer and close before all of it is sent; that is fine
  auto raw = c.ReadUntilClosed(5s);
  EXPECT_EQ(StatusOf(raw), 413) << raw.substr(0, 200);
}

TEST_F(HelloTest, ChunkedBodyOverTheLimitIs413) {
  RawConnection c(port());
  c.Send("PUT /items/big HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk(256 * 1024, 'y');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  for (int i = 0; i < 8; ++i) {
    if (!c.Send(std::string(size_line) + chunk + "\r\n")) break;
  }
  auto raw = c.ReadUntilClosed(5s);
  EXPECT_EQ(StatusOf(raw), 413) << raw.substr(0, 200);
}

TEST_F(HelloTest, ClientSendingOneBytePerSecondGets408) {
  RawConnection c(port());
  std::string request = "GET /hello/slowloris HTTP/1.1\r\nHost: localhost\r\n\r\n";
  auto started = std::chrono::steady_clock::now();
  std::string raw;
  for (char byte : request) {
    if (!c.Send(std::string(1, byte))) break;
    raw = c.ReadUntil("\r\n\r\n", 1s);  // one byte per second, watching for an answer
    if (!raw.empty()) break;
  }
  if (raw.find("\r\n\r\n") == std::string::npos) raw += c.ReadUntil("\r\n\r\n", 3s);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(StatusOf(raw), 408) << raw;
  EXPECT_LT(elapsed, 6s);  // header-timeout is 2 s; the whole request would take ~50 s
  EXPECT_TRUE(c.PeerClosed(3s));
}

TEST_F(HelloTest, IdleKeepAliveConnectionIsClosedSilently) {
  RawConnection c(port());
  EXPECT_TRUE(c.PeerClosed(5s));  // header-timeout 2 s, with no 408 for a connection that said nothing
}

TEST_F(HelloTest, KeepAliveServesManyRequestsOnOneConnection) {
  RawConnection c(port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send("GET /hello/k" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto raw = c.ReadUntil("!\"}", 5s);
    EXPECT_EQ(StatusOf(raw), 200) << raw;
  }
}

TEST_F(HelloTest, HeadAnswersWithoutBody) {
  auto get = Get(port(), "/items/item-0001");
  ASSERT_TRUE(get);
  RawConnection c(port());
  c.Send("HEAD /items/item-0001 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto raw = c.ReadUntilClosed(5s);
  EXPECT_EQ(StatusOf(raw), 200);
  auto end_of_head = raw.find("\r\n\r\n");
  ASSERT_NE(end_of_head, std::string::npos);
  EXPECT_EQ(raw.size(), end_of_head + 4) << "HEAD must not carry a body";
  EXPECT_NE(raw.find("Content-Length: " + std::to_string(get->body.size()) + "\r\n"), std::string::npos)
      << "HEAD must announce the GET body's length:\n" << raw;
}

TEST_F(HelloTest, CorrelationIdIsEchoedOrGenerated) {
  auto given = Get(port(), "/hello/x", {{"X-Correlation-ID", "abc-123"}});
  ASSERT_TRUE(given);
  EXPECT_EQ(given->Header("X-Correlation-ID"), "abc-123");
  auto generated = Get(port(), "/hello/x");
  ASSERT_TRUE(generated);
  EXPECT_EQ(generated->Header("X-Correlation-ID").size(), 32u);
  auto hostile = Get(port(), "/hello/x", {{"X-Correlation-ID", "bad id\twith\"quotes"}});
  ASSERT_TRUE(hostile);
  EXPECT_NE(hostile->Header("X-Correlation-ID"), "bad id\twith\"quotes");
}

TEST_F(HelloTest, IncomingTraceparentContinuesTheTrace) {
  // With no X-Correlation-ID the server uses the trace id as correlation id, so the echoed
  // header shows which trace the request joined.
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto joined = Get(port(), "/hello/t", {{"traceparent", "00-" + trace_id + "-00f067aa0ba902b7-01"}});
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->Header("X-Correlation-ID"), trace_id);
  auto invalid = Get(port(), "/hello/t", {{"traceparent", "00-" + std::string(32, '0') + "-00f067aa0ba902b7-01"}});
  ASSERT_TRUE(invalid);
  EXPECT_NE(invalid->Header("X-Correlation-ID"), std::string(32, '0')) << "an all-zero trace id is invalid";
}

TEST_F(HelloTest, DeadlineHeaderCutsSlowWorkShort) {
  auto started = std::chrono::steady_clock::now();
  auto r = Get(port(), "/slow?ms=3000", {{"X-Mercato-Deadline-Ms", "200"}});
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(ParseObject(r->body).at("code").as_string(), "deadline_exceeded");
  EXPECT_LT(elapsed, 2s);
}

TEST_F(HelloTest, ReadinessListsDependencies) {
  auto r = Get(port(), "/health/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto body = ParseObject(r->body);
  EXPECT_EQ(body.at("status").as_string(), "ready");
  auto checks = body.at("checks").as_array();
  ASSERT_FALSE(checks.empty());
  EXPECT_EQ(checks[0].as_object().at("name").as_string(), "sqlite");
  EXPECT_EQ(checks[0].as_object().at("status").as_string(), "up");
  EXPECT_TRUE(checks[0].as_object().at("latency_ms").is_number());
  auto live = Get(port(), "/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
}

TEST_F(HelloTest, OpenApiDocumentIsServed) {
  auto r = Get(port(), "/openapi.yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("/items/{id}:"), std::string::npos);
}

TEST_F(HelloTest, MetricsPassPromtoolAndCountRoutesByTemplate) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Get(port(), "/items/item-000" + std::to_string(i + 1)));
  auto r = Get(port(), "/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("http_requests_total{method=\"GET\",route=\"/items/{id}\",status=\"200\"}"),
            std::string::npos);
  EXPECT_EQ(r->body.find("route=\"/items/item-0001\""), std::string::npos) << "raw paths must not be labels";
  EXPECT_NE(r->body.find("http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(r->body.find("process_resident_memory_bytes"), std::string::npos);
  EXPECT_NE(r->body.find("mercato_hello_greetings_total"), std::string::npos);

  testing::TempDir dir;
  std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << r->body;
  int status = std::system(("promtool check metrics < " + file + " > " + dir.path() + "/out.txt 2>&1").c_str());
  std::ifstream out(dir.path() + "/out.txt");
  std::string report((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(status, 0) << "promtool check metrics failed:\n" << report;
}

TEST_F(HelloTest, ConcurrentClientsAreAllServed) {
  std::vector<std::future<int>> results;
  for (int i = 0; i < 16; ++i) {
    results.push_back(std::async(std::launch::async, [i] {
      int ok = 0;
      for (int j = 0; j < 20; ++j) {
        auto r = Get(port(), "/hello/c" + std::to_string(i));
        ok += r && r->status == 200;
      }
      return ok;
    }));
  }
  int total = 0;
  for (auto& f : results) total += f.get();
  EXPECT_EQ(total, 16 * 20);
}

// --- process-level behaviour: each test owns its own instance ---------------------------------

TEST(HelloProcess, SigtermLetsInFlightRequestsFinishThenExitsZero) {
  auto hello = ServiceProcess::Start("hello");
  uint16_t port = hello.port();
  std::vector<std::future<Result<http::BlockingResponse>>> in_flight;
  for (int i = 0; i < 4; ++i) {
    in_flight.push_back(std::async(std::launch::async, [port] { return Get(port, "/slow?ms=1500"); }));
  }
  // Wait until the four requests are inside the handler.
  ASSERT_TRUE(testing::WaitFor([&] {
    auto m = Get(port, "/metrics");
    return m && m->body.find("http_requests_in_flight 5") != std::string::npos;  // 4 + this scrape
  }, 5s));
  hello.process().Signal(SIGTERM);
  for (auto& f : in_flight) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(hello.process().Wait(10s), 0) << hello.Logs();
  EXPECT_NE(hello.Logs().find("\"msg\":\"draining\""), std::string::npos);
}

TEST(HelloProcess, RefusesNewConnectionsWhileDraining) {
  auto hello = ServiceProcess::Start("hello");
  uint16_t port = hello.port();
  auto slow = std::async(std::launch::async, [port] { return Get(port, "/slow?ms=1500"); });
  ASSERT_TRUE(testing::WaitFor([&] {
    auto m = Get(port, "/metrics");
    return m && m->body.find("http_requests_in_flight 2") != std::string::npos;
  }, 5s));
  hello.process().Signal(SIGTERM);
  ASSERT_TRUE(testing::WaitFor([&] { return !Get(port, "/health/live"); }, 3s))
      << "listener should close when draining starts";
  auto r = slow.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(hello.process().Wait(10s), 0);
}

TEST(HelloProcess, ConnectionsBeyondTheCapGet503) {
  auto hello = ServiceProcess::Start("hello", {"--max-connections", "2"});
  // The acceptor takes connections in order, so a and b hold the two slots before c arrives.
  RawConnection a(hello.port());
  RawConnection b(hello.port());
  RawConnection c(hello.port());
  c.Send("GET /hello/x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto raw = c.ReadUntilClosed(3s);
  EXPECT_EQ(StatusOf(raw), 503) << raw;
}

TEST(HelloProcess, HelpListsEveryKeyAndExitsZero) {
  testing::TempDir dir;
  auto log = dir.path() + "/help.txt";
  auto p = testing::ChildProcess::Start(testing::BinaryPath("hello"), {"--help"}, {}, log);
  EXPECT_EQ(p.Wait(5s), 0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto key : {"--port", "--data-dir", "--header-timeout", "--max-body-bytes", "MERCATO_HELLO_PORT", "--max-slow"}) {
    EXPECT_NE(text.find(key), std::string::npos) << key << " missing from --help:\n" << text;
  }
}

TEST(HelloProcess, BadConfigStopsWithOneClearLine) {
  testing::TempDir dir;
  auto log = dir.path() + "/err.txt";
  auto p = testing::ChildProcess::Start(testing::BinaryPath("hello"), {"--port", "seventy"}, {}, log);
  EXPECT_EQ(p.Wait(5s), 2);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("port"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

int ReadPort(const std::string& file) {
  std::ifstream in(file);
  int port = 0;
  in >> port;
  return port;
}

TEST(HelloProcess, EnvironmentConfiguresThePortAndLogLevel) {
  testing::TempDir dir;
  uint16_t wanted = testing::FreeTcpPort();
  auto p = testing::ChildProcess::Start(
      testing::BinaryPath("hello"), {"--data-dir", dir.path(), "--port-file", dir.path() + "/port"},
      {{"MERCATO_HELLO_PORT", std::to_string(wanted)}, {"MERCATO_HELLO_LOG_LEVEL", "warn"}},
      dir.path() + "/log.txt");
  ASSERT_TRUE(testing::WaitFor([&] { return ReadPort(dir.path() + "/port") > 0; }, 10s));
  EXPECT_EQ(ReadPort(dir.path() + "/port"), wanted);
  auto r = Get(wanted, "/hello/env");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(10s), 0);
  std::ifstream in(dir.path() + "/log.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("\"level\":\"info\""), std::string::npos) << "log-level from env ignored:\n" << text;
}

TEST(HelloProcess, FlagBeatsEnvironment) {
  testing::TempDir dir;
  // The environment asks for port 1; the flag (0: any free port) must win.
  auto p = testing::ChildProcess::Start(
      testing::BinaryPath("hello"),
      {"--port", "0", "--data-dir", dir.path(), "--port-file", dir.path() + "/port"},
      {{"MERCATO_HELLO_PORT", "1"}}, dir.path() + "/log.txt");
  ASSERT_TRUE(testing::WaitFor([&] { return ReadPort(dir.path() + "/port") > 0; }, 10s));
  EXPECT_NE(ReadPort(dir.path() + "/port"), 1);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(10s), 0);
}

TEST(HelloProcess, LogsAreJsonLinesWithIds) {
  auto hello = ServiceProcess::Start("hello", {"--access-log"});
  auto r = Get(hello.port(), "/hello/logs", {{"X-Correlation-ID", "log-test-1"}});
  ASSERT_TRUE(r);
  ASSERT_TRUE(testing::WaitFor([&] { return hello.Logs().find("log-test-1") != std::string::npos; }, 5s));
  std::istringstream lines(hello.Logs());
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    auto v = boost::json::parse(line);  // every line is one JSON object
    auto& o = v.as_object();
    EXPECT_TRUE(o.contains("ts"));
    EXPECT_TRUE(o.contains("level"));
    EXPECT_EQ(o.at("service").as_string(), "hello");
    if (o.contains("correlation_id") && o.at("correlation_id").as_string() == "log-test-1") {
      found = true;
      EXPECT_EQ(o.at("trace_id").as_string().size(), 32u);
      EXPECT_EQ(o.at("span_id").as_string().size(), 16u);
      EXPECT_EQ(o.at("route").as_string(), "/hello/{name}");
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace mercato::hello

namespace mercato::hello {
namespace {

TEST(HelloProcess, ExportsServerSpansOverOtlpHttp) {
  testing::CaptureServer collector;
  auto hello = ServiceProcess::Start(
      "hello", {"--otlp-endpoint", "http://127.0.0.1:" + std::to_string(collector.port())});
  const std::string trace_id = "0af7651916cd43dd8448eb211c80319c";
  auto r = Get(hello.port(), "/hello/traced", {{"traceparent", "00-" + trace_id + "-b7ad6b7169203331-01"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);

  boost::json::object span;
  ASSERT_TRUE(testing::WaitFor([&] {
    for (const auto& request : collector.Requests()) {
      if (request.path != "/v1/traces") continue;
      auto doc = boost::json::parse(request.body).as_object();
      for (auto& rs : doc.at("resourceSpans").as_array()) {
        for (auto& ss : rs.as_object().at("scopeSpans").as_array()) {
          for (auto& s : ss.as_object().at("spans").as_array()) {
            if (s.as_object().at("traceId").as_string() == trace_id) {
              span = s.as_object();
              return true;
            }
          }
        }
      }
    }
    return false;
  }, 10s)) << "no span of trace " << trace_id << " reached the collector";
  EXPECT_EQ(span.at("name").as_string(), "GET /hello/{name}");
  EXPECT_EQ(span.at("parentSpanId").as_string(), "b7ad6b7169203331");
  EXPECT_EQ(span.at("kind").as_int64(), 2);  // SERVER
  EXPECT_NE(span.at("spanId").as_string(), "b7ad6b7169203331");
}

}  // namespace
}  // namespace mercato::hello
