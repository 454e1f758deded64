#include "mercato/security/authz.hpp"

#include <algorithm>
#include <string>

namespace mercato::security {

bool HasRole(const VerifiedToken& token, std::string_view role) {
  return std::find(token.roles.begin(), token.roles.end(), role) != token.roles.end();
}

Result<void> RequireRole(const VerifiedToken& token, std::string_view role) {
  if (HasRole(token, role)) return Ok();
  return Error{ErrorCode::kPermissionDenied, "requires role " + std::string(role)};
}

Result<void> RequireSelfOrAnyRole(const VerifiedToken& token, std::string_view owner_id,
                                  std::initializer_list<std::string_view> roles) {
  // An empty subject never matches an empty owner id: both being unknown is not ownership.
  if (!token.subject.empty() && token.subject == owner_id) return Ok();
  for (auto role : roles) {
    if (HasRole(token, role)) return Ok();
  }
  return Error{ErrorCode::kPermissionDenied, "not the owner and no permitted role"};
}

}  // namespace mercato::security
