#include "mercato/http/blocking_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mercato/testing/testing.hpp"
#include "test_upstream.hpp"

namespace mercato::http {
namespace {

using testing::Behaviour;
using testing::TestUpstream;
using namespace std::chrono_literals;

// Built field by field: GCC 12 flags designated initializers that skip members.
BlockingCall Call(std::string url, Duration timeout = std::chrono::seconds(5)) {
  BlockingCall call;
  call.url = std::move(url);
  call.timeout = timeout;
  return call;
}

TEST(BlockingRequest, ReturnsStatusHeadersAndBody) {
  TestUpstream upstream;
  upstream.SetDefault(Behaviour::Reply(201, "created"));

  auto call = Call(upstream.base_url() + "/items?x=1");
  call.method = "POST";
  call.headers = {{"X-Test", "yes"}};
  call.body = "{\"a\":1}";

  auto r = BlockingRequest(call);

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "created");
  EXPECT_EQ(r->Header("content-type"), "text/plain");
  EXPECT_EQ(r->Header("X-Absent"), "");
  auto seen = upstream.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->target, "/items?x=1");
  EXPECT_EQ(seen->body, "{\"a\":1}");
  EXPECT_EQ(seen->Header("Host"), "127.0.0.1:" + std::to_string(upstream.port()));
  EXPECT_EQ(seen->Header("User-Agent"), "mercato");
  EXPECT_EQ(seen->Header("Content-Length"), "7");
  EXPECT_EQ(seen->Header("Connection"), "close");
  EXPECT_EQ(seen->Header("X-Test"), "yes");
}

TEST(BlockingRequest, GetWithoutPathSendsSlash) {
  TestUpstream upstream;

  auto r = BlockingRequest(Call(upstream.base_url()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(upstream.last_request());
  EXPECT_EQ(upstream.last_request()->target, "/");
  EXPECT_FALSE(upstream.last_request()->Header("Content-Length"));
}

TEST(BlockingRequest, StalledUpstreamTimesOutWithDeadlineExceeded) {
  TestUpstream upstream;
  upstream.SetDefault(Behaviour::Of(Behaviour::Kind::kStall));
  const auto started = std::chrono::steady_clock::now();

  auto r = BlockingRequest(Call(upstream.base_url() + "/slow", 200ms));

  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(upstream.requests(), 1);
}

TEST(BlockingRequest, SlowReplyWithinTimeoutSucceeds) {
  TestUpstream upstream;
  upstream.SetDefault(Behaviour::Reply(200, "late").WithDelay(100ms));

  auto r = BlockingRequest(Call(upstream.base_url(), 3s));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "late");
}

TEST(BlockingRequest, RefusedConnectionIsUnavailable) {
  const uint16_t closed = mercato::testing::ClosedTcpPort();

  auto r = BlockingRequest(Call("http://127.0.0.1:" + std::to_string(closed) + "/"));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST(BlockingRequest, ResetAfterRequestIsUnavailable) {
  TestUpstream upstream;
  upstream.SetDefault(Behaviour::Of(Behaviour::Kind::kResetAfterRead));

  auto r = BlockingRequest(Call(upstream.base_url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(upstream.requests(), 1);
}

TEST(BlockingRequest, ResetOnAcceptIsUnavailable) {
  TestUpstream upstream;
  upstream.SetDefault(Behaviour::Of(Behaviour::Kind::kResetOnAccept));

  auto r = BlockingRequest(Call(upstream.base_url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(upstream.requests(), 0);
}

TEST(BlockingRequest, BadUrlsAreInvalidArgument) {
  for (const char* url : {"", "not a url", "https://127.0.0.1/", "ftp://x/", "http:///path",
                          "http://127.0.0.1:99999/", "127.0.0.1:80/x"}) {
    auto r = BlockingRequest(Call(url));
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << url;
  }
}

}  // namespace
}  // namespace mercato::http
