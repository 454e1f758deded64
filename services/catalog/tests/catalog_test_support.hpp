// Shared helpers of catalog's component tests (catalog_component_test.cpp,
// catalog_events_test.cpp): start the real identity binary (cheap password hashing) and the real
// catalog binary pointed at its JWKS, get real tokens (the first admin from identity's secrets
// file, customers by registering), and talk JSON over HTTP. Helpers named after an action throw
// std::runtime_error when the services do not answer as the happy path needs; GoogleTest reports it
// as a failure.
//
//   auto identity = StartIdentity();
//   auto catalog = StartCatalog(identity.port());
//   auto admin = AdminToken(identity);                        // a bearer token with role admin
//   auto ada = RegisterCustomer(identity.port(), "ada");      // {id, token}
//   auto created = PostJson(catalog.port(), "/products", body, {Bearer(admin)});
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/random.hpp"
#include "mercato/core/result.hpp"
#include "mercato/http/blocking_client.hpp"
#include "mercato/testing/identity.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::catalog::component {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;
using Response = Result<http::BlockingResponse>;

inline constexpr std::string_view kPassword = "Quokka-Lantern-Orbit-47";
inline constexpr std::string_view kProblemTypeBase = "https://mercato.dev/problems/";
// Generous: the suites share two cores with other builds and tests.
inline constexpr auto kCallTimeout = std::chrono::seconds(30);
inline constexpr auto kStartTimeout = std::chrono::seconds(60);

// --- JSON
// ------------------------------------------------------------------------------------------

inline boost::json::value ParseJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return nullptr;
  return value;
}

inline boost::json::object BodyObject(const http::BlockingResponse& response) {
  boost::json::value value = ParseJson(response.body);
  if (!value.is_object()) {
    ADD_FAILURE() << "body is not a JSON object (status " << response.status
                  << "): " << response.body.substr(0, 500);
    return {};
  }
  return value.as_object();
}

inline std::string Str(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// An integer member; -1 when missing or not an integer.
inline int64_t Int(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return -1;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->as_uint64());
  return -1;
}

// Any JSON number as a double (3 and 3.0 are the same number); NaN when not a number.
inline double Number(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_number()) return std::numeric_limits<double>::quiet_NaN();
  return value->to_number<double>();
}

inline const boost::json::object& Obj(const boost::json::object& object, std::string_view key) {
  static const boost::json::object kEmpty;
  const auto* value = object.if_contains(key);
  return value && value->is_object() ? value->as_object() : kEmpty;
}

inline std::vector<std::string> StringArray(const boost::json::object& object,
                                            std::string_view key) {
  std::vector<std::string> out;
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_array()) return out;
  for (const auto& item : value->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

// --- HTTP
// ------------------------------------------------------------------------------------------

inline std::pair<std::string, std::string> Bearer(std::string_view token) {
  return {"Authorization", "Bearer " + std::string(token)};
}

inline Response Call(uint16_t port, std::string method, std::string path, std::string body = {},
                     Headers headers = {}) {
  return testing::Request(port, std::move(method), std::move(path), std::move(body),
                          std::move(headers), kCallTimeout);
}

inline Response SendJson(uint16_t port, std::string method, std::string path,
                         const boost::json::value& body, Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/json");
  return Call(port, std::move(method), std::move(path), boost::json::serialize(body),
              std::move(headers));
}

inline Response PostJson(uint16_t port, std::string path, const boost::json::value& body,
                         Headers headers = {}) {
  return SendJson(port, "POST", std::move(path), body, std::move(headers));
}

inline std::string Describe(const Response& response) {
  if (!response) return "request failed: " + response.error().message;
  return "status " + std::to_string(response->status) + ": " + response->body.substr(0, 800);
}

// An RFC 9457 problem with this status and (when given) one of these type slugs.
inline ::testing::AssertionResult IsProblem(const Response& response, int status,
                                            std::initializer_list<std::string_view> slugs = {}) {
  if (!response)
    return ::testing::AssertionFailure() << "request failed: " << response.error().message;
  if (response->status != status) {
    return ::testing::AssertionFailure()
           << "want status " << status << ", got " << Describe(response);
  }
  if (!response->Header("Content-Type").starts_with("application/problem+json")) {
    return ::testing::AssertionFailure() << "not application/problem+json: " << Describe(response);
  }
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object() || Int(value.as_object(), "status") != status) {
    return ::testing::AssertionFailure()
           << "problem body without status " << status << ": " << response->body;
  }
  std::string type = Str(value.as_object(), "type");
  if (!type.starts_with(kProblemTypeBase))
    return ::testing::AssertionFailure() << "problem type " << type;
  if (slugs.size() != 0) {
    std::string_view slug = std::string_view(type).substr(kProblemTypeBase.size());
    if (std::find(slugs.begin(), slugs.end(), slug) == slugs.end()) {
      return ::testing::AssertionFailure()
             << "unexpected problem type " << type << ": " << response->body;
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::string ProblemField(const Response& response) {
  if (!response) return {};
  boost::json::value value = ParseJson(response->body);
  return value.is_object() ? Str(value.as_object(), "field") : std::string();
}

// The JSON object of a response with this status; throws otherwise.
inline boost::json::object Expect(const Response& response, int status, std::string_view what) {
  if (!response || response->status != status) {
    throw std::runtime_error(std::string(what) + ": want " + std::to_string(status) + ", got " +
                             Describe(response));
  }
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object())
    throw std::runtime_error(std::string(what) + ": not a JSON object: " + response->body);
  return value.as_object();
}

// --- identity
// --------------------------------------------------------------------------------------

// Unique per call and per process, so tests sharing one identity never collide.
inline std::string Unique() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "x" + std::to_string(counter.fetch_add(1)) + "x" +
         std::to_string(RandomBelow(1'000'000'000));
}

// identity's helpers are shared by every service that verifies its tokens (libs/testing).
using testing::AdminToken;
using testing::RegisterCustomer;
using testing::ServiceToken;
using testing::StartIdentityForTest;
using Customer = testing::TestCustomer;

inline testing::ServiceProcess StartCatalog(const testing::ServiceProcess& identity,
                                            const std::vector<std::string>& extra = {},
                                            const std::string& nats_url = {}) {
  std::vector<std::string> args{"--nats-url=" + nats_url, "--jwks-url", testing::JwksUrl(identity)};
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::ServiceProcess::Start("catalog", args, kStartTimeout);
}

inline boost::json::object Money(int64_t amount, std::string_view currency = "USD") {
  return boost::json::object{{"amount", amount}, {"currency", currency}};
}

// Creates a category with this id (201), as the admin.
inline void CreateCategory(uint16_t port, std::string_view admin_token, std::string_view id) {
  Expect(PostJson(port, "/categories",
                  boost::json::object{{"id", id}, {"name", "Category " + std::string(id)}},
                  {Bearer(admin_token)}),
         201, "create category");
}

// Creates a product from `body` (sku defaults to a unique one), as the admin; returns the document.
inline boost::json::object CreateProduct(uint16_t port, std::string_view admin_token,
                                         boost::json::object body) {
  if (!body.contains("sku")) body["sku"] = "SKU-" + Unique();
  return Expect(PostJson(port, "/products", body, {Bearer(admin_token)}), 201, "create product");
}

}  // namespace mercato::catalog::component
