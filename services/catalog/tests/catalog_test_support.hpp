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
//   auto created = PostJson(catalog.port(), "/products", body, {BearerHeader(admin)});
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
#include "mercato/testing/http_json.hpp"
#include "mercato/testing/identity.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::catalog::component {

using namespace std::chrono_literals;
// The generic HTTP and JSON helpers come from libs/testing (shared by every service's tests).
using testing::BearerHeader;
using testing::BodyObject;
using testing::Call;
using testing::Describe;
using testing::Headers;
using testing::Int;
using testing::IsProblem;
using testing::kProblemTypeBase;
using testing::ParseJson;
using testing::PostJson;
using testing::ProblemField;
using testing::Response;
using testing::SendJson;
using testing::Str;
using testing::StringArray;

inline constexpr std::string_view kPassword = "Quokka-Lantern-Orbit-47";
inline constexpr auto kStartTimeout = std::chrono::seconds(60);

// --- JSON
// ------------------------------------------------------------------------------------------

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

// --- HTTP
// ------------------------------------------------------------------------------------------

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
                  {BearerHeader(admin_token)}),
         201, "create category");
}

// Creates a product from `body` (sku defaults to a unique one), as the admin; returns the document.
inline boost::json::object CreateProduct(uint16_t port, std::string_view admin_token,
                                         boost::json::object body) {
  if (!body.contains("sku")) body["sku"] = "SKU-" + Unique();
  return Expect(PostJson(port, "/products", body, {BearerHeader(admin_token)}), 201,
                "create product");
}

}  // namespace mercato::catalog::component
