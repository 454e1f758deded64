// Everything a handler knows about one request: method, path, headers, query and path
// parameters, the body, the caller's identity once authenticated, the deadline, and the trace
// and correlation ids (for logs and for outgoing calls). Views point into the server's buffers:
// a RequestContext lives exactly as long as its request.
//
//   auto id = ctx.PathParam("id");
//   auto page = ctx.Query("page").value_or("1");
//   auto body = ctx.JsonBody();  if (!body) co_return http::Problem(body.error());
//   ctx.Log().Info("order placed", {{"order_id", id}});
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/http/types.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/observability/trace.hpp"
#include "mercato/resilience/deadline.hpp"

namespace mercato::http {

// Who is calling, once a verifier (libs/security) has authenticated the request.
struct Caller {
  std::string subject;  // user id or service client id
  std::vector<std::string> roles;
  bool HasRole(std::string_view role) const {
    for (const auto& r : roles) {
      if (r == role) return true;
    }
    return false;
  }
};

class RequestContext {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  RequestContext(Method method, std::string_view method_text, std::string_view target,
                 std::vector<Field> headers, std::string body, const obs::TraceContext& trace,
                 std::optional<std::array<uint8_t, 8>> parent_span, std::string correlation_id,
                 resilience::Deadline deadline);

  Method method() const { return method_; }
  std::string_view method_text() const { return method_text_; }
  std::string_view target() const { return target_; }  // path + "?" + query, as received
  std::string_view path() const { return path_; }      // without the query
  std::string_view route() const { return route_; }    // the matched template, "/items/{id}"

  std::optional<std::string_view> Header(std::string_view name) const;
  const std::vector<Field>& headers() const { return headers_; }

  // Percent-decoded query parameter ("+" as space); the first occurrence.
  std::optional<std::string> Query(std::string_view name) const;
  // A path parameter of the matched route, percent-decoded; empty if the route has none such.
  std::string PathParam(std::string_view name) const;

  const std::string& Body() const { return body_; }
  // The body parsed as JSON; invalid_argument when it is not JSON (and when empty).
  Result<boost::json::value> JsonBody() const;

  const std::optional<Caller>& caller() const { return caller_; }
  void SetCaller(Caller caller) { caller_ = std::move(caller); }

  const resilience::Deadline& deadline() const { return deadline_; }
  // This request's server-span context: hand trace().Child() to callees.
  const obs::TraceContext& trace() const { return trace_; }
  const std::optional<std::array<uint8_t, 8>>& parent_span() const { return parent_span_; }
  std::string_view correlation_id() const { return correlation_id_; }
  // The TCP peer's IP address ("127.0.0.1", "::1"); empty when unknown (in-process tests).
  // Behind the gateway this is the gateway: trust X-Forwarded-For only from a known proxy.
  std::string_view remote_address() const { return remote_address_; }
  void SetRemoteAddress(std::string_view address) { remote_address_ = address; }

  obs::LogIds LogIds() const;
  obs::Logger Log() const { return obs::Logger(LogIds()); }

  // Set by the server's router.
  void SetRoute(std::string_view route, std::vector<Field> params) {
    route_ = route;
    params_ = std::move(params);
  }

 private:
  Method method_;
  std::string_view method_text_;
  std::string_view target_;
  std::string_view path_;
  std::string_view query_;
  std::string_view route_;
  std::vector<Field> headers_;
  std::vector<Field> params_;
  std::string body_;
  obs::TraceContext trace_;
  std::optional<std::array<uint8_t, 8>> parent_span_;
  std::string correlation_id_;
  resilience::Deadline deadline_;
  std::optional<Caller> caller_;
  std::string_view remote_address_;
  mutable std::string trace_hex_;
  mutable std::string span_hex_;
};

// Percent-decodes `text`; "+" becomes a space when `plus_is_space`. Invalid escapes stay as-is.
std::string PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace mercato::http
