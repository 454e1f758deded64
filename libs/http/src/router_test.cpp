#include "mercato/http/router.hpp"

#include <gtest/gtest.h>

namespace mercato::http {
namespace {

Handler Named(std::string) {
  return [](RequestContext&) -> Task<Response> { co_return Empty(204); };
}

std::string Param(const Router::Match& m, std::string_view name) {
  for (auto& [n, v] : m.params) {
    if (n == name) return std::string(v);
  }
  return "<none>";
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router router;
  router.Add(Method::kGet, "/orders/{id}/items/{product_id}", Named("item"));
  auto m = router.Find(Method::kGet, "/orders/o-1/items/p%202");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path_template, "/orders/{id}/items/{product_id}");
  EXPECT_EQ(Param(m, "id"), "o-1");
  EXPECT_EQ(Param(m, "product_id"), "p%202");  // raw: RequestContext::PathParam decodes
}

TEST(Router, LiteralBeatsParameter) {
  Router router;
  router.Add(Method::kGet, "/items/{id}", Named("by id"));
  router.Add(Method::kGet, "/items/new", Named("new"));
  EXPECT_EQ(router.Find(Method::kGet, "/items/new").route->path_template, "/items/new");
  EXPECT_EQ(router.Find(Method::kGet, "/items/42").route->path_template, "/items/{id}");
}

TEST(Router, UnknownPathIsNoMatchWithoutAllowedMethods) {
  Router router;
  router.Add(Method::kGet, "/items/{id}", Named("x"));
  auto m = router.Find(Method::kGet, "/nothing/here");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allowed.empty());
  EXPECT_EQ(router.Find(Method::kGet, "/items").route, nullptr);
  EXPECT_EQ(router.Find(Method::kGet, "/items/1/2").route, nullptr);
}

TEST(Router, WrongMethodReportsAllowedMethods) {
  Router router;
  router.Add(Method::kGet, "/cart", Named("get"));
  router.Add(Method::kDelete, "/cart", Named("delete"));
  auto m = router.Find(Method::kPost, "/cart");
  EXPECT_EQ(m.route, nullptr);
  ASSERT_EQ(m.allowed.size(), 2u);
  EXPECT_EQ(AllowHeader(m.allowed), "GET, DELETE");
}

TEST(Router, TrailingAndRepeatedSlashesAreNotSignificant) {
  Router router;
  router.Add(Method::kGet, "/hello/{name}", Named("x"));
  EXPECT_NE(router.Find(Method::kGet, "/hello/bob/").route, nullptr);
  EXPECT_NE(router.Find(Method::kGet, "//hello//bob").route, nullptr);
}

TEST(Router, RootRoute) {
  Router router;
  router.Add(Method::kGet, "/", Named("root"));
  EXPECT_NE(router.Find(Method::kGet, "/").route, nullptr);
  EXPECT_EQ(router.Find(Method::kGet, "/x").route, nullptr);
}

TEST(Router, RejectsMalformedAndDuplicateTemplates) {
  Router router;
  EXPECT_THROW(router.Add(Method::kGet, "items", Named("x")), std::invalid_argument);
  EXPECT_THROW(router.Add(Method::kGet, "/items/{}", Named("x")), std::invalid_argument);
  EXPECT_THROW(router.Add(Method::kGet, "/items/a{id}", Named("x")), std::invalid_argument);
  router.Add(Method::kGet, "/items/{id}", Named("x"));
  EXPECT_THROW(router.Add(Method::kGet, "/items/{other}", Named("x")), std::invalid_argument);
  EXPECT_NO_THROW(router.Add(Method::kPut, "/items/{id}", Named("x")));
}

}  // namespace
}  // namespace mercato::http
