#include "mercato/testing/http_json.hpp"

#include <algorithm>
#include <chrono>

#include "mercato/testing/testing.hpp"

namespace mercato::testing {

boost::json::value ParseJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return nullptr;
  return value;
}

boost::json::object BodyObject(const http::BlockingResponse& response) {
  boost::json::value value = ParseJson(response.body);
  if (!value.is_object()) {
    ADD_FAILURE() << "body is not a JSON object (status " << response.status
                  << "): " << response.body.substr(0, 500);
    return {};
  }
  return value.as_object();
}

std::string Str(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->as_string());
}

std::int64_t Int(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr) return -1;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  return -1;
}

std::vector<std::string> StringArray(const boost::json::object& object, std::string_view key) {
  std::vector<std::string> out;
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_array()) return out;
  for (const auto& item : value->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

std::pair<std::string, std::string> BearerHeader(std::string_view token) {
  return {"Authorization", "Bearer " + std::string(token)};
}

Response Call(std::uint16_t port, std::string method, std::string path, std::string body,
              Headers headers) {
  return Request(port, std::move(method), std::move(path), std::move(body), std::move(headers),
                 std::chrono::seconds(30));
}

Response SendJson(std::uint16_t port, std::string method, std::string path,
                  const boost::json::value& body, Headers headers) {
  headers.emplace_back("Content-Type", "application/json");
  return Call(port, std::move(method), std::move(path), boost::json::serialize(body),
              std::move(headers));
}

Response PostJson(std::uint16_t port, std::string path, const boost::json::value& body,
                  Headers headers) {
  return SendJson(port, "POST", std::move(path), body, std::move(headers));
}

std::string Describe(const Response& response) {
  if (!response) return "request failed: " + response.error().message;
  return "status " + std::to_string(response->status) + ": " + response->body.substr(0, 800);
}

::testing::AssertionResult IsProblem(const Response& response, int status,
                                     std::initializer_list<std::string_view> slugs) {
  if (!response) {
    return ::testing::AssertionFailure() << "request failed: " << response.error().message;
  }
  if (response->status != status) {
    return ::testing::AssertionFailure()
           << "want status " << status << ", got " << Describe(response);
  }
  std::string content_type = response->Header("Content-Type");
  if (!content_type.starts_with("application/problem+json")) {
    return ::testing::AssertionFailure()
           << "content type '" << content_type << "' is not application/problem+json; "
           << Describe(response);
  }
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object()) {
    return ::testing::AssertionFailure() << "problem body is not a JSON object: " << response->body;
  }
  const auto& problem = value.as_object();
  if (Int(problem, "status") != status) {
    return ::testing::AssertionFailure()
           << "problem `status` is not " << status << ": " << response->body;
  }
  std::string type = Str(problem, "type");
  if (!type.starts_with(kProblemTypeBase) || type.size() == kProblemTypeBase.size()) {
    return ::testing::AssertionFailure() << "problem `type` '" << type << "' is not a Mercato type";
  }
  if (slugs.size() != 0) {
    std::string_view slug = std::string_view(type).substr(kProblemTypeBase.size());
    if (std::find(slugs.begin(), slugs.end(), slug) == slugs.end()) {
      return ::testing::AssertionFailure()
             << "problem `type` '" << type << "' is not one expected; " << response->body;
    }
  }
  return ::testing::AssertionSuccess();
}

std::string ProblemField(const Response& response) {
  if (!response) return {};
  boost::json::value value = ParseJson(response->body);
  return value.is_object() ? Str(value.as_object(), "field") : std::string();
}

}  // namespace mercato::testing
