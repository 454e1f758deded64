// Authorisation checks on a verified token: roles (RBAC) and "the owner or one of these roles"
// (ABAC on the resource owner). Failures are Error{kPermissionDenied}: the caller is known.
//
//   if (auto ok = RequireRole(token, "admin"); !ok) return ok.error();
//   if (auto ok = RequireSelfOrRole(token, user_id, "support", "admin"); !ok) return ok.error();
#pragma once

#include <initializer_list>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/security/jwt.hpp"

namespace mercato::security {

bool HasRole(const VerifiedToken& token, std::string_view role);

Result<void> RequireRole(const VerifiedToken& token, std::string_view role);

// Allowed when the token's subject is `owner_id` or it holds any of `roles`.
Result<void> RequireSelfOrAnyRole(const VerifiedToken& token, std::string_view owner_id,
                                  std::initializer_list<std::string_view> roles);

template <class... Roles>
Result<void> RequireSelfOrRole(const VerifiedToken& token, std::string_view owner_id,
                               const Roles&... roles) {
  return RequireSelfOrAnyRole(token, owner_id, {std::string_view(roles)...});
}

}  // namespace mercato::security
