#include "mercato/http/response.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace mercato::http {
namespace {

TEST(Problem, MapsEveryCodeThroughTheOneTable) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kAborted), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
}

TEST(Problem, IsRfc9457Json) {
  auto r = Problem(ErrorCode::kNotFound, "no item 7", "id");
  EXPECT_EQ(r.status, 404);
  ASSERT_NE(r.headers.Find("content-type"), nullptr);
  EXPECT_EQ(*r.headers.Find("Content-Type"), "application/problem+json");
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("type").as_string(), "https://mercato.dev/problems/not-found");
  EXPECT_EQ(body.at("status").as_int64(), 404);
  EXPECT_EQ(body.at("title").as_string(), "Not Found");
  EXPECT_EQ(body.at("detail").as_string(), "no item 7");
  EXPECT_EQ(body.at("code").as_string(), "not_found");
  EXPECT_EQ(body.at("field").as_string(), "id");
}

TEST(Problem, InternalErrorsHideTheirMessage) {
  auto r = Problem(ErrorCode::kInternal, "sqlite: disk I/O error at /var/lib/x");
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("detail").as_string(), "internal error");
}

TEST(Problem, UnauthenticatedAsksForBearer) {
  auto r = Problem(ErrorCode::kUnauthenticated, "token expired");
  ASSERT_NE(r.headers.Find("WWW-Authenticate"), nullptr);
  EXPECT_EQ(*r.headers.Find("WWW-Authenticate"), "Bearer");
}

TEST(Problem, BackOffStatusesCarryRetryAfter) {
  auto busy = Problem(ErrorCode::kResourceExhausted, "slow down");
  ASSERT_NE(busy.headers.Find("Retry-After"), nullptr);
  EXPECT_EQ(*busy.headers.Find("Retry-After"), "1");
  auto down = Problem(ErrorCode::kUnavailable, "payments temporarily unavailable");
  ASSERT_NE(down.headers.Find("Retry-After"), nullptr);
  EXPECT_EQ(Problem(ErrorCode::kNotFound, "x").headers.Find("Retry-After"), nullptr);
}

TEST(Response, JsonHelperSetsContentType) {
  auto r = Json(Status::kCreated, boost::json::value{{"id", "x"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(*r.headers.Find("content-type"), "application/json");
  EXPECT_EQ(r.body, R"({"id":"x"})");
}

TEST(Headers, SetReplacesCaseInsensitively) {
  Headers h;
  h.Add("X-A", "1");
  h.Add("x-a", "2");
  h.Set("X-a", "3");
  ASSERT_EQ(h.fields().size(), 1u);
  EXPECT_EQ(*h.Find("X-A"), "3");
  h.Remove("x-A");
  EXPECT_EQ(h.Find("X-A"), nullptr);
}

TEST(Method, IdempotencyFollowsRfc9110) {
  EXPECT_TRUE(IsIdempotent(Method::kGet));
  EXPECT_TRUE(IsIdempotent(Method::kPut));
  EXPECT_TRUE(IsIdempotent(Method::kDelete));
  EXPECT_FALSE(IsIdempotent(Method::kPost));
  EXPECT_FALSE(IsIdempotent(Method::kPatch));
  EXPECT_EQ(ParseMethod("PATCH"), Method::kPatch);
  EXPECT_EQ(ParseMethod("BREW"), Method::kOther);
}

}  // namespace
}  // namespace mercato::http
