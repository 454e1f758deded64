// Component tests of identity: the real binary on an ephemeral port with its own data directory,
// spoken to over HTTP, checked against services/identity/README.md. Happy paths, the unhappy
// ones (problem+json with a stable `type`), RFC 8725 attacks on the token verifier, refresh-token
// reuse, login throttling, personal data at rest, as_of replay, optimistic concurrency, the admin
// endpoints, the client-credentials grant, signing-key rotation and a restart.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <latch>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "identity_test_support.hpp"
#include "mercato/core/clock.hpp"
#include "mercato/security/base64url.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/security/keys.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::identity::component {
namespace {

using testing::ServiceProcess;

// --- helpers only these tests need -------------------------------------------------------------

// HMAC-SHA256 for the algorithm-confusion attack (HS256 keyed with the RSA public key).
std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

// RS256 over an arbitrary header, for kids that SignRs256 (rightly) refuses to write.
std::string SignRawRs256(const boost::json::object& header, const boost::json::object& payload,
                         const security::RsaKey& key) {
  std::string input = EncodeJsonPart(header) + "." + EncodeJsonPart(payload);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.Get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("RS256 signing setup failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("RS256 signing failed");
  }
  signature.resize(length);
  return input + "." + security::Base64UrlEncode(signature);
}

// RFC 4648 base64 with padding, for HTTP Basic credentials.
std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// application/x-www-form-urlencoded value.
std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

Response PostForm(uint16_t port, std::string path, std::string body, Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return Call(port, "POST", std::move(path), std::move(body), std::move(headers));
}

// The `ETag` as a number: "\"3\"" → 3; -1 when absent or not of that form.
int64_t ETagVersion(const http::BlockingResponse& response) {
  std::string etag = response.Header("ETag");
  if (etag.size() < 3 || etag.front() != '"' || etag.back() != '"') return -1;
  try {
    return std::stoll(etag.substr(1, etag.size() - 2));
  } catch (...) {
    return -1;
  }
}

std::string Rfc3339Now() { return FormatRfc3339(std::chrono::system_clock::now()); }

// Returns once the wall clock shows a later millisecond (the precision of stored times) than
// when it was called, so instants on either side of the call differ (as_of). Bounded.
void LetTheClockMove() {
  const std::string start = Rfc3339Now();
  ASSERT_TRUE(testing::WaitFor([&] { return Rfc3339Now() > start; }, 5s, 1ms));
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Retry-After as whole seconds; -1 when absent or not a non-negative integer.
int RetryAfterSeconds(const http::BlockingResponse& response) {
  std::string value = response.Header("Retry-After");
  if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return -1;
  }
  return std::stoi(value);
}

// --- one shared instance for the API tests -------------------------------------------------------

class IdentityApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The per-IP throttle is lifted: every test here speaks from 127.0.0.1, and the few wrong
    // passwords some of them send must not throttle the others. Throttling has its own test.
    try {
      service_ = new ServiceProcess(StartIdentity({"--ip-free-failures", "100000"}));
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(service_, nullptr) << "identity did not start: " << start_error_;
  }
  static uint16_t port() { return service_->port(); }
  static ServiceProcess& service() { return *service_; }

  // The process is alive and ready: it survived whatever the test threw at it.
  static void ExpectHealthy() {
    EXPECT_TRUE(service_->process().Running()) << service_->Logs().substr(0, 4000);
    auto ready = Call(port(), "GET", "/health/ready");
    ASSERT_TRUE(ready) << ready.error().message;
    EXPECT_EQ(ready->status, 200) << ready->body;
  }

  static ServiceProcess* service_;
  static std::string start_error_;
};
ServiceProcess* IdentityApi::service_ = nullptr;
std::string IdentityApi::start_error_;

// 1. Happy path
// ------------------------------------------------------------------------------------

TEST_F(IdentityApi, HappyPathFromRegistrationToLogout) {
  const std::string email = UniqueEmail("happy");
  auto registered = RegisterCall(port(), email, kPassword, "Ada Lovelace");
  ASSERT_TRUE(registered) << registered.error().message;
  ASSERT_EQ(registered->status, 201) << registered->body;
  EXPECT_TRUE(registered->Header("Content-Type").starts_with("application/json"));
  auto user = BodyObject(*registered);
  const std::string id = Str(user, "id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(registered->Header("Location"), "/users/" + id);
  EXPECT_EQ(Str(user, "email"), email);
  EXPECT_EQ(Str(user, "name"), "Ada Lovelace");
  EXPECT_EQ(Str(user, "phone"), "");
  EXPECT_EQ(StringArray(user, "roles"), std::vector<std::string>{"customer"});
  EXPECT_TRUE(user.contains("active") && user.at("active").is_bool() &&
              user.at("active").as_bool());
  EXPECT_TRUE(user.contains("addresses") && user.at("addresses").is_array() &&
              user.at("addresses").as_array().empty());
  EXPECT_TRUE(user.contains("preferences") && user.at("preferences").is_object());
  EXPECT_GE(Int(user, "version"), 1);
  EXPECT_EQ(ETagVersion(*registered), Int(user, "version"));
  WallTime parsed;
  EXPECT_TRUE(ParseRfc3339(Str(user, "created_at"), parsed)) << Str(user, "created_at");
  EXPECT_TRUE(ParseRfc3339(Str(user, "updated_at"), parsed)) << Str(user, "updated_at");
  EXPECT_FALSE(user.contains("password_hash"));
  EXPECT_FALSE(user.contains("password"));
  EXPECT_FALSE(Contains(registered->body, kPassword));
  EXPECT_FALSE(Contains(registered->body, "$argon2"));

  // Login: the token response and the JWT's shape.
  auto login = LoginCall(port(), email, kPassword);
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  auto tokens = TokensFrom(login, "login");
  EXPECT_EQ(Str(tokens.body, "token_type"), "Bearer");
  EXPECT_EQ(Int(tokens.body, "expires_in"), 900);
  EXPECT_EQ(tokens.refresh.size(), 43u);
  EXPECT_TRUE(security::Base64UrlDecode(tokens.refresh)) << "refresh token is not base64url";

  auto header = JwtPart(tokens.access, 0);
  EXPECT_EQ(Str(header, "alg"), "RS256");
  EXPECT_EQ(Str(header, "typ"), "JWT");
  const std::string kid = Str(header, "kid");
  ASSERT_FALSE(kid.empty());
  EXPECT_TRUE(HasString(JwksKids(port()), kid)) << "the token's kid is not published";

  auto claims = JwtPart(tokens.access, 1);
  EXPECT_EQ(Str(claims, "iss"), kIssuer);
  const boost::json::value* aud = claims.if_contains("aud");
  ASSERT_NE(aud, nullptr);
  EXPECT_TRUE((aud->is_string() && aud->as_string() == kAudience) ||
              (aud->is_array() && HasString(StringArray(claims, "aud"), kAudience)))
      << boost::json::serialize(*aud);
  EXPECT_EQ(Str(claims, "sub"), id);
  EXPECT_EQ(StringArray(claims, "roles"), std::vector<std::string>{"customer"});
  EXPECT_EQ(Str(claims, "token_use"), "access");
  EXPECT_FALSE(Str(claims, "jti").empty());
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(Int(claims, "iat")), static_cast<double>(now), 120.0);
  EXPECT_EQ(Int(claims, "exp") - Int(claims, "iat"), 900);
  EXPECT_GE(Int(claims, "nbf"), 0) << "nbf missing";
  EXPECT_FALSE(claims.contains("email")) << "personal data does not belong in a bearer token";

  // The JWKS publishes public keys only.
  auto jwks = Call(port(), "GET", "/.well-known/jwks.json");
  ASSERT_TRUE(jwks);
  ASSERT_EQ(jwks->status, 200);
  const auto jwks_doc = BodyObject(*jwks);
  ASSERT_TRUE(jwks_doc.contains("keys") && jwks_doc.at("keys").is_array()) << jwks->body;
  for (const auto& key : jwks_doc.at("keys").as_array()) {
    const auto& jwk = key.as_object();
    EXPECT_EQ(Str(jwk, "kty"), "RSA");
    EXPECT_FALSE(Str(jwk, "n").empty());
    EXPECT_FALSE(Str(jwk, "e").empty());
    for (auto secret : {"d", "p", "q", "dp", "dq", "qi"}) {
      EXPECT_FALSE(jwk.contains(secret)) << "JWKS leaks private member " << secret;
    }
  }

  // GET /users/me
  auto me = GetWith(port(), "/users/me", tokens.access);
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200) << me->body;
  auto me_doc = BodyObject(*me);
  EXPECT_EQ(Str(me_doc, "id"), id);
  EXPECT_EQ(Str(me_doc, "email"), email);
  const int64_t version = Int(me_doc, "version");
  EXPECT_EQ(ETagVersion(*me), version);

  // PATCH name and phone.
  auto patched = SendJson(port(), "PATCH", "/users/me",
                          boost::json::object{{"name", "Ada King"}, {"phone", "+441234567890"}},
                          {BearerHeader(tokens.access)});
  ASSERT_TRUE(patched);
  ASSERT_EQ(patched->status, 200) << patched->body;
  auto patched_doc = BodyObject(*patched);
  EXPECT_EQ(Str(patched_doc, "name"), "Ada King");
  EXPECT_EQ(Str(patched_doc, "phone"), "+441234567890");
  EXPECT_GT(Int(patched_doc, "version"), version);
  EXPECT_EQ(ETagVersion(*patched), Int(patched_doc, "version"));
  EXPECT_EQ(Str(Me(port(), tokens.access), "name"), "Ada King");

  // Preferences.
  auto prefs = GetWith(port(), "/users/me/preferences", tokens.access);
  ASSERT_TRUE(prefs);
  ASSERT_EQ(prefs->status, 200) << prefs->body;
  EXPECT_TRUE(BodyObject(*prefs).empty());
  boost::json::object wanted{
      {"newsletter", true}, {"language", "en-GB"}, {"theme", {{"dark", true}}}};
  auto put =
      SendJson(port(), "PUT", "/users/me/preferences", wanted, {BearerHeader(tokens.access)});
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(BodyObject(*put), wanted);
  prefs = GetWith(port(), "/users/me/preferences", tokens.access);
  ASSERT_TRUE(prefs);
  EXPECT_EQ(BodyObject(*prefs), wanted);
  boost::json::object replacement{{"language", "fr"}};
  put =
      SendJson(port(), "PUT", "/users/me/preferences", replacement, {BearerHeader(tokens.access)});
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  prefs = GetWith(port(), "/users/me/preferences", tokens.access);
  ASSERT_TRUE(prefs);
  EXPECT_EQ(BodyObject(*prefs), replacement) << "PUT replaces the whole document";
  auto too_big = SendJson(port(), "PUT", "/users/me/preferences",
                          boost::json::object{{"blob", std::string(5000, 'x')}},
                          {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(too_big, 400, {"invalid-argument"}));
  auto not_object = SendJson(port(), "PUT", "/users/me/preferences", boost::json::array{1, 2},
                             {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(not_object, 400, {"invalid-argument"}));

  // Addresses.
  boost::json::object address{{"label", "home"},
                              {"line1", "12 Analytical Row"},
                              {"city", "London"},
                              {"postal_code", "N1 9GU"},
                              {"country", "GB"}};
  auto added = PostJson(port(), "/users/me/addresses", address, {BearerHeader(tokens.access)});
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 201) << added->body;
  auto added_doc = BodyObject(*added);
  const std::string address_id = Str(added_doc, "id");
  ASSERT_FALSE(address_id.empty());
  EXPECT_EQ(Str(added_doc, "line1"), "12 Analytical Row");
  EXPECT_EQ(Str(added_doc, "country"), "GB");
  auto listed = GetWith(port(), "/users/me/addresses", tokens.access);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  auto items = BodyObject(*listed).at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(Str(items[0].as_object(), "id"), address_id);
  EXPECT_EQ(Str(items[0].as_object(), "city"), "London");
  auto missing_line = PostJson(port(), "/users/me/addresses",
                               boost::json::object{{"city", "London"}, {"country", "GB"}},
                               {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(missing_line, 400, {"invalid-argument"}));
  auto deleted = Call(port(), "DELETE", "/users/me/addresses/" + address_id, {},
                      {BearerHeader(tokens.access)});
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204) << deleted->body;
  listed = GetWith(port(), "/users/me/addresses", tokens.access);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(BodyObject(*listed).at("items").as_array().empty());
  auto deleted_again = Call(port(), "DELETE", "/users/me/addresses/" + address_id, {},
                            {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(deleted_again, 404, {"not-found"}));

  // Refresh: new tokens, the old refresh token rotated out.
  auto refreshed = RefreshCall(port(), tokens.refresh);
  ASSERT_TRUE(refreshed);
  ASSERT_EQ(refreshed->status, 200) << refreshed->body;
  auto next = TokensFrom(refreshed, "refresh");
  EXPECT_EQ(Str(next.body, "token_type"), "Bearer");
  EXPECT_EQ(Int(next.body, "expires_in"), 900);
  EXPECT_EQ(next.refresh.size(), 43u);
  EXPECT_NE(next.refresh, tokens.refresh);
  EXPECT_EQ(Str(JwtPart(next.access, 1), "sub"), id);
  EXPECT_EQ(Str(Me(port(), next.access), "id"), id);

  // Logout: 204, and the refresh token is dead.
  auto logout = LogoutCall(port(), next.refresh);
  ASSERT_TRUE(logout);
  EXPECT_EQ(logout->status, 204) << logout->body;
  EXPECT_TRUE(IsProblem(RefreshCall(port(), next.refresh), 401, {"unauthenticated"}));
  auto unknown_logout = LogoutCall(port(), security::RandomToken());
  ASSERT_TRUE(unknown_logout);
  EXPECT_EQ(unknown_logout->status, 204) << "logout of an unknown token is 204 too";
}

TEST_F(IdentityApi, BadRequestsAreProblemsNamingTheField) {
  auto malformed =
      Call(port(), "POST", "/auth/register", "{\"email\":", {{"Content-Type", "application/json"}});
  EXPECT_TRUE(IsProblem(malformed, 400, {"invalid-argument"}));
  auto not_object =
      Call(port(), "POST", "/auth/login", "[1,2,3]", {{"Content-Type", "application/json"}});
  EXPECT_TRUE(IsProblem(not_object, 400, {"invalid-argument"}));

  // Weak passwords: too short, common, the email's local part.
  auto short_password = RegisterCall(port(), UniqueEmail("short"), "Sh0rt!pw", "Short");
  EXPECT_TRUE(IsProblem(short_password, 400, {"invalid-argument"}));
  EXPECT_EQ(ProblemField(short_password), "password");
  auto common = RegisterCall(port(), UniqueEmail("common"), "passwordpassword", "Common");
  EXPECT_TRUE(IsProblem(common, 400, {"invalid-argument"}));
  EXPECT_EQ(ProblemField(common), "password");
  const std::string local = "localpart" + Unique();
  auto like_email = RegisterCall(port(), local + "@example.com", local, "Local");
  EXPECT_TRUE(IsProblem(like_email, 400, {"invalid-argument"}));
  EXPECT_EQ(ProblemField(like_email), "password");
  EXPECT_FALSE(Contains(common->body, "passwordpassword")) << "a problem never echoes the password";

  for (std::string bad :
       {"not-an-email", "two@@example.com", "no-domain@", "@example.com", "spa ce@example.com"}) {
    auto r = RegisterCall(port(), bad, kPassword, "Bad Email");
    EXPECT_TRUE(IsProblem(r, 400, {"invalid-argument"})) << bad;
    EXPECT_EQ(ProblemField(r), "email") << bad;
  }
  auto empty_name = RegisterCall(port(), UniqueEmail("noname"), kPassword, "   ");
  EXPECT_TRUE(IsProblem(empty_name, 400, {"invalid-argument"}));
  EXPECT_EQ(ProblemField(empty_name), "name");

  // Duplicate email, also spelled with other capitals.
  auto user = RegisterUser(port(), UniqueEmail("dup"), "Dup");
  auto again = RegisterCall(port(), user.email, kPassword, "Dup Again");
  EXPECT_TRUE(IsProblem(again, 409, {"already-exists"}));
  std::string upper = user.email;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  auto again_upper = RegisterCall(port(), upper, kPassword, "Dup Upper");
  EXPECT_TRUE(IsProblem(again_upper, 409, {"already-exists"})) << upper;
  // ...and the account is reachable under any capitalisation.
  EXPECT_EQ(Str(JwtPart(Login(port(), upper, kPassword).access, 1), "sub"), user.id);

  // No token, a garbage token, a non-Bearer scheme.
  auto no_token = Call(port(), "GET", "/users/me");
  EXPECT_TRUE(IsProblem(no_token, 401, {"unauthenticated"}));
  auto garbage = GetWith(port(), "/users/me", "not.a.jwt");
  EXPECT_TRUE(IsProblem(garbage, 401, {"unauthenticated"}));
  auto basic = Call(port(), "GET", "/users/me", {}, {{"Authorization", "Basic " + Base64("a:b")}});
  EXPECT_TRUE(IsProblem(basic, 401, {"unauthenticated"}));

  auto unknown_route = Call(port(), "GET", "/no/such/route");
  EXPECT_TRUE(IsProblem(unknown_route, 404, {"not-found"}));
  auto wrong_method = Call(port(), "DELETE", "/auth/login");
  EXPECT_TRUE(IsProblem(wrong_method, 405, {"method-not-allowed"}));
  ASSERT_TRUE(wrong_method);
  EXPECT_TRUE(Contains(wrong_method->Header("Allow"), "POST")) << wrong_method->Header("Allow");
  auto wrong_method_me = Call(port(), "DELETE", "/users/me");
  EXPECT_TRUE(IsProblem(wrong_method_me, 405, {"method-not-allowed"}));
}

// 2. RFC 8725 attacks ----------------------------------------------------------------------------

TEST_F(IdentityApi, ForgedAndBrokenTokensAreRejected) {
  auto user = RegisterUser(port(), UniqueEmail("victim"), "Victim");
  auto tokens = Login(port(), user);
  const SigningKey real = CurrentSigningKey(service());
  auto public_pem = security::PublicKeyPem(*real.key);
  ASSERT_TRUE(public_pem);

  // The control: a token we sign with the real key and valid claims is accepted, so each
  // rejection below is caused by the one thing the attack changes.
  const std::string control = SignToken(AccessClaims(user.id), *real.key, real.kid);
  auto control_r = GetWith(port(), "/users/me", control);
  ASSERT_TRUE(control_r);
  ASSERT_EQ(control_r->status, 200) << "a correctly forged token must pass: " << control_r->body;

  struct Attack {
    std::string name;
    std::string token;
  };
  std::vector<Attack> attacks;
  const auto now = std::chrono::system_clock::now();
  const boost::json::object payload = AccessClaims(user.id, {"customer", "admin"}).ToJson();

  for (std::string alg : {"none", "None", "NONE"}) {
    boost::json::object header{{"alg", alg}, {"typ", "JWT"}};
    attacks.push_back({"alg " + alg + " (unsigned)",
                       EncodeJsonPart(header) + "." + EncodeJsonPart(payload) + "."});
  }
  {
    // Algorithm confusion: HS256 keyed with the public key a naive verifier would hand to HMAC.
    boost::json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", real.kid}};
    std::string input = EncodeJsonPart(header) + "." + EncodeJsonPart(payload);
    attacks.push_back({"HS256 keyed with the RSA public key PEM",
                       input + "." + security::Base64UrlEncode(HmacSha256(*public_pem, input))});
  }
  {
    auto parts = SplitJwt(tokens.access);
    attacks.push_back({"stripped signature", parts[0] + "." + parts[1] + "."});
    attacks.push_back({"signature part removed", parts[0] + "." + parts[1]});
    auto tampered = JwtPart(tokens.access, 1);
    tampered["roles"] = boost::json::array{"admin"};
    attacks.push_back({"tampered payload (roles admin), original signature",
                       parts[0] + "." + EncodeJsonPart(tampered) + "." + parts[2]});
    auto other_sub = JwtPart(tokens.access, 1);
    other_sub["sub"] = "someone-else";
    attacks.push_back(
        {"tampered subject", parts[0] + "." + EncodeJsonPart(other_sub) + "." + parts[2]});
  }
  {
    auto claims = AccessClaims(user.id);
    claims.issued_at = now - std::chrono::minutes(20);
    claims.not_before = claims.issued_at;
    claims.expires_at = now - std::chrono::minutes(5);  // well beyond any leeway
    attacks.push_back({"expired", SignToken(claims, *real.key, real.kid)});
  }
  {
    auto claims = AccessClaims(user.id);
    claims.not_before = now + std::chrono::minutes(10);
    claims.expires_at = now + std::chrono::minutes(20);
    attacks.push_back({"nbf in the future", SignToken(claims, *real.key, real.kid)});
  }
  {
    auto claims = AccessClaims(user.id);
    claims.issuer = "https://evil.example";
    attacks.push_back({"wrong iss", SignToken(claims, *real.key, real.kid)});
  }
  {
    auto claims = AccessClaims(user.id);
    claims.audience = {"some-other-api"};
    attacks.push_back({"wrong aud", SignToken(claims, *real.key, real.kid)});
  }
  {
    auto fresh = security::GenerateRsaKey();
    ASSERT_TRUE(fresh);
    auto fresh_kid = security::KeyId(**fresh);
    ASSERT_TRUE(fresh_kid);
    attacks.push_back(
        {"unknown kid (a fresh RSA key)", SignToken(AccessClaims(user.id), **fresh, *fresh_kid)});
    attacks.push_back({"the real kid, signed by another key",
                       SignToken(AccessClaims(user.id), **fresh, real.kid)});
  }
  for (std::string kid : {"../../../../etc/passwd", "' OR '1'='1"}) {
    boost::json::object header{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}};
    attacks.push_back({"kid '" + kid + "' (signed with the real key)",
                       SignRawRs256(header, AccessClaims(user.id).ToJson(), *real.key)});
  }
  attacks.push_back({"the opaque refresh token as a bearer", tokens.refresh});
  {
    auto claims = AccessClaims(user.id);
    claims.token_use = "refresh";
    attacks.push_back(
        {"token_use refresh, signed with the real key", SignToken(claims, *real.key, real.kid)});
  }
  {
    // 12 KiB: over the verifier's 8 KiB limit, under the server's 16 KiB header limit, so it is
    // the verifier that must refuse it, even though the signature is good.
    auto claims = AccessClaims(user.id);
    claims.extra["pad"] = std::string(9 * 1024, 'p');  // ~12.3 KiB once base64url-encoded
    std::string big = SignToken(claims, *real.key, real.kid);
    ASSERT_GT(big.size(), 12u * 1024);
    ASSERT_LT(big.size(), 16u * 1024 - 512);
    attacks.push_back({"12 KiB token (validly signed)", big});
  }

  for (const auto& attack : attacks) {
    auto r = GetWith(port(), "/users/me", attack.token);
    EXPECT_TRUE(IsProblem(r, 401, {"unauthenticated"})) << attack.name;
    ASSERT_TRUE(service().process().Running()) << "service died on: " << attack.name << "\n"
                                               << service().Logs().substr(0, 4000);
  }

  // A 64 KiB refresh token in the body: refused as unauthenticated, nothing worse.
  auto huge_refresh = RefreshCall(port(), std::string(64 * 1024, 'A'));
  EXPECT_TRUE(IsProblem(huge_refresh, 401, {"unauthenticated"}));

  {
    // A 64 KiB Authorization header never reaches a verifier: the HTTP transport refuses the
    // request head (16 KiB limit) with 431 before routing. Sent raw because the server answers
    // and closes while a normal client may still be writing.
    testing::RawConnection raw(port());
    std::string request = "GET /users/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                          std::string(64 * 1024, 'a') + "\r\n\r\n";
    raw.Send(request);
    auto answer = raw.ReadUntilClosed(10s);
    EXPECT_EQ(testing::StatusOf(answer), 431) << answer.substr(0, 300);
    EXPECT_TRUE(Contains(answer, "application/problem+json")) << answer.substr(0, 300);
  }

  // Still healthy, and the genuine tokens still work.
  ExpectHealthy();
  auto after = GetWith(port(), "/users/me", tokens.access);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
  auto refreshed = RefreshCall(port(), tokens.refresh);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(refreshed->status, 200) << refreshed->body;
}

// 3. Who may read whom
// -----------------------------------------------------------------------------

TEST_F(IdentityApi, CustomersCannotReadOtherUsersButSupportAndAdminCan) {
  auto alice = RegisterUser(port(), UniqueEmail("alice"), "Alice Reader");
  const std::string bob_name = "Bob Secretive " + Unique();
  auto bob = RegisterUser(port(), UniqueEmail("bob"), bob_name);
  auto carol = RegisterUser(port(), UniqueEmail("carol"), "Carol Support");
  auto alice_tokens = Login(port(), alice);

  auto self = GetWith(port(), "/users/" + alice.id, alice_tokens.access);
  ASSERT_TRUE(self);
  EXPECT_EQ(self->status, 200) << self->body;

  auto other = GetWith(port(), "/users/" + bob.id, alice_tokens.access);
  EXPECT_TRUE(IsProblem(other, 404, {"not-found"}));
  ASSERT_TRUE(other);
  EXPECT_FALSE(Contains(other->body, bob.email)) << other->body;
  EXPECT_FALSE(Contains(other->body, bob_name)) << other->body;
  // Indistinguishable from an id that does not exist.
  auto nobody = GetWith(port(), "/users/0193ffff-ffff-7fff-bfff-ffffffffffff", alice_tokens.access);
  EXPECT_TRUE(IsProblem(nobody, 404, {"not-found"}));
  if (other && nobody) {
    EXPECT_EQ(Str(BodyObject(*other), "title"), Str(BodyObject(*nobody), "title"));
  }

  EXPECT_TRUE(IsProblem(GetWith(port(), "/users/" + bob.id + "/events", alice_tokens.access), 403,
                        {"permission-denied"}));
  EXPECT_TRUE(IsProblem(GetWith(port(), "/users/" + alice.id + "/events", alice_tokens.access), 403,
                        {"permission-denied"}))
      << "events are admin-only, even one's own";
  EXPECT_TRUE(
      IsProblem(PostJson(port(), "/users/" + carol.id + "/roles",
                         boost::json::object{{"roles", boost::json::array{"customer", "support"}}},
                         {BearerHeader(alice_tokens.access)}),
                403, {"permission-denied"}));
  EXPECT_TRUE(IsProblem(GetWith(port(), "/users?email=" + bob.email, alice_tokens.access), 403,
                        {"permission-denied"}));

  auto admin = Login(port(), AdminUser(service()));
  auto by_admin = GetWith(port(), "/users/" + bob.id, admin.access);
  ASSERT_TRUE(by_admin);
  ASSERT_EQ(by_admin->status, 200) << by_admin->body;
  EXPECT_EQ(Str(BodyObject(*by_admin), "email"), bob.email);
  EXPECT_EQ(Str(BodyObject(*by_admin), "name"), bob_name);

  // Carol becomes support; her new token carries the role and reads Bob.
  auto carol_old = Login(port(), carol);
  auto granted = PostJson(port(), "/users/" + carol.id + "/roles",
                          boost::json::object{{"roles", boost::json::array{"customer", "support"}}},
                          {BearerHeader(admin.access)});
  ASSERT_TRUE(granted);
  ASSERT_EQ(granted->status, 200) << granted->body;
  auto carol_tokens = Login(port(), carol);
  EXPECT_TRUE(HasString(StringArray(JwtPart(carol_tokens.access, 1), "roles"), "support"));
  auto by_support = GetWith(port(), "/users/" + bob.id, carol_tokens.access);
  ASSERT_TRUE(by_support);
  EXPECT_EQ(by_support->status, 200) << by_support->body;
  EXPECT_EQ(Str(BodyObject(*by_support), "name"), bob_name);
  auto lookup = GetWith(port(), "/users?email=" + bob.email, carol_tokens.access);
  ASSERT_TRUE(lookup);
  ASSERT_EQ(lookup->status, 200) << lookup->body;
  auto found = BodyObject(*lookup);
  EXPECT_EQ(Int(found, "total"), 1);
  ASSERT_EQ(found.at("items").as_array().size(), 1u);
  EXPECT_EQ(Str(found.at("items").as_array()[0].as_object(), "id"), bob.id);
  EXPECT_TRUE(IsProblem(GetWith(port(), "/users/" + bob.id + "/events", carol_tokens.access), 403,
                        {"permission-denied"}))
      << "support may read users, not their event history";
  // Her token from before the grant still says customer only.
  EXPECT_TRUE(IsProblem(GetWith(port(), "/users/" + bob.id, carol_old.access), 404, {"not-found"}));
}

// 4. Refresh-token rotation and reuse
// --------------------------------------------------------------

TEST_F(IdentityApi, ReusingARotatedRefreshTokenRevokesTheFamily) {
  auto user = RegisterUser(port(), UniqueEmail("reuse"), "Reuse");
  auto first = Login(port(), user);
  auto second = TokensFrom(RefreshCall(port(), first.refresh), "refresh r1");
  EXPECT_NE(second.refresh, first.refresh);

  EXPECT_TRUE(IsProblem(RefreshCall(port(), first.refresh), 401, {"unauthenticated"}))
      << "r1 was rotated out";
  EXPECT_TRUE(IsProblem(RefreshCall(port(), second.refresh), 401, {"unauthenticated"}))
      << "reusing r1 must revoke the whole family, r2 included";

  // Another login is a new family, unaffected; logout kills it.
  auto other = Login(port(), user);
  auto logout = LogoutCall(port(), other.refresh);
  ASSERT_TRUE(logout);
  EXPECT_EQ(logout->status, 204);
  EXPECT_TRUE(IsProblem(RefreshCall(port(), other.refresh), 401, {"unauthenticated"}));

  // Logout takes a rotated-to member of a family just as well.
  auto third = Login(port(), user);
  auto fourth = TokensFrom(RefreshCall(port(), third.refresh), "refresh r3");
  ASSERT_TRUE(LogoutCall(port(), fourth.refresh));
  EXPECT_TRUE(IsProblem(RefreshCall(port(), fourth.refresh), 401, {"unauthenticated"}));

  auto garbage = RefreshCall(port(), "definitely-not-a-refresh-token");
  EXPECT_TRUE(IsProblem(garbage, 401, {"unauthenticated"}));
  auto missing = PostJson(port(), "/auth/refresh", boost::json::object{});
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->status == 400 || missing->status == 401) << missing->body;
}

// 7. as_of: the user as it was
// ---------------------------------------------------------------------

TEST_F(IdentityApi, AsOfReplaysTheUserAtThatTime) {
  const std::string before_registration = Rfc3339Now();
  LetTheClockMove();
  auto user = RegisterUser(port(), UniqueEmail("asof"), "Old Name");
  auto tokens = Login(port(), user);
  LetTheClockMove();
  const std::string between = Rfc3339Now();
  LetTheClockMove();
  auto renamed = SendJson(port(), "PATCH", "/users/me", boost::json::object{{"name", "New Name"}},
                          {BearerHeader(tokens.access)});
  ASSERT_TRUE(renamed);
  ASSERT_EQ(renamed->status, 200) << renamed->body;

  auto then = GetWith(port(), "/users/" + user.id + "?as_of=" + between, tokens.access);
  ASSERT_TRUE(then);
  ASSERT_EQ(then->status, 200) << between << ": " << then->body;
  EXPECT_EQ(Str(BodyObject(*then), "name"), "Old Name") << "as_of=" << between;
  EXPECT_EQ(Str(BodyObject(*then), "email"), user.email);

  auto now = GetWith(port(), "/users/" + user.id, tokens.access);
  ASSERT_TRUE(now);
  ASSERT_EQ(now->status, 200);
  EXPECT_EQ(Str(BodyObject(*now), "name"), "New Name");
  EXPECT_GT(Int(BodyObject(*now), "version"), Int(BodyObject(*then), "version"));

  auto not_yet =
      GetWith(port(), "/users/" + user.id + "?as_of=" + before_registration, tokens.access);
  EXPECT_TRUE(IsProblem(not_yet, 404, {"not-found"})) << "as_of=" << before_registration;

  for (std::string bad : {"yesterday", "2026-13-45T99:00:00Z", "1700000000"}) {
    auto r = GetWith(port(), "/users/" + user.id + "?as_of=" + bad, tokens.access);
    EXPECT_TRUE(IsProblem(r, 400, {"invalid-argument"})) << "as_of=" << bad;
  }
}

// 8. Optimistic concurrency
// ------------------------------------------------------------------------

TEST_F(IdentityApi, ConcurrentConditionalWritesOneWinsOneConflicts) {
  auto user = RegisterUser(port(), UniqueEmail("race"), "Racer");
  auto tokens = Login(port(), user);
  auto me = GetWith(port(), "/users/me", tokens.access);
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200);
  const int64_t version = Int(BodyObject(*me), "version");
  ASSERT_GE(version, 1);
  const std::string if_match = "\"" + std::to_string(version) + "\"";

  std::latch start(2);
  auto patch = [&](std::string name) {
    start.arrive_and_wait();
    return SendJson(port(), "PATCH", "/users/me", boost::json::object{{"name", name}},
                    {BearerHeader(tokens.access), {"If-Match", if_match}});
  };
  auto a = std::async(std::launch::async, patch, "Racer A");
  auto b = std::async(std::launch::async, patch, "Racer B");
  auto ra = a.get();
  auto rb = b.get();
  ASSERT_TRUE(ra) << ra.error().message;
  ASSERT_TRUE(rb) << rb.error().message;
  std::multiset<int> statuses{ra->status, rb->status};
  EXPECT_EQ(statuses, (std::multiset<int>{200, 409})) << ra->body << "\n" << rb->body;
  const auto& loser = ra->status == 409 ? ra : rb;
  EXPECT_TRUE(IsProblem(loser, 409, {"aborted", "failed-precondition"}));
  const auto& winner = ra->status == 200 ? ra : rb;

  auto after = Me(port(), tokens.access);
  EXPECT_EQ(Int(after, "version"), version + 1);
  if (winner->status == 200) {
    EXPECT_EQ(Str(after, "name"), Str(BodyObject(*winner), "name"));
  }

  // A stale If-Match is refused and changes nothing; the current one goes through.
  auto stale = SendJson(port(), "PATCH", "/users/me", boost::json::object{{"name", "Stale"}},
                        {BearerHeader(tokens.access), {"If-Match", if_match}});
  EXPECT_TRUE(IsProblem(stale, 409, {"aborted", "failed-precondition"}));
  EXPECT_EQ(Int(Me(port(), tokens.access), "version"), version + 1);
  auto current = SendJson(
      port(), "PATCH", "/users/me", boost::json::object{{"name", "Current"}},
      {BearerHeader(tokens.access), {"If-Match", "\"" + std::to_string(version + 1) + "\""}});
  ASSERT_TRUE(current);
  EXPECT_EQ(current->status, 200) << current->body;
  EXPECT_EQ(Int(Me(port(), tokens.access), "version"), version + 2);
}

TEST_F(IdentityApi, ChangingEmailOrPasswordNeedsTheCurrentPassword) {
  auto user = RegisterUser(port(), UniqueEmail("creds"), "Creds");
  auto taken = RegisterUser(port(), UniqueEmail("taken"), "Taken");
  auto tokens = Login(port(), user);
  const std::string new_email = UniqueEmail("creds-new");

  auto no_current =
      SendJson(port(), "PATCH", "/users/me", boost::json::object{{"email", new_email}},
               {BearerHeader(tokens.access)});
  ASSERT_TRUE(no_current);
  EXPECT_TRUE(no_current->status == 400 ? IsProblem(no_current, 400, {"invalid-argument"})
                                        : IsProblem(no_current, 401, {"unauthenticated"}))
      << "a missing current_password is a bad request or unauthenticated";
  auto wrong_current = SendJson(
      port(), "PATCH", "/users/me",
      boost::json::object{{"email", new_email}, {"current_password", "Wrong-Password-999"}},
      {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(wrong_current, 401, {"unauthenticated"}));
  auto clash =
      SendJson(port(), "PATCH", "/users/me",
               boost::json::object{{"email", taken.email}, {"current_password", user.password}},
               {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(clash, 409, {"already-exists"}));

  auto changed =
      SendJson(port(), "PATCH", "/users/me",
               boost::json::object{{"email", new_email}, {"current_password", user.password}},
               {BearerHeader(tokens.access)});
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->status, 200) << changed->body;
  EXPECT_EQ(Str(BodyObject(*changed), "email"), new_email);
  EXPECT_TRUE(IsProblem(LoginCall(port(), user.email, user.password), 401, {"unauthenticated"}));
  Login(port(), new_email, user.password);
  // The old address is free again.
  RegisterUser(port(), user.email, "Reuses The Old Address");

  const std::string new_password = "Marmoset-Compass-Delta-88";
  auto weak = SendJson(
      port(), "PATCH", "/users/me",
      boost::json::object{{"password", "passwordpassword"}, {"current_password", user.password}},
      {BearerHeader(tokens.access)});
  EXPECT_TRUE(IsProblem(weak, 400, {"invalid-argument"}));
  EXPECT_EQ(ProblemField(weak), "password");
  auto password =
      SendJson(port(), "PATCH", "/users/me",
               boost::json::object{{"password", new_password}, {"current_password", user.password}},
               {BearerHeader(tokens.access)});
  ASSERT_TRUE(password);
  ASSERT_EQ(password->status, 200) << password->body;
  EXPECT_TRUE(IsProblem(LoginCall(port(), new_email, user.password), 401, {"unauthenticated"}));
  Login(port(), new_email, new_password);
}

// 9. Admin
// -----------------------------------------------------------------------------------------

TEST_F(IdentityApi, SecretFilesAreWrittenOwnerOnly) {
  const std::string secrets = SecretsDir(service());
  for (std::string file : {"admin.json", "jwt-keys.json", "pii-keys.json", "clients/orders.json",
                           "clients/gateway.json", "clients/notifications.json"}) {
    EXPECT_EQ(FileMode(secrets + "/" + file), 0600u) << file;
  }
  auto admin = ReadJsonFile(secrets + "/admin.json");
  EXPECT_EQ(Str(admin, "email"), "admin@mercato.local");
  EXPECT_GE(Str(admin, "password").size(), 12u);
  auto keys = ReadJsonFile(secrets + "/jwt-keys.json");
  ASSERT_TRUE(keys.contains("keys") && keys.at("keys").is_array());
  EXPECT_EQ(keys.at("keys").as_array().size(), 1u);
  for (const auto& key : keys.at("keys").as_array()) {
    EXPECT_FALSE(Str(key.as_object(), "kid").empty());
    EXPECT_TRUE(Str(key.as_object(), "private_key_pem").starts_with("-----BEGIN PRIVATE KEY-----"));
    WallTime created, activates;
    EXPECT_TRUE(ParseRfc3339(Str(key.as_object(), "created_at"), created));
    EXPECT_TRUE(ParseRfc3339(Str(key.as_object(), "activates_at"), activates));
  }
}

TEST_F(IdentityApi, AdminReadsHistoryChangesRolesAndDeactivates) {
  auto admin = Login(port(), AdminUser(service()));
  EXPECT_TRUE(HasString(StringArray(JwtPart(admin.access, 1), "roles"), "admin"));
  auto admin_me = Me(port(), admin.access);
  EXPECT_EQ(Str(admin_me, "email"), "admin@mercato.local");

  auto user = RegisterUser(port(), UniqueEmail("managed"), "Managed");
  auto tokens = Login(port(), user);
  auto renamed =
      SendJson(port(), "PATCH", "/users/me", boost::json::object{{"name", "Managed Renamed"}},
               {BearerHeader(tokens.access)});
  ASSERT_TRUE(renamed);
  ASSERT_EQ(renamed->status, 200);
  const std::string new_password = "Pelican-Harbour-Violet-31";
  auto password =
      SendJson(port(), "PATCH", "/users/me",
               boost::json::object{{"password", new_password}, {"current_password", user.password}},
               {BearerHeader(tokens.access)});
  ASSERT_TRUE(password);
  ASSERT_EQ(password->status, 200) << password->body;
  user.password = new_password;
  tokens = Login(port(), user);

  // Roles.
  auto roles = PostJson(port(), "/users/" + user.id + "/roles",
                        boost::json::object{{"roles", boost::json::array{"customer", "support"}}},
                        {BearerHeader(admin.access)});
  ASSERT_TRUE(roles);
  ASSERT_EQ(roles->status, 200) << roles->body;
  auto roles_doc = BodyObject(*roles);
  EXPECT_TRUE(HasString(StringArray(roles_doc, "roles"), "support"));
  EXPECT_TRUE(HasString(StringArray(roles_doc, "roles"), "customer"));
  for (boost::json::array bad :
       {boost::json::array{"service"}, boost::json::array{"overlord"}, boost::json::array{}}) {
    auto r = PostJson(port(), "/users/" + user.id + "/roles", boost::json::object{{"roles", bad}},
                      {BearerHeader(admin.access)});
    EXPECT_TRUE(IsProblem(r, 400, {"invalid-argument"})) << boost::json::serialize(bad);
  }
  EXPECT_TRUE(IsProblem(PostJson(port(), "/users/no-such-user/roles",
                                 boost::json::object{{"roles", boost::json::array{"customer"}}},
                                 {BearerHeader(admin.access)}),
                        404, {"not-found"}));

  // The history, personal data decrypted, password hashes redacted.
  auto events = GetWith(port(), "/users/" + user.id + "/events", admin.access);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->status, 200) << events->body;
  EXPECT_FALSE(Contains(events->body, "$argon2")) << "a password hash leaked: " << events->body;
  auto list = BodyObject(*events);
  ASSERT_TRUE(list.contains("items") && list.at("items").is_array()) << events->body;
  const auto& items = list.at("items").as_array();
  std::vector<std::string> types;
  int64_t expected_version = 1;
  for (const auto& item : items) {
    const auto& event = item.as_object();
    types.push_back(Str(event, "type"));
    EXPECT_EQ(Int(event, "version"), expected_version++);
    WallTime at;
    EXPECT_TRUE(ParseRfc3339(Str(event, "recorded_at"), at)) << Str(event, "recorded_at");
    ASSERT_TRUE(event.contains("data") && event.at("data").is_object());
    const auto& data = event.at("data").as_object();
    if (const auto* hash = data.if_contains("password_hash")) {
      EXPECT_FALSE(hash->is_string() && hash->as_string().starts_with("$"))
          << "not redacted: " << *hash;
    }
  }
  ASSERT_GE(types.size(), 4u) << events->body;
  EXPECT_EQ(types[0], "UserRegistered");
  EXPECT_EQ(types[1], "NameChanged");
  EXPECT_EQ(types[2], "PasswordChanged");
  EXPECT_EQ(types[3], "RolesChanged");
  EXPECT_EQ(Str(items[0].as_object().at("data").as_object(), "email"), user.email)
      << "decrypted for the admin";
  EXPECT_EQ(Str(items[1].as_object().at("data").as_object(), "name"), "Managed Renamed");
  auto page = GetWith(port(), "/users/" + user.id + "/events?page=2&page_size=2", admin.access);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  auto page_doc = BodyObject(*page);
  ASSERT_EQ(page_doc.at("items").as_array().size(), 2u);
  EXPECT_EQ(Int(page_doc.at("items").as_array()[0].as_object(), "version"), 3);
  EXPECT_EQ(Int(page_doc, "total"), static_cast<int64_t>(items.size()));

  // Deactivate: refresh tokens revoked, login 403 with the right password only, the access
  // token refused on /users/me.
  auto deactivated =
      Call(port(), "POST", "/users/" + user.id + "/deactivate", {}, {BearerHeader(admin.access)});
  ASSERT_TRUE(deactivated);
  ASSERT_EQ(deactivated->status, 200) << deactivated->body;
  EXPECT_FALSE(BodyObject(*deactivated).at("active").as_bool());
  EXPECT_TRUE(IsProblem(RefreshCall(port(), tokens.refresh), 401, {"unauthenticated"}));
  EXPECT_TRUE(IsProblem(LoginCall(port(), user.email, user.password), 403, {"permission-denied"}));
  EXPECT_TRUE(
      IsProblem(LoginCall(port(), user.email, "Wrong-Password-1234"), 401, {"unauthenticated"}))
      << "a wrong password must not learn that the account is deactivated";
  EXPECT_TRUE(IsProblem(GetWith(port(), "/users/me", tokens.access), 403, {"permission-denied"}));
  EXPECT_TRUE(IsProblem(
      Call(port(), "POST", "/users/" + user.id + "/deactivate", {}, {BearerHeader(admin.access)}),
      409, {"failed-precondition", "aborted", "already-exists"}));

  auto activated =
      Call(port(), "POST", "/users/" + user.id + "/activate", {}, {BearerHeader(admin.access)});
  ASSERT_TRUE(activated);
  ASSERT_EQ(activated->status, 200) << activated->body;
  EXPECT_TRUE(BodyObject(*activated).at("active").as_bool());
  EXPECT_TRUE(IsProblem(
      Call(port(), "POST", "/users/" + user.id + "/activate", {}, {BearerHeader(admin.access)}),
      409, {"failed-precondition", "aborted", "already-exists"}));
  auto back = Login(port(), user);
  EXPECT_EQ(Str(Me(port(), back.access), "id"), user.id);

  // A customer (even the user itself) may not do any of this.
  EXPECT_TRUE(IsProblem(
      Call(port(), "POST", "/users/" + user.id + "/deactivate", {}, {BearerHeader(tokens.access)}),
      403, {"permission-denied"}));
  auto stranger = Login(port(), RegisterUser(port(), UniqueEmail("stranger"), "Stranger"));
  EXPECT_TRUE(IsProblem(Call(port(), "POST", "/users/" + user.id + "/deactivate", {},
                             {BearerHeader(stranger.access)}),
                        403, {"permission-denied"}));
  EXPECT_TRUE(IsProblem(
      Call(port(), "POST", "/users/" + user.id + "/activate", {}, {BearerHeader(stranger.access)}),
      403, {"permission-denied"}));
}

// 10. OAuth 2.0 client credentials ---------------------------------------------------------------

TEST_F(IdentityApi, ServicesGetTokensWithClientCredentials) {
  auto client = ReadJsonFile(SecretsDir(service()) + "/clients/orders.json");
  const std::string client_id = Str(client, "client_id");
  const std::string client_secret = Str(client, "client_secret");
  ASSERT_EQ(client_id, "orders");
  ASSERT_GE(client_secret.size(), 20u);

  auto r = PostForm(port(), "/oauth/token",
                    "grant_type=client_credentials&client_id=" + FormEncode(client_id) +
                        "&client_secret=" + FormEncode(client_secret));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto body = BodyObject(*r);
  const std::string token = Str(body, "access_token");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Str(body, "token_type"), "Bearer");
  EXPECT_GT(Int(body, "expires_in"), 0);
  EXPECT_FALSE(body.contains("refresh_token"))
      << "client credentials get no refresh token (RFC 6749 4.4.3)";
  auto claims = JwtPart(token, 1);
  EXPECT_EQ(StringArray(claims, "roles"), std::vector<std::string>{"service"});
  EXPECT_EQ(Str(claims, "sub"), "orders");
  EXPECT_EQ(Str(claims, "iss"), kIssuer);
  EXPECT_EQ(Str(JwtPart(token, 0), "alg"), "RS256");

  auto user = RegisterUser(port(), UniqueEmail("served"), "Served");
  auto read = GetWith(port(), "/users/" + user.id, token);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200) << read->body;
  EXPECT_EQ(Str(BodyObject(*read), "id"), user.id);
  EXPECT_TRUE(IsProblem(GetWith(port(), "/users/" + user.id + "/events", token), 403,
                        {"permission-denied"}));

  // HTTP Basic (RFC 6749 2.3.1: form-encoded id and secret, then base64).
  auto basic = PostForm(port(), "/oauth/token", "grant_type=client_credentials",
                        {{"Authorization", "Basic " + Base64(FormEncode(client_id) + ":" +
                                                             FormEncode(client_secret))}});
  ASSERT_TRUE(basic);
  ASSERT_EQ(basic->status, 200) << basic->body;
  EXPECT_EQ(Str(JwtPart(Str(BodyObject(*basic), "access_token"), 1), "sub"), "orders");

  auto wrong = PostForm(port(), "/oauth/token",
                        "grant_type=client_credentials&client_id=orders&client_secret=" +
                            FormEncode(client_secret + "x"));
  EXPECT_TRUE(IsProblem(wrong, 401, {"unauthenticated"}));
  if (wrong) {
    EXPECT_EQ(Str(BodyObject(*wrong), "error"), "invalid_client");
  }
  auto wrong_basic = PostForm(port(), "/oauth/token", "grant_type=client_credentials",
                              {{"Authorization", "Basic " + Base64("orders:nope")}});
  EXPECT_TRUE(IsProblem(wrong_basic, 401, {"unauthenticated"}));
  auto unknown = PostForm(
      port(), "/oauth/token",
      "grant_type=client_credentials&client_id=nobody&client_secret=" + FormEncode(client_secret));
  EXPECT_TRUE(IsProblem(unknown, 401, {"unauthenticated"}));

  auto password_grant =
      PostForm(port(), "/oauth/token",
               "grant_type=password&username=a&password=b&client_id=orders&client_secret=" +
                   FormEncode(client_secret));
  EXPECT_TRUE(IsProblem(password_grant, 400, {"invalid-argument"}));
  if (password_grant) {
    EXPECT_EQ(Str(BodyObject(*password_grant), "error"), "unsupported_grant_type");
  }
  auto no_grant = PostForm(port(), "/oauth/token",
                           "client_id=orders&client_secret=" + FormEncode(client_secret));
  EXPECT_TRUE(IsProblem(no_grant, 400, {"invalid-argument"}));
}

// --- tests that need an instance of their own ---------------------------------------------------

// 5. Throttling
// --------------------------------------------------------------------------------------

TEST(IdentityThrottling, RepeatedWrongPasswordsAreThrottledThenRecover) {
  auto identity = StartIdentity(
      {"--login-free-failures", "5", "--login-delay-base", "100ms", "--login-delay-max", "1s"});
  auto user = RegisterUser(identity.port(), UniqueEmail("throttled"), "Throttled");

  int throttled = 0;
  int succeeded = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = LoginCall(identity.port(), user.email, "Wrong-Password-" + std::to_string(i));
    ASSERT_TRUE(r) << r.error().message;
    if (r->status == 429) {
      ++throttled;
      EXPECT_TRUE(IsProblem(r, 429, {"resource-exhausted"}));
      int retry_after = RetryAfterSeconds(*r);
      EXPECT_GE(retry_after, 1) << "Retry-After: '" << r->Header("Retry-After") << "'";
    } else if (r->status == 200) {
      ++succeeded;
    } else {
      EXPECT_TRUE(IsProblem(r, 401, {"unauthenticated"}));
    }
  }
  EXPECT_GE(throttled, 1) << "30 wrong passwords in a row were never throttled";
  EXPECT_EQ(succeeded, 0);

  // Once the lock (capped at 1 s) has passed, the right password works. Attempts refused with
  // 429 while it lasts are not counted as failures, so polling does not extend it.
  Response last = Error{ErrorCode::kInternal, "not tried"};
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        last = LoginCall(identity.port(), user.email, user.password);
        return !last || last->status != 429;
      },
      30s, 100ms));
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_EQ(last->status, 200) << "the right password after the wait: " << last->body;
}

// The same answer for an unknown email and a wrong password, and similar timing, so login cannot
// be used to find out who has an account.
TEST(IdentityThrottling, UnknownEmailAndWrongPasswordAreIndistinguishable) {
  // Real-ish hashing cost so a skipped hash would show; throttling out of the way.
  auto identity =
      StartIdentity({"--login-free-failures", "1000", "--ip-free-failures", "100000"}, {}, 8192);
  constexpr int kRounds = 7;
  std::vector<TestUser> users;
  for (int i = 0; i <= kRounds; ++i)
    users.push_back(RegisterUser(identity.port(), UniqueEmail("timing"), "Timing"));

  auto unknown = LoginCall(identity.port(), UniqueEmail("nobody"), kPassword);
  auto wrong = LoginCall(identity.port(), users[0].email, "Wrong-Password-1234");
  ASSERT_TRUE(IsProblem(unknown, 401, {"unauthenticated"}));
  ASSERT_TRUE(IsProblem(wrong, 401, {"unauthenticated"}));
  auto a = BodyObject(*unknown);
  auto b = BodyObject(*wrong);
  for (auto member : {"type", "title", "detail", "code", "status"}) {
    EXPECT_EQ(boost::json::serialize(a[member]), boost::json::serialize(b[member])) << member;
  }
  EXPECT_EQ(unknown->Header("WWW-Authenticate"), wrong->Header("WWW-Authenticate"));

  // Interleaved so that load from neighbouring tests hits both series alike.
  auto timed = [&](const std::string& email, const std::string& password) {
    auto started = std::chrono::steady_clock::now();
    auto r = LoginCall(identity.port(), email, password);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    EXPECT_TRUE(IsProblem(r, 401, {"unauthenticated"}));
    return ms;
  };
  std::vector<double> unknown_ms, wrong_ms;
  for (int i = 1; i <= kRounds; ++i) {
    unknown_ms.push_back(timed(UniqueEmail("nobody"), std::string(kPassword)));
    wrong_ms.push_back(timed(users[static_cast<size_t>(i)].email, "Wrong-Password-1234"));
  }
  double unknown_median = Median(unknown_ms);
  double wrong_median = Median(wrong_ms);
  RecordProperty("unknown_email_median_ms", std::to_string(unknown_median));
  RecordProperty("wrong_password_median_ms", std::to_string(wrong_median));
  EXPECT_GE(unknown_median, 0.3 * wrong_median)
      << "an unknown email answers much faster (median " << unknown_median << " ms) than a wrong "
      << "password (median " << wrong_median << " ms): the difference tells who has an account";
}

// 6. Personal data at rest -----------------------------------------------------------------------

TEST(IdentityStorage, PersonalDataNeverReachesDiskOrLogsInPlaintext) {
  auto identity = StartIdentity();
  const std::string tag = Unique();
  // Distinctive values, each unlikely to occur by chance in any binary file.
  auto phone_digits = [&](int salt) {
    std::string hex = security::Sha256Hex(tag + std::to_string(salt));
    std::string out;
    for (char c : hex) {
      if (out.size() == 10) break;
      out += static_cast<char>('0' + (static_cast<unsigned char>(c) % 10));
    }
    return "44" + out;  // 12 digits
  };
  const std::string email_a = "Plaintext.Probe.Alpha-" + tag + "@Zanzibar-Mail.example";
  const std::string email_a_lower = "plaintext.probe.alpha-" + tag + "@zanzibar-mail.example";
  const std::string email_a2 = "plaintext.probe.renamed-" + tag + "@zanzibar-mail.example";
  const std::string email_b = "plaintext.probe.beta-" + tag + "@zanzibar-mail.example";
  const std::string phone_a = "+" + phone_digits(1);
  const std::string phone_b = "+" + phone_digits(2);
  const std::string line1 = "17 Quixotic Zanzibar Lane " + tag;
  const std::string city = "Xylophonville-" + tag;
  const std::string name_a = "Ottoline Plaintextcheck " + tag;
  const std::string password = "Tangerine-Walrus-Sextant-" + tag;

  auto alpha = RegisterUser(identity.port(), email_a, name_a, password);
  auto beta = RegisterUser(identity.port(), email_b, "Beta " + tag, password);
  auto alpha_tokens = Login(identity.port(), email_a_lower, password);
  auto beta_tokens = Login(identity.port(), beta);
  auto r = SendJson(identity.port(), "PATCH", "/users/me", boost::json::object{{"phone", phone_a}},
                    {BearerHeader(alpha_tokens.access)});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = SendJson(identity.port(), "PATCH", "/users/me", boost::json::object{{"phone", phone_b}},
               {BearerHeader(beta_tokens.access)});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = PostJson(identity.port(), "/users/me/addresses",
               boost::json::object{{"label", "home"},
                                   {"line1", line1},
                                   {"city", city},
                                   {"postal_code", "ZQ9 9XJ"},
                                   {"country", "GB"}},
               {BearerHeader(alpha_tokens.access)});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  r = SendJson(identity.port(), "PATCH", "/users/me",
               boost::json::object{{"email", email_a2}, {"current_password", password}},
               {BearerHeader(alpha_tokens.access)});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // Read back through the API: the service does hold them.
  auto me = Me(identity.port(), alpha_tokens.access);
  ASSERT_EQ(Str(me, "email"), email_a2);
  ASSERT_EQ(Str(me, "phone"), phone_a);

  const std::vector<std::string> needles{
      email_a,           email_a_lower,     email_a2, email_b, phone_a, phone_b,
      phone_a.substr(1), phone_b.substr(1), line1,    city,    password};
  const std::string db = DataDir(identity) + "/identity.db";
  auto scan = [&](const std::string& when) {
    std::string all;
    for (std::string suffix : {"", "-wal", "-shm"}) {
      std::string bytes = ReadFileBytes(db + suffix);
      for (const auto& needle : needles) {
        EXPECT_FALSE(Contains(bytes, needle))
            << "'" << needle << "' in plaintext in identity.db" << suffix << " " << when;
      }
      all += bytes;
    }
    // The control: names are stored in clear (README), so a scan that cannot find one is not
    // reading the right files.
    EXPECT_TRUE(Contains(all, name_a)) << "the scan found not even the (unencrypted) name " << when;
  };
  ASSERT_GT(ReadFileBytes(db).size(), 0u) << "no identity.db at " << db;
  scan("while running");

  identity.process().Signal(SIGTERM);
  EXPECT_EQ(identity.process().Wait(20s), 0) << identity.Logs().substr(0, 4000);
  scan("after shutdown");

  const std::string logs = identity.Logs();
  EXPECT_FALSE(logs.empty());
  for (const auto& needle : needles) {
    EXPECT_FALSE(Contains(logs, needle)) << "'" << needle << "' in the service log";
  }
  EXPECT_FALSE(Contains(logs, alpha_tokens.refresh)) << "a refresh token in the log";
  EXPECT_FALSE(Contains(logs, SplitJwt(alpha_tokens.access)[2])) << "an access token in the log";
}

// 11. Signing-key rotation -----------------------------------------------------------------------

// Publish-then-sign: the rotated-in key is in the JWKS at once but signs only after
// --key-activation-delay, so services' JWKS caches have it before they meet a token it signed.
TEST(IdentityKeys, RotationPublishesTheNewKeyFirstAndOldTokensKeepWorking) {
  auto identity = StartIdentity({"--key-reload-interval", "200ms"});
  auto user = RegisterUser(identity.port(), UniqueEmail("rotate"), "Rotate");
  auto before = Login(identity.port(), user);
  const std::string old_kid = Str(JwtPart(before.access, 0), "kid");
  ASSERT_EQ(JwksKids(identity.port()), std::vector<std::string>{old_kid});

  const std::string log = identity.data_dir() + "/rotate.log";
  auto rotate = testing::ChildProcess::Start(
      testing::BinaryPath("identity"),
      {"rotate-signing-key", "--data-dir", DataDir(identity), "--key-activation-delay", "3s"}, {},
      log);
  ASSERT_EQ(rotate.Wait(60s), 0) << ReadFileBytes(log);
  const auto rotated_at = std::chrono::steady_clock::now();
  EXPECT_EQ(FileMode(SecretsDir(identity) + "/jwt-keys.json"), 0600u);
  auto file = ReadJsonFile(SecretsDir(identity) + "/jwt-keys.json");
  ASSERT_EQ(file.at("keys").as_array().size(), 2u);
  const std::string new_kid = Str(file.at("keys").as_array().back().as_object(), "kid");
  EXPECT_NE(new_kid, old_kid);

  ASSERT_TRUE(testing::WaitFor([&] { return JwksKids(identity.port()).size() == 2; }, 20s))
      << "the JWKS never published the new key";
  auto kids = JwksKids(identity.port());
  EXPECT_TRUE(HasString(kids, old_kid));
  EXPECT_TRUE(HasString(kids, new_kid));
  auto early = Login(identity.port(), user);
  if (std::chrono::steady_clock::now() - rotated_at <
      2500ms) {  // skip the check on a very slow run
    EXPECT_EQ(Str(JwtPart(early.access, 0), "kid"), old_kid)
        << "signed with the new key before its activation";
  }

  std::string latest_kid;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        latest_kid = Str(JwtPart(Login(identity.port(), user).access, 0), "kid");
        return latest_kid == new_kid;
      },
      20s, 100ms))
      << "still signing with " << latest_kid;

  // The old token still verifies; so does a new one.
  EXPECT_EQ(Str(Me(identity.port(), before.access), "id"), user.id);
  auto after = Login(identity.port(), user);
  EXPECT_NE(Str(JwtPart(after.access, 0), "kid"), old_kid);
  EXPECT_EQ(Str(Me(identity.port(), after.access), "id"), user.id);
  auto refreshed = RefreshCall(identity.port(), before.refresh);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(refreshed->status, 200) << refreshed->body;
}

// 12. Restart
// --------------------------------------------------------------------------------------

TEST(IdentityProcess, RestartKeepsUsersTokensAndKeys) {
  auto identity = StartIdentity();
  auto user = RegisterUser(identity.port(), UniqueEmail("restart"), "Restart");
  auto tokens = Login(identity.port(), user);
  auto kids = JwksKids(identity.port());
  const std::string admin_file = ReadFileBytes(SecretsDir(identity) + "/admin.json");
  const std::string keys_file = ReadFileBytes(SecretsDir(identity) + "/jwt-keys.json");
  const std::string client_file = ReadFileBytes(SecretsDir(identity) + "/clients/orders.json");

  identity.process().Signal(SIGTERM);
  ASSERT_EQ(identity.process().Wait(20s), 0) << identity.Logs().substr(0, 4000);
  identity.Restart(IdentityArgs(), {}, kStartTimeout);

  EXPECT_EQ(ReadFileBytes(SecretsDir(identity) + "/admin.json"), admin_file) << "admin re-created";
  EXPECT_EQ(ReadFileBytes(SecretsDir(identity) + "/jwt-keys.json"), keys_file)
      << "keys re-generated";
  EXPECT_EQ(ReadFileBytes(SecretsDir(identity) + "/clients/orders.json"), client_file);
  EXPECT_EQ(JwksKids(identity.port()), kids);

  auto me = GetWith(identity.port(), "/users/me", tokens.access);
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200) << me->body;
  EXPECT_EQ(Str(BodyObject(*me), "email"), user.email);
  auto refreshed = RefreshCall(identity.port(), tokens.refresh);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(refreshed->status, 200) << refreshed->body;
  Login(identity.port(), user);
  Login(identity.port(), AdminUser(identity));
  EXPECT_TRUE(IsProblem(RegisterCall(identity.port(), user.email, kPassword, "Again"), 409,
                        {"already-exists"}))
      << "the blind index survived the restart";

  // A crash (SIGKILL) loses nothing that was acknowledged either.
  auto renamed =
      SendJson(identity.port(), "PATCH", "/users/me", boost::json::object{{"name", "After Crash"}},
               {BearerHeader(tokens.access)});
  ASSERT_TRUE(renamed);
  ASSERT_EQ(renamed->status, 200);
  identity.process().Signal(SIGKILL);
  identity.process().Wait(10s);
  identity.Restart(IdentityArgs(), {}, kStartTimeout);
  EXPECT_EQ(Str(Me(identity.port(), tokens.access), "name"), "After Crash");
}

// --- found in review: authorization follows the caller's current state ------------------------

namespace review {

Response SetRolesCall(uint16_t port, const std::string& id, boost::json::array roles,
                      const std::string& token) {
  return PostJson(port, "/users/" + id + "/roles", boost::json::object{{"roles", std::move(roles)}},
                  {BearerHeader(token)});
}
Response AdminPost(uint16_t port, const std::string& path, const std::string& token) {
  return Call(port, "POST", path, "", {BearerHeader(token)});
}

}  // namespace review

// A demoted or deactivated admin's unexpired token stops working for admin actions at once; a
// granted role needs a fresh token.
TEST(IdentityAuthz, StaleAdminTokensLoseTheirPowerAtOnce) {
  auto identity = StartIdentity({"--ip-free-failures", "100000"});
  const uint16_t port = identity.port();
  auto root = Login(port, AdminUser(identity));
  auto bee = RegisterUser(port, UniqueEmail("second-admin"), "Second Admin");
  ASSERT_EQ(review::SetRolesCall(port, bee.id, {"admin"}, root.access)->status, 200);
  auto bee_admin = Login(port, bee);
  ASSERT_EQ(GetWith(port, "/users/" + bee.id + "/events", bee_admin.access)->status, 200);

  // Demoted: the token still says admin, the stored roles do not.
  ASSERT_EQ(review::SetRolesCall(port, bee.id, {"customer"}, root.access)->status, 200);
  EXPECT_TRUE(IsProblem(GetWith(port, "/users/" + bee.id + "/events", bee_admin.access), 403,
                        {"permission-denied"}));
  EXPECT_TRUE(IsProblem(review::SetRolesCall(port, bee.id, {"admin"}, bee_admin.access), 403,
                        {"permission-denied"}))
      << "a demoted admin must not re-grant themselves";

  // Deactivated: nothing works with the old token, not even reading oneself.
  ASSERT_EQ(review::SetRolesCall(port, bee.id, {"admin"}, root.access)->status, 200);
  auto bee_again = Login(port, bee);
  ASSERT_EQ(review::AdminPost(port, "/users/" + bee.id + "/deactivate", root.access)->status, 200);
  EXPECT_TRUE(IsProblem(review::AdminPost(port, "/users/" + bee.id + "/activate", bee_again.access),
                        403, {"permission-denied"}))
      << "a deactivated admin must not reactivate themselves";
  EXPECT_TRUE(
      IsProblem(GetWith(port, "/users/" + bee.id, bee_again.access), 403, {"permission-denied"}));
  EXPECT_TRUE(IsProblem(GetWith(port, "/users/me", bee_again.access), 403, {"permission-denied"}));
}

// Two admins demoting each other at the same moment: whatever the interleaving, an active admin
// is left (the check runs inside the writing transaction).
TEST(IdentityAuthz, RacingAdminsCannotRemoveTheLastAdmin) {
  auto identity = StartIdentity({"--ip-free-failures", "100000"});
  const uint16_t port = identity.port();
  auto root_user = AdminUser(identity);
  auto root = Login(port, root_user);
  const std::string root_id = Str(Me(port, root.access), "id");
  for (int round = 0; round < 5; ++round) {
    auto bee = RegisterUser(port, UniqueEmail("racer"), "Racer");
    ASSERT_EQ(review::SetRolesCall(port, bee.id, {"admin"}, root.access)->status, 200);
    auto bee_tokens = Login(port, bee);
    Response a = Error{ErrorCode::kInternal, "not run"}, b = Error{ErrorCode::kInternal, "not run"};
    std::thread one(
        [&] { a = review::AdminPost(port, "/users/" + bee.id + "/deactivate", root.access); });
    std::thread two([&] {
      b = review::AdminPost(port, "/users/" + root_id + "/deactivate", bee_tokens.access);
    });
    one.join();
    two.join();
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(a->status == 200 && b->status == 200)
        << "both admins deactivated each other: " << a->body << " / " << b->body;
    EXPECT_TRUE(a->status == 200 || b->status == 200) << a->body << " / " << b->body;
    // Back to root as the only admin for the next round: whoever is left restores the other,
    // then root retires the racer.
    if (b->status == 200) {
      ASSERT_EQ(
          review::AdminPost(port, "/users/" + root_id + "/activate", bee_tokens.access)->status,
          200);
      root = Login(port, root_user);
    }
    ASSERT_EQ(review::SetRolesCall(port, bee.id, {"customer"}, root.access)->status, 200);
  }
}

// --- found in review: throttling holds under parallel requests ---------------------------------

TEST(IdentityThrottling, ParallelGuessesCannotRacePastTheCount) {
  auto identity = StartIdentity(
      {"--login-free-failures", "5", "--ip-free-failures", "100000", "--login-delay-base", "20s"},
      {}, 8192);
  auto user = RegisterUser(identity.port(), UniqueEmail("parallel"), "Parallel");
  constexpr int kParallel = 24;
  std::vector<int> statuses(kParallel, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kParallel; ++i) {
    threads.emplace_back([&, i] {
      auto r = LoginCall(identity.port(), user.email, "Wrong-Password-" + std::to_string(i));
      statuses[static_cast<size_t>(i)] = r ? r->status : 0;
    });
  }
  for (auto& t : threads) t.join();
  const auto checked = std::count(statuses.begin(), statuses.end(), 401);
  const auto refused = std::count(statuses.begin(), statuses.end(), 429);
  EXPECT_EQ(checked + refused, kParallel);
  EXPECT_LE(checked, 6) << "more guesses were checked than the free allowance (+1 in flight)";
  EXPECT_GE(refused, kParallel - 6);
}

TEST(IdentityThrottling, SignUpsThatHitTakenEmailsAreThrottledPerAddress) {
  auto identity = StartIdentity({"--ip-free-failures", "3", "--login-delay-base", "20s"});
  auto taken = RegisterUser(identity.port(), UniqueEmail("taken"), "Taken");
  int conflicts = 0, throttled = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = RegisterCall(identity.port(), taken.email, kPassword, "Prober");
    ASSERT_TRUE(r);
    conflicts += r->status == 409;
    if (r->status == 429) {
      ++throttled;
      EXPECT_GE(RetryAfterSeconds(*r), 1);
    }
  }
  EXPECT_EQ(conflicts, 4) << "3 free, the 4th locks the address";
  EXPECT_EQ(throttled, 6);
}

TEST(IdentityThrottling, CurrentPasswordGuessesAreThrottled) {
  auto identity = StartIdentity(
      {"--login-free-failures", "3", "--ip-free-failures", "100000", "--login-delay-base", "20s"});
  auto user = RegisterUser(identity.port(), UniqueEmail("oracle"), "Oracle");
  auto tokens = Login(identity.port(), user);
  int wrong = 0, throttled = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = SendJson(identity.port(), "PATCH", "/users/me",
                      boost::json::object{{"email", UniqueEmail("new")},
                                          {"current_password", "Guess-" + std::to_string(i)}},
                      {BearerHeader(tokens.access)});
    ASSERT_TRUE(r);
    wrong += r->status == 401;
    throttled += r->status == 429;
    if (r->status == 401) {
      EXPECT_EQ(r->Header("WWW-Authenticate").find("invalid_token"), std::string::npos)
          << "the access token is fine: clients must not throw it away";
    }
  }
  EXPECT_EQ(wrong, 4);
  EXPECT_EQ(throttled, 6);
}

// --- found in review: the bootstrap admin --------------------------------------------------------

TEST(IdentityProcess, BootstrapFindsTheAdminByIdAfterAnEmailChange) {
  auto identity = StartIdentity();
  auto admin_user = AdminUser(identity);
  auto admin_file = ReadJsonFile(SecretsDir(identity) + "/admin.json");
  const std::string admin_id = Str(admin_file, "user_id");
  ASSERT_FALSE(admin_id.empty());
  auto admin = Login(identity.port(), admin_user);
  EXPECT_EQ(Str(Me(identity.port(), admin.access), "id"), admin_id);
  const std::string new_email = UniqueEmail("renamed-admin");
  auto changed =
      SendJson(identity.port(), "PATCH", "/users/me",
               boost::json::object{{"email", new_email}, {"current_password", admin_user.password}},
               {BearerHeader(admin.access)});
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->status, 200) << changed->body;

  identity.Restart(IdentityArgs());
  auto old_email_login = LoginCall(identity.port(), admin_user.email, admin_user.password);
  EXPECT_TRUE(IsProblem(old_email_login, 401, {"unauthenticated"}))
      << "a restart must not create a second admin from the stale admin.json";
  auto relogin = Login(identity.port(), new_email, admin_user.password);
  EXPECT_EQ(Str(Me(identity.port(), relogin.access), "id"), admin_id);
}

}  // namespace
}  // namespace mercato::identity::component
