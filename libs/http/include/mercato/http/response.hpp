// Responses built by handlers, and the helpers that build them. Errors always leave as RFC 9457
// problem+json through Problem(), which takes its status from the one ErrorCode→status table, so
// no handler writes an error status by hand.
//
//   co_return http::Json(http::Status::kCreated, ToJson(order)).WithHeader("Location", url);
//   co_return http::Problem(ErrorCode::kNotFound, "no order " + id);
//   co_return http::Problem(result.error());
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "mercato/core/error.hpp"
#include "mercato/http/types.hpp"

namespace mercato::http {

struct Response {
  int status = 200;
  Headers headers;  // Content-Type is set by the helpers; Content-Length by the server
  std::string body;

  Response() = default;
  Response(int s, std::string content_type, std::string b) : status(s), body(std::move(b)) {
    headers.Set("Content-Type", std::move(content_type));
  }
  Response&& WithHeader(std::string_view name, std::string value) && {
    headers.Set(name, std::move(value));
    return std::move(*this);
  }
  Response& WithHeader(std::string_view name, std::string value) & {
    headers.Set(name, std::move(value));
    return *this;
  }
};

Response Json(Status status, const boost::json::value& body);
Response Json(int status, const boost::json::value& body);
// A body that is already serialised JSON.
Response RawJson(int status, std::string body);
Response Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
Response Empty(int status);

// The one table: ErrorCode → HTTP status.
int HttpStatusFor(ErrorCode code);

// problem+json: {"type":"https://mercato.dev/problems/<slug>","title":...,"status":...,
// "detail":...,"code":"not_found","field":...}. The `type` is stable: clients may switch on it.
Response Problem(const Error& error);
Response Problem(ErrorCode code, std::string detail, std::string field = {});
// Transport-level problems that have no ErrorCode of their own (405, 408, 413, 415, 431):
// `slug` like "method-not-allowed".
Response TransportProblem(int status, std::string_view slug, std::string detail);

inline constexpr std::string_view kProblemTypeBase = "https://mercato.dev/problems/";
inline constexpr std::string_view kProblemContentType = "application/problem+json";

}  // namespace mercato::http
