#include "mercato/security/authz.hpp"

#include <gtest/gtest.h>

namespace mercato::security {
namespace {

VerifiedToken Token(std::string subject, std::vector<std::string> roles) {
  VerifiedToken t;
  t.subject = std::move(subject);
  t.roles = std::move(roles);
  return t;
}

TEST(RequireRole, AllowsHolderAndDeniesOthers) {
  EXPECT_TRUE(RequireRole(Token("u1", {"customer", "admin"}), "admin"));
  auto denied = RequireRole(Token("u1", {"customer"}), "admin");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
}

TEST(RequireSelfOrRole, AllowsOwnerOrListedRole) {
  EXPECT_TRUE(RequireSelfOrRole(Token("u1", {"customer"}), "u1", "support", "admin"));
  EXPECT_TRUE(RequireSelfOrRole(Token("u2", {"support"}), "u1", "support", "admin"));
  auto denied = RequireSelfOrRole(Token("u2", {"customer"}), "u1", "support", "admin");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
}

TEST(RequireSelfOrRole, EmptySubjectNeverOwnsEmptyId) {
  EXPECT_FALSE(RequireSelfOrRole(Token("", {}), "", "admin"));
}

}  // namespace
}  // namespace mercato::security
