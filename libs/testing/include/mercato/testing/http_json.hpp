// HTTP + JSON helpers every component test needs: call a service on loopback, read members of a
// JSON body leniently (a missing member is a neutral value the assertion then reports), and check
// that an answer is a proper RFC 9457 problem of Mercato's with the expected status and type.
//
//   auto r = testing::PostJson(port, "/auth/login", {{"email", e}, {"password", p}});
//   EXPECT_TRUE(testing::IsProblem(r, 401, {"unauthenticated"}));
//   auto id = testing::Str(testing::BodyObject(*r), "id");
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/http/blocking_client.hpp"

namespace mercato::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;
using Response = Result<http::BlockingResponse>;

inline constexpr std::string_view kProblemTypeBase = "https://mercato.dev/problems/";

// --- JSON ------------------------------------------------------------------------------------

// The parsed value, or null when `text` is not JSON.
boost::json::value ParseJson(std::string_view text);
// The body as a JSON object; an empty object and a test failure when it is not one.
boost::json::object BodyObject(const http::BlockingResponse& response);
// A string member, or "" when missing or not a string.
std::string Str(const boost::json::object& object, std::string_view key);
// An integer member, or -1 when missing or not an integer.
std::int64_t Int(const boost::json::object& object, std::string_view key);
// The strings of an array member (other items skipped); empty when missing.
std::vector<std::string> StringArray(const boost::json::object& object, std::string_view key);

// --- HTTP ------------------------------------------------------------------------------------

std::pair<std::string, std::string> BearerHeader(std::string_view token);
// A request to 127.0.0.1:<port> with a generous timeout: suites share two cores with builds.
Response Call(std::uint16_t port, std::string method, std::string path, std::string body = {},
              Headers headers = {});
// `body` serialised, with Content-Type: application/json.
Response SendJson(std::uint16_t port, std::string method, std::string path,
                  const boost::json::value& body, Headers headers = {});
Response PostJson(std::uint16_t port, std::string path, const boost::json::value& body,
                  Headers headers = {});
// "request failed: ..." or "status N: <body>", for assertion messages.
std::string Describe(const Response& response);

// An RFC 9457 problem with this status: problem+json content type, a body whose `status`
// matches and whose `type` is one of Mercato's stable problem types; when `slugs` is given the
// type must end in one of them ("unauthenticated", "not-found", ...).
::testing::AssertionResult IsProblem(const Response& response, int status,
                                     std::initializer_list<std::string_view> slugs = {});
// The problem's `field` (the offending input); "" when none or not a problem.
std::string ProblemField(const Response& response);

}  // namespace mercato::testing
