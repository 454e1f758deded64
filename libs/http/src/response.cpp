#include "mercato/http/response.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace mercato::http {
namespace {

std::string Slug(std::string_view code_name) {
  std::string slug(code_name);
  for (char& c : slug) {
    if (c == '_') c = '-';
  }
  return slug;
}

}  // namespace

Response Json(Status status, const boost::json::value& body) {
  return Json(static_cast<int>(status), body);
}

Response Json(int status, const boost::json::value& body) {
  return Response(status, "application/json", boost::json::serialize(body));
}

Response RawJson(int status, std::string body) {
  return Response(status, "application/json", std::move(body));
}

Response Text(int status, std::string body, std::string content_type) {
  return Response(status, std::move(content_type), std::move(body));
}

Response Empty(int status) {
  Response r;
  r.status = status;
  return r;
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kAborted: return 409;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kResourceExhausted: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kDeadlineExceeded: return 504;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

Response Problem(const Error& error) {
  int status = HttpStatusFor(error.code);
  boost::json::object body;
  body["type"] = std::string(kProblemTypeBase) + Slug(ToString(error.code));
  body["title"] = ReasonPhrase(status);
  body["status"] = status;
  // An internal error's message may name internals; callers see only that it happened.
  body["detail"] = error.code == ErrorCode::kInternal ? std::string("internal error") : error.message;
  body["code"] = ToString(error.code);
  if (!error.field.empty()) body["field"] = error.field;
  Response r(status, std::string(kProblemContentType), boost::json::serialize(body));
  if (status == 401) r.headers.Set("WWW-Authenticate", "Bearer");
  // A default hint for clients that back off; a handler that knows better overrides it.
  if (status == 429 || status == 503) r.headers.Set("Retry-After", "1");
  return r;
}

Response Problem(ErrorCode code, std::string detail, std::string field) {
  return Problem(Error{code, std::move(detail), std::move(field)});
}

Response TransportProblem(int status, std::string_view slug, std::string detail) {
  boost::json::object body;
  body["type"] = std::string(kProblemTypeBase) + std::string(slug);
  body["title"] = ReasonPhrase(status);
  body["status"] = status;
  body["detail"] = std::move(detail);
  return Response(status, std::string(kProblemContentType), boost::json::serialize(body));
}

}  // namespace mercato::http
