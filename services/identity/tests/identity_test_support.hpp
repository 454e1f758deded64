// Shared helpers of identity's component tests (identity_component_test.cpp and
// identity_events_test.cpp): start the real binary with cheap password hashing, register and log
// in over HTTP, decode and forge JWTs, and read the files the service writes under its data dir.
// Helpers named after an action throw std::runtime_error when the service does not answer as
// the happy path needs; GoogleTest reports that as a failure of the test that called them.
//
//   auto identity = StartIdentity();
//   auto ada = RegisterUser(identity.port(), UniqueEmail("ada"), "Ada");
//   auto tokens = Login(identity.port(), ada.email, ada.password);
//   auto payload = JwtPart(tokens.access, 1);                       // the claims, as JSON
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/http/blocking_client.hpp"
#include "mercato/security/base64url.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/security/keys.hpp"
#include "mercato/security/secrets.hpp"
#include "mercato/testing/http_json.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::identity::component {

using namespace std::chrono_literals;
// The generic HTTP and JSON helpers come from libs/testing (shared by every service's tests).
using testing::BearerHeader;
using testing::BodyObject;
using testing::Call;
using testing::Describe;
using testing::Headers;
using testing::Int;
using testing::IsProblem;
using testing::kProblemTypeBase;
using testing::ParseJson;
using testing::PostJson;
using testing::ProblemField;
using testing::Response;
using testing::SendJson;
using testing::Str;
using testing::StringArray;

// A password the policy accepts (12+ characters, not common, unrelated to any test email).
inline constexpr std::string_view kPassword = "Quokka-Lantern-Orbit-47";
inline constexpr std::string_view kIssuer = "mercato-identity";
inline constexpr std::string_view kAudience = "mercato";

inline constexpr auto kStartTimeout = std::chrono::seconds(60);

// --- starting the service ----------------------------------------------------------------------

// Flags every test passes: the bus off unless a NATS URL is given, and cheap Argon2id so the
// suite stays fast (`memory_kib` is raised only by the timing test).
inline std::vector<std::string> IdentityArgs(const std::vector<std::string>& extra = {},
                                             const std::string& nats_url = {},
                                             int memory_kib = 1024) {
  std::vector<std::string> args{"--nats-url=" + nats_url, "--password-memory-kib",
                                std::to_string(memory_kib), "--password-iterations", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

inline testing::ServiceProcess StartIdentity(const std::vector<std::string>& extra = {},
                                             const std::string& nats_url = {},
                                             int memory_kib = 1024) {
  return testing::ServiceProcess::Start("identity", IdentityArgs(extra, nats_url, memory_kib),
                                        kStartTimeout);
}

// ServiceProcess passes --data-dir <its temp dir>/data.
inline std::string DataDir(const testing::ServiceProcess& service) {
  return service.data_dir() + "/data";
}
inline std::string SecretsDir(const testing::ServiceProcess& service) {
  return DataDir(service) + "/secrets";
}

// --- files -------------------------------------------------------------------------------------

// The whole file as bytes; empty when it does not exist (a -wal or -shm file may not).
inline std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline boost::json::object ReadJsonFile(const std::filesystem::path& path) {
  std::string text = ReadFileBytes(path);
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    throw std::runtime_error("not a JSON object file: " + path.string());
  }
  return value.as_object();
}

// Permission bits (e.g. 0600); 0 when the file does not exist.
inline unsigned FileMode(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<unsigned>(st.st_mode) & 07777u;
}

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// --- JSON --------------------------------------------------------------------------------------

inline bool HasString(const std::vector<std::string>& values, std::string_view wanted) {
  return std::find(values.begin(), values.end(), wanted) != values.end();
}

// --- HTTP --------------------------------------------------------------------------------------

// GET with a bearer token (none when `token` is empty).
inline Response GetWith(uint16_t port, std::string path, std::string_view token,
                        Headers headers = {}) {
  if (!token.empty()) headers.push_back(BearerHeader(token));
  return Call(port, "GET", std::move(path), {}, std::move(headers));
}

// --- users and tokens --------------------------------------------------------------------------

// Lower-case and unique per call and per process, so tests sharing one service never collide.
inline std::string Unique() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "x" + std::to_string(counter.fetch_add(1)) + "x" +
         security::Sha256Hex(security::RandomBytes(8)).substr(0, 8);
}

inline std::string UniqueEmail(std::string_view tag) {
  return std::string(tag) + "-" + Unique() + "@example.com";
}

struct TestUser {
  std::string id;
  std::string email;
  std::string password;
  std::string name;
  boost::json::object document;  // the user document the registration answered
};

struct Tokens {
  std::string access;
  std::string refresh;
  boost::json::object body;
};

inline Response RegisterCall(uint16_t port, std::string_view email, std::string_view password,
                             std::string_view name) {
  return PostJson(port, "/auth/register",
                  boost::json::object{{"email", email}, {"password", password}, {"name", name}});
}

inline TestUser RegisterUser(uint16_t port, std::string email, std::string name = "Test User",
                             std::string password = std::string(kPassword)) {
  auto r = RegisterCall(port, email, password, name);
  if (!r || r->status != 201) {
    throw std::runtime_error("register " + email + ": " + Describe(r));
  }
  boost::json::value value = ParseJson(r->body);
  if (!value.is_object() || Str(value.as_object(), "id").empty()) {
    throw std::runtime_error("register " + email + ": no id in " + r->body);
  }
  TestUser user;
  user.document = value.as_object();
  user.id = Str(user.document, "id");
  user.email = std::move(email);
  user.password = std::move(password);
  user.name = std::move(name);
  return user;
}

inline Response LoginCall(uint16_t port, std::string_view email, std::string_view password) {
  return PostJson(port, "/auth/login",
                  boost::json::object{{"email", email}, {"password", password}});
}

inline Tokens TokensFrom(const Response& r, std::string_view what) {
  if (!r || r->status != 200) throw std::runtime_error(std::string(what) + ": " + Describe(r));
  boost::json::value value = ParseJson(r->body);
  if (!value.is_object()) throw std::runtime_error(std::string(what) + ": not JSON: " + r->body);
  Tokens tokens;
  tokens.body = value.as_object();
  tokens.access = Str(tokens.body, "access_token");
  tokens.refresh = Str(tokens.body, "refresh_token");
  if (tokens.access.empty()) throw std::runtime_error(std::string(what) + ": no access_token");
  return tokens;
}

inline Tokens Login(uint16_t port, std::string_view email, std::string_view password) {
  return TokensFrom(LoginCall(port, email, password), "login " + std::string(email));
}
inline Tokens Login(uint16_t port, const TestUser& user) {
  return Login(port, user.email, user.password);
}

inline Response RefreshCall(uint16_t port, std::string_view refresh_token) {
  return PostJson(port, "/auth/refresh", boost::json::object{{"refresh_token", refresh_token}});
}
inline Response LogoutCall(uint16_t port, std::string_view refresh_token) {
  return PostJson(port, "/auth/logout", boost::json::object{{"refresh_token", refresh_token}});
}

// The first admin, from the secrets/admin.json the service wrote at first start.
inline TestUser AdminUser(const testing::ServiceProcess& service) {
  auto admin = ReadJsonFile(SecretsDir(service) + "/admin.json");
  TestUser user;
  user.email = Str(admin, "email");
  user.password = Str(admin, "password");
  return user;
}

// The current user document of the token's holder (GET /users/me); throws unless 200.
inline boost::json::object Me(uint16_t port, std::string_view token) {
  auto r = GetWith(port, "/users/me", token);
  if (!r || r->status != 200) throw std::runtime_error("GET /users/me: " + Describe(r));
  return BodyObject(*r);
}

// --- JWTs --------------------------------------------------------------------------------------

inline std::vector<std::string> SplitJwt(std::string_view token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = token.find('.', start);
    parts.emplace_back(
        token.substr(start, dot == std::string_view::npos ? token.npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// Part 0 (the JOSE header) or 1 (the claims) of a compact JWS, decoded; throws when malformed.
inline boost::json::object JwtPart(std::string_view token, int index) {
  auto parts = SplitJwt(token);
  if (parts.size() != 3)
    throw std::runtime_error("not a compact JWS: " + std::to_string(parts.size()) + " parts");
  auto bytes = security::Base64UrlDecode(parts.at(static_cast<size_t>(index)));
  if (!bytes) throw std::runtime_error("JWT part is not base64url: " + bytes.error().message);
  boost::json::value value = ParseJson(*bytes);
  if (!value.is_object()) throw std::runtime_error("JWT part is not a JSON object: " + *bytes);
  return value.as_object();
}

inline std::string EncodeJsonPart(const boost::json::object& object) {
  return security::Base64UrlEncode(boost::json::serialize(object));
}

// The kids published at /.well-known/jwks.json; throws unless 200.
inline std::vector<std::string> JwksKids(uint16_t port) {
  auto r = Call(port, "GET", "/.well-known/jwks.json");
  if (!r || r->status != 200) throw std::runtime_error("GET jwks: " + Describe(r));
  boost::json::value value = ParseJson(r->body);
  std::vector<std::string> kids;
  if (!value.is_object() || !value.as_object().contains("keys")) {
    throw std::runtime_error("jwks without keys: " + r->body);
  }
  for (const auto& key : value.as_object().at("keys").as_array()) {
    if (key.is_object()) kids.push_back(Str(key.as_object(), "kid"));
  }
  return kids;
}

struct SigningKey {
  std::string kid;
  security::KeyPtr key;
};

// The key the service signs with now, from secrets/jwt-keys.json:
// {"keys": [{"kid", "private_key_pem", "created_at", "activates_at"}]}; the signing key is the
// last one (by activation) whose activates_at has passed.
inline SigningKey CurrentSigningKey(const testing::ServiceProcess& service) {
  auto file = ReadJsonFile(SecretsDir(service) + "/jwt-keys.json");
  const boost::json::value* keys = file.if_contains("keys");
  if (keys == nullptr || !keys->is_array() || keys->as_array().empty()) {
    throw std::runtime_error("jwt-keys.json lacks keys");
  }
  const WallTime now = Clock::Real().WallNow();
  const boost::json::object* active = nullptr;
  WallTime active_at{};
  for (const auto& entry : keys->as_array()) {
    if (!entry.is_object()) continue;
    WallTime at{};
    if (!ParseRfc3339(Str(entry.as_object(), "activates_at"), at) || at > now) continue;
    if (active == nullptr || at >= active_at) {
      active = &entry.as_object();
      active_at = at;
    }
  }
  if (active == nullptr) throw std::runtime_error("jwt-keys.json has no active key");
  auto key = security::LoadPrivateKeyPem(Str(*active, "private_key_pem"));
  if (!key) throw std::runtime_error("the active key does not load: " + key.error().message);
  return SigningKey{Str(*active, "kid"), *key};
}

// Claims of a valid access token for `subject`, as identity issues them; tests then break one.
inline security::Claims AccessClaims(std::string subject,
                                     std::vector<std::string> roles = {"customer"}) {
  auto now = std::chrono::system_clock::now();
  security::Claims claims;
  claims.issuer = std::string(kIssuer);
  claims.audience = {std::string(kAudience)};
  claims.subject = std::move(subject);
  claims.roles = std::move(roles);
  claims.jti = security::RandomToken(16);
  claims.token_use = "access";
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + std::chrono::minutes(5);
  return claims;
}

inline std::string SignToken(const security::Claims& claims, const security::RsaKey& key,
                             std::string_view kid) {
  auto token = security::SignRs256(claims, key, kid);
  if (!token) throw std::runtime_error("SignRs256: " + token.error().message);
  return *token;
}

}  // namespace mercato::identity::component
