// The canonical error codes every Mercato layer speaks, and the Error value that carries one.
// Pick the code by what the caller should do next, not by what broke:
//   invalid_argument    the request itself is wrong (bad JSON, a negative quantity); do not retry
//   not_found           the named thing does not exist (or the caller may not know it does)
//   already_exists      a create collided with an existing thing (duplicate email)
//   failed_precondition the system is not in a state that allows this (cancel a shipped order)
//   aborted             a concurrency conflict (optimistic version mismatch); retry the whole step
//   unauthenticated     no or invalid credentials
//   permission_denied   credentials fine, not allowed
//   resource_exhausted  a limit was hit (rate limit, bulkhead full, quota); retry later
//   unavailable         a dependency is down or the breaker is open; retry later
//   deadline_exceeded   the time budget ran out
//   internal            a bug or an invariant broke; never the caller's fault
//
//   return Error{ErrorCode::kNotFound, "no product 42"};
#pragma once

#include <string>
#include <string_view>

namespace mercato {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kAborted,
  kUnauthenticated,
  kPermissionDenied,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kInternal,
};

// "invalid_argument", "not_found", ...: the stable wire name used in problem+json `type`s and logs.
std::string_view ToString(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;  // the offending input field, when there is one ("items[2].quantity")

  Error() = default;
  Error(ErrorCode c, std::string msg, std::string f = {})
      : code(c), message(std::move(msg)), field(std::move(f)) {}
};

}  // namespace mercato
