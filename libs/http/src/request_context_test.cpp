#include "mercato/http/request_context.hpp"

#include <gtest/gtest.h>

namespace mercato::http {
namespace {

RequestContext Make(std::string_view target, std::string body = {}) {
  return RequestContext(Method::kGet, "GET", target, {{"X-Thing", "a"}, {"content-type", "application/json"}},
                        std::move(body), obs::TraceContext::NewRoot(), std::nullopt, "corr-1",
                        resilience::Deadline::Infinite());
}

TEST(RequestContext, SplitsPathAndDecodesQuery) {
  auto ctx = Make("/products?q=red+shoes&page=2&empty=&tag=a%26b");
  EXPECT_EQ(ctx.path(), "/products");
  EXPECT_EQ(ctx.Query("q"), "red shoes");
  EXPECT_EQ(ctx.Query("page"), "2");
  EXPECT_EQ(ctx.Query("empty"), "");
  EXPECT_EQ(ctx.Query("tag"), "a&b");
  EXPECT_FALSE(ctx.Query("missing").has_value());
}

TEST(RequestContext, HeadersAreCaseInsensitive) {
  auto ctx = Make("/");
  EXPECT_EQ(ctx.Header("x-thing"), "a");
  EXPECT_EQ(ctx.Header("X-THING"), "a");
  EXPECT_FALSE(ctx.Header("x-other"));
}

TEST(RequestContext, PathParamsAreDecoded) {
  auto ctx = Make("/hello/J%C3%BCrgen");
  ctx.SetRoute("/hello/{name}", {{"name", "J%C3%BCrgen"}});
  EXPECT_EQ(ctx.PathParam("name"), "J\xC3\xBCrgen");
  EXPECT_EQ(ctx.route(), "/hello/{name}");
  EXPECT_EQ(ctx.PathParam("nope"), "");
}

TEST(RequestContext, JsonBodyRejectsMalformedAndEmpty) {
  EXPECT_EQ(Make("/", "{\"a\":1").JsonBody().error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Make("/", "").JsonBody().error().code, ErrorCode::kInvalidArgument);
  auto ok = Make("/", "{\"a\":1}").JsonBody();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->as_object().at("a").as_int64(), 1);
}

TEST(RequestContext, LogIdsCarryTraceAndCorrelation) {
  auto ctx = Make("/");
  auto ids = ctx.LogIds();
  EXPECT_EQ(ids.trace_id.size(), 32u);
  EXPECT_EQ(ids.span_id.size(), 16u);
  EXPECT_EQ(ids.correlation_id, "corr-1");
}

TEST(PercentDecode, LeavesInvalidEscapesAlone) {
  EXPECT_EQ(PercentDecode("100%", false), "100%");
  EXPECT_EQ(PercentDecode("%zz", false), "%zz");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%41%42", false), "AB");
}

}  // namespace
}  // namespace mercato::http
