// The body helpers every handler uses: object bodies only, typed members, the member named in
// every error.
#include "mercato/http/json_fields.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace mercato::http {
namespace {

RequestContext WithBody(std::string body) {
  return RequestContext(Method::kPost, "POST", "/x", {}, std::move(body),
                        obs::TraceContext::NewRoot(), std::nullopt, "corr-1",
                        resilience::Deadline::Infinite());
}

boost::json::object Obj(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST(JsonFields, ObjectBodyRefusesEverythingButAnObject) {
  EXPECT_TRUE(ObjectBody(WithBody(R"({"a":1})")));
  for (const char* bad : {"[1]", "\"text\"", "3", "", "{broken"}) {
    auto body = ObjectBody(WithBody(bad));
    ASSERT_FALSE(body) << bad;
    EXPECT_EQ(body.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(JsonFields, StringMemberNamesTheMember) {
  auto o = Obj(R"({"name":"Ada","n":3})");
  EXPECT_EQ(*StringMember(o, "name"), "Ada");
  EXPECT_EQ(StringMember(o, "n").error().field, "n");
  EXPECT_EQ(StringMember(o, "email").error().field, "email");
  EXPECT_EQ(*StringMember(o, "email", false), "");
}

TEST(JsonFields, IntMemberTakesWholeNumbersOnly) {
  auto o = Obj(R"({"a":5,"b":1.5,"c":"5","d":18446744073709551615,"e":-2})");
  EXPECT_EQ(*IntMember(o, "a"), 5);
  EXPECT_EQ(*IntMember(o, "e"), -2);
  for (const char* bad : {"b", "c", "d", "missing"}) {
    auto v = IntMember(o, bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_EQ(v.error().field, bad);
  }
  EXPECT_EQ(*IntMember(o, "missing", 900), 900);
}

}  // namespace
}  // namespace mercato::http
