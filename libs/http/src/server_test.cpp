// The server in-process: HTTP semantics and failure paths that the hello sample does not reach
// (throwing handlers, 204 framing, pipelining, 100-continue, slow bodies, several event-loop
// threads, blocking work off the network threads, the drain timeout).
#include "mercato/http/server.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "mercato/http/client.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::http {
namespace {

using namespace std::chrono_literals;
using testing::RawConnection;
using testing::StatusOf;

struct NonStandardError {};

// A server with test routes, running on its own threads for the test's lifetime.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options = {}) {
    options.service_name = "server-test";
    AddRoutes();
    server_ = std::make_unique<testing::InProcessServer>(router_, options, registry_);
  }
  void Stop() { server_->Stop(); }
  uint16_t port() const { return server_->port(); }
  obs::Registry& registry() { return registry_; }
  std::set<std::thread::id> handler_threads() {
    std::lock_guard lock(mutex_);
    return handler_threads_;
  }

  std::thread::id network_thread_before, blocking_thread, network_thread_after;

 private:
  void AddRoutes() {
    router_.Add(Method::kGet, "/throw", [](RequestContext&) -> Task<Response> {
      throw std::runtime_error("secret internal detail");
      co_return Empty(200);
    });
    router_.Add(Method::kGet, "/throw-other", [](RequestContext&) -> Task<Response> {
      throw NonStandardError{};
      co_return Empty(200);
    });
    router_.Add(Method::kDelete, "/things/{id}", [](RequestContext&) -> Task<Response> {
      co_return Empty(204);
    });
    router_.Add(Method::kGet, "/echo/{word}", [this](RequestContext& ctx) -> Task<Response> {
      {
        std::lock_guard lock(mutex_);
        handler_threads_.insert(std::this_thread::get_id());
      }
      co_return Text(200, ctx.PathParam("word"));
    });
    router_.Add(Method::kPost, "/echo", [](RequestContext& ctx) -> Task<Response> {
      co_return Text(200, ctx.Body());
    });
    router_.Add(Method::kGet, "/blocking", [this](RequestContext&) -> Task<Response> {
      network_thread_before = std::this_thread::get_id();
      std::function<void()> work = [this] { blocking_thread = std::this_thread::get_id(); };
      co_await RunBlocking(std::move(work));
      network_thread_after = std::this_thread::get_id();
      co_return Empty(200);
    });
    router_.Add(Method::kGet, "/stuck", [](RequestContext&) -> Task<Response> {
      co_await SleepFor(10s);
      co_return Empty(200);
    });
  }

  Router router_;
  obs::Registry registry_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::mutex mutex_;
  std::set<std::thread::id> handler_threads_;
};

TEST(Server, HandlerExceptionIs500NamingOnlyTheCorrelationId) {
  RunningServer server;
  for (const char* path : {"/throw", "/throw-other"}) {
    auto r = testing::Get(server.port(), path, {{"X-Correlation-ID", "boom-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->Header("Content-Type"), "application/problem+json");
    EXPECT_NE(r->body.find("boom-1"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("secret"), std::string::npos) << "internals leaked: " << r->body;
  }
  auto still = testing::Get(server.port(), "/echo/alive");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);
  EXPECT_EQ(server.registry().AddCounter("http_handler_exceptions_total", "").WithLabels({}).Value(), 2);
}

TEST(Server, NoContentHasNoBodyAndKeepsTheConnection) {
  RunningServer server;
  RawConnection c(server.port());
  c.Send("DELETE /things/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  auto first = c.ReadUntil("\r\n\r\n", 3s);
  EXPECT_EQ(StatusOf(first), 204);
  EXPECT_EQ(first.find("Content-Length"), std::string::npos) << first;
  c.Send("GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n");
  auto second = c.ReadUntil("after", 3s);
  EXPECT_EQ(StatusOf(second), 200) << second;
}

TEST(Server, PipelinedRequestsAreAnsweredInOrder) {
  RunningServer server;
  RawConnection c(server.port());
  c.Send("GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /echo/three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto raw = c.ReadUntilClosed(3s);
  auto one = raw.find("\r\n\r\none");
  auto two = raw.find("\r\n\r\ntwo");
  auto three = raw.find("\r\n\r\nthree");
  ASSERT_NE(one, std::string::npos) << raw;
  ASSERT_NE(two, std::string::npos) << raw;
  ASSERT_NE(three, std::string::npos) << raw;
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
}

TEST(Server, ExpectContinueGetsAnInterimResponse) {
  RunningServer server;
  RawConnection c(server.port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.ReadUntil("\r\n\r\n", 3s);
  EXPECT_EQ(StatusOf(interim), 100) << interim;
  c.Send("hello");
  auto final_response = c.ReadUntil("hello", 3s);
  EXPECT_NE(final_response.find("200 OK"), std::string::npos) << final_response;
}

TEST(Server, SlowBodyIs408) {
  ServerOptions options;
  options.body_timeout = 300ms;
  RunningServer server(options);
  RawConnection c(server.port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
  auto raw = c.ReadUntil("\r\n\r\n", 3s);
  EXPECT_EQ(StatusOf(raw), 408) << raw;
}

TEST(Server, SeveralEventLoopThreadsServeConcurrentClients) {
  ServerOptions options;
  options.threads = 2;
  RunningServer server(options);
  std::vector<std::future<int>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::async(std::launch::async, [&server, i] {
      int ok = 0;
      for (int j = 0; j < 50; ++j) {
        auto r = testing::Get(server.port(), "/echo/c" + std::to_string(i));
        ok += r && r->status == 200 && r->body == "c" + std::to_string(i);
      }
      return ok;
    }));
  }
  int total = 0;
  for (auto& f : clients) total += f.get();
  EXPECT_EQ(total, 400);
  EXPECT_LE(server.handler_threads().size(), 2u);
}

TEST(Server, BlockingWorkLeavesTheNetworkThreadAndComesBack) {
  RunningServer server;
  auto r = testing::Get(server.port(), "/blocking");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(server.blocking_thread, server.network_thread_before);
  EXPECT_EQ(server.network_thread_after, server.network_thread_before);
}

TEST(Server, AllowListsHeadWhereverGetIsServed) {
  RunningServer server;
  auto r = testing::Request(server.port(), "POST", "/echo/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("Allow"), "GET, HEAD");
}

TEST(Server, HeadAnnouncesTheLengthOfTheGetBody) {
  RunningServer server;
  RawConnection c(server.port());
  c.Send("HEAD /echo/twelve-chars HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto raw = c.ReadUntilClosed(3s);
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_NE(raw.find("Content-Length: 12\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.size(), raw.find("\r\n\r\n") + 4);
}

TEST(Server, ExpiredCallerDeadlineIs504WithoutRunningTheHandler) {
  RunningServer server;
  auto r = testing::Get(server.port(), "/throw", {{"X-Mercato-Deadline-Ms", "0"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(server.registry().AddCounter("http_handler_exceptions_total", "").WithLabels({}).Value(), 0);
}

TEST(Server, DrainTimeoutEndsStuckRequests) {
  ServerOptions options;
  options.drain_timeout = 300ms;
  auto server = std::make_unique<RunningServer>(options);
  auto stuck = std::async(std::launch::async, [port = server->port()] {
    return testing::Get(port, "/stuck");
  });
  ASSERT_TRUE(testing::WaitFor([&] {
    return server->registry().AddGauge("http_requests_in_flight", "").WithLabels({}).Value() == 1;
  }, 3s));
  auto started = std::chrono::steady_clock::now();
  server->Stop();  // returns once Run() has returned
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  auto r = stuck.get();
  EXPECT_FALSE(r) << "the stuck request should have been cut off";
}

TEST(Server, IdleConnectionsCloseWhenDrainStarts) {
  auto server = std::make_unique<RunningServer>();
  RawConnection idle(server->port());
  ASSERT_TRUE(testing::WaitFor([&] {
    return server->registry().AddGauge("http_connections_open", "").WithLabels({}).Value() == 1;
  }, 3s));
  auto started = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "an idle connection must not hold the drain";
  EXPECT_TRUE(idle.PeerClosed(2s));
}

}  // namespace
}  // namespace mercato::http
