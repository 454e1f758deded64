// RemoteAuth against a JWKS served over real HTTP (an in-process server standing in for
// identity): tokens verified by kid, one fetch serving many requests, a rotated key picked up on
// its first token, made-up kids unable to trigger more than one refetch per interval, and an
// unreachable key source answered 503 rather than 401.
#include "mercato/service/auth.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "mercato/core/id.hpp"
#include "mercato/security/jwks.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::service {
namespace {

using namespace std::chrono_literals;

security::KeyPtr NewKey() {
  auto key = security::GenerateRsaKey(2048);
  if (!key) throw std::runtime_error(key.error().message);
  return *key;
}

std::string Kid(const security::KeyPtr& key) { return *security::KeyId(*key); }

std::string Sign(const security::KeyPtr& key, std::string subject,
                 std::string issuer = "mercato-identity") {
  security::Claims claims;
  claims.issuer = std::move(issuer);
  claims.subject = std::move(subject);
  claims.audience = {"mercato"};
  claims.roles = {"customer"};
  claims.jti = NewId();
  claims.token_use = "access";
  claims.issued_at = Clock::Real().WallNow();
  claims.expires_at = claims.issued_at + 15min;
  return *security::SignRs256(claims, *key, Kid(key));
}

// identity's JWKS endpoint, with the published keys under the test's control.
class FakeIdentity {
 public:
  FakeIdentity() {
    router_.Add(http::Method::kGet, "/.well-known/jwks.json",
                [this](http::RequestContext&) -> Task<http::Response> {
                  ++fetches_;
                  std::lock_guard lock(mu_);
                  co_return http::RawJson(200, *security::BuildJwks(published_));
                });
    server_ = std::make_unique<testing::InProcessServer>(router_);
  }
  void Publish(std::vector<security::KeyPtr> keys) {
    std::lock_guard lock(mu_);
    published_ = std::move(keys);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/.well-known/jwks.json";
  }
  int fetches() const { return fetches_.load(); }

 private:
  http::Router router_;
  std::mutex mu_;
  std::vector<security::KeyPtr> published_;
  std::atomic<int> fetches_{0};
  std::unique_ptr<testing::InProcessServer> server_;
};

// A service whose one route answers the authenticated caller's subject.
class ProtectedService {
 public:
  explicit ProtectedService(std::string jwks_url, const Clock& clock = Clock::Real())
      : auth_(std::move(jwks_url), {.issuer = "mercato-identity", .audience = "mercato"}, 30s,
              clock) {
    router_.Add(
        http::Method::kGet, "/whoami", [this](http::RequestContext& ctx) -> Task<http::Response> {
          auto token = co_await auth_.authenticator().AuthenticateAsync(ctx);
          if (!token) co_return AuthProblem(token.error());
          co_return http::Json(200, boost::json::object{{"subject", ctx.caller()->subject}});
        });
    server_ = std::make_unique<testing::InProcessServer>(router_);
  }
  Result<http::BlockingResponse> Call(const std::string& token) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return testing::Get(server_->port(), "/whoami", headers);
  }
  RemoteAuth& auth() { return auth_; }

 private:
  RemoteAuth auth_;
  http::Router router_;
  std::unique_ptr<testing::InProcessServer> server_;
};

TEST(RemoteAuth, VerifiesByKidFetchingTheKeysOnceAndCachingTheToken) {
  FakeIdentity identity;
  auto key = NewKey();
  identity.Publish({key});
  ProtectedService service(identity.url());
  const std::string token = Sign(key, "user-1");
  for (int i = 0; i < 20; ++i) {
    auto r = service.Call(token);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("user-1"), std::string::npos);
  }
  EXPECT_EQ(identity.fetches(), 1);
  EXPECT_EQ(service.auth().verifier().SignatureVerifications(), 1u)
      << "the same token is checked once";
}

// Why identity publishes a rotated-in key before signing with it (--key-activation-delay above
// the refresh interval): within an interval of the last fetch, an unknown kid is not fetched.
TEST(RemoteAuth, ARotatedKeyIsFetchedOnItsFirstTokenOnceTheIntervalAllows) {
  FakeIdentity identity;
  auto old_key = NewKey();
  identity.Publish({old_key});
  FakeClock clock;
  clock.SetWall(Clock::Real().WallNow());
  ProtectedService service(identity.url(), clock);
  ASSERT_EQ(service.Call(Sign(old_key, "user-1"))->status, 200);
  auto new_key = NewKey();
  identity.Publish({old_key, new_key});
  auto too_soon = service.Call(Sign(new_key, "user-2"));
  ASSERT_TRUE(too_soon);
  EXPECT_EQ(too_soon->status, 401) << "fetched less than an interval ago: not asked again";
  EXPECT_EQ(identity.fetches(), 1);
  clock.Advance(31s);
  auto r = service.Call(Sign(new_key, "user-2"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(identity.fetches(), 2);
  EXPECT_EQ(service.Call(Sign(old_key, "user-3"))->status, 200) << "the old key is still published";
}

TEST(RemoteAuth, MadeUpKidsCannotHammerIdentity) {
  FakeIdentity identity;
  auto key = NewKey();
  identity.Publish({key});
  ProtectedService service(identity.url());
  ASSERT_EQ(service.Call(Sign(key, "user-1"))->status, 200);
  auto stranger = NewKey();  // signs fine, but identity never published it
  for (int i = 0; i < 10; ++i) {
    auto r = service.Call(Sign(stranger, "intruder-" + std::to_string(i)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(r->Header("WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  }
  EXPECT_LE(identity.fetches(), 2) << "at most one refetch per interval";
}

TEST(RemoteAuth, MissingForeignAndMisissuedTokensAre401) {
  FakeIdentity identity;
  auto key = NewKey();
  identity.Publish({key});
  ProtectedService service(identity.url());
  EXPECT_EQ(service.Call("")->status, 401);
  EXPECT_EQ(service.Call("not-a-jwt")->status, 401);
  EXPECT_EQ(service.Call(Sign(key, "user-1", "someone-else"))->status, 401);
}

TEST(RemoteAuth, AnUnreachableKeySourceIs503Not401) {
  ProtectedService service("http://127.0.0.1:" + std::to_string(testing::ClosedTcpPort()) +
                           "/.well-known/jwks.json");
  auto r = service.Call(Sign(NewKey(), "user-1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
}

}  // namespace
}  // namespace mercato::service
