#include "app/identity_app.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>

#include "app/refresh_tokens.hpp"
#include "mercato/core/id.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/json_fields.hpp"
#include "mercato/http/server.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/messaging/outbox.hpp"
#include "mercato/security/authz.hpp"
#include "mercato/security/base64url.hpp"
#include "mercato/security/secrets.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"

namespace mercato::identity::app {

namespace json = boost::json;
namespace fs = std::filesystem;
using mercato::storage::Connection;
using namespace std::chrono_literals;

config::Schema Schema() {
  auto schema = service::BaseSchema(8101);
  messaging::AddConfig(schema, "nats://127.0.0.1:4222");
  schema.String("issuer", "mercato-identity", "the tokens' iss claim")
      .String("audience", "mercato", "the tokens' aud claim")
      .Duration("access-token-ttl", "15m", "lifetime of access tokens")
      .Duration("refresh-token-ttl", "720h",
                "lifetime of refresh tokens (each use issues a new one)")
      .Int("password-memory-kib", 19456, "Argon2id memory cost in KiB (OWASP: 19456)", 1024,
           1024 * 1024)
      .Int("password-iterations", 2, "Argon2id passes (OWASP: 2)", 1, 64)
      .Int("login-free-failures", 5, "failed logins per account before delays start", 1, 1000)
      .Int("ip-free-failures", 20, "failed logins per client address before delays start", 1,
           100000)
      .Duration("login-delay-base", "1s",
                "delay after the first failure past the free ones; doubles each time")
      .Duration("login-delay-max", "15m", "longest login delay")
      .String("admin-email", "admin@mercato.local", "email of the admin created at first start")
      .String("service-clients",
              "gateway,catalog,inventory,orders,payments,delivery,notifications,analytics",
              "OAuth clients (client-credentials grant) whose secrets are generated into "
              "secrets/clients/")
      .Int("user-cache-size", 10000,
           "users kept in memory for reads (0: every read goes to SQLite)", 0, 10000000)
      .Duration(
          "key-activation-delay", "60s",
          "a rotated-in signing key is published this long before it signs (longer than every "
          "service's jwks-refresh-interval, so their caches have it first)")
      .Duration("key-reload-interval", "10s",
                "how often signing and PII keys are reloaded after a rotation (and expired refresh "
                "tokens purged)");
  return schema;
}

std::vector<mercato::storage::Migration> AllMigrations() {
  std::vector<mercato::storage::Migration> all = storage::Migrations();  // migrations/*.sql
  const auto& outbox = messaging::Migrations();
  all.insert(all.end(), outbox.begin(), outbox.end());
  return all;
}

SecretPaths SecretsUnder(const std::string& data_dir) {
  return SecretPaths{fs::path(data_dir) / "secrets"};
}

namespace {

WallTime Now() { return Clock::Real().WallNow(); }

std::string ETagOf(std::int64_t version) { return "\"" + std::to_string(version) + "\""; }

// 429 with Retry-After in whole seconds (at least 1).
http::Response TooManyAttempts(Duration wait) {
  auto seconds = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
  return http::Problem(ErrorCode::kResourceExhausted, "too many failed attempts; retry later")
      .WithHeader("Retry-After", std::to_string(seconds));
}

http::Response UserResponse(int status, const UserView& user) {
  return http::Json(status, ToJson(user)).WithHeader("ETag", ETagOf(user.version));
}

// Rejects members other than `allowed`, so a typo ("emial") is an error, not a silent no-op.
Result<void> OnlyFields(const json::object& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error{ErrorCode::kInvalidArgument, "unknown field " + std::string(key),
                   std::string(key)};
    }
  }
  return Ok();
}

// problem+json with OAuth 2.0's "error" member (RFC 6749 §5.2) for /oauth/token clients.
http::Response OAuthProblem(ErrorCode code, std::string_view oauth_error, std::string detail) {
  auto response = http::Problem(code, std::move(detail));
  std::error_code ec;
  auto body = json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    body.as_object()["error"] = oauth_error;
    response.body = json::serialize(body);
  }
  if (code == ErrorCode::kUnauthenticated)
    response.headers.Set("WWW-Authenticate", "Basic realm=\"mercato\"");
  return response;
}

std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = http::PercentDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : http::PercentDecode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));  // the first occurrence wins
  }
  return out;
}

// "Basic base64(id:secret)" → {id, secret}, each form-decoded (RFC 6749 §2.3.1).
std::optional<std::pair<std::string, std::string>> BasicCredentials(
    const http::RequestContext& ctx) {
  auto header = ctx.Header("Authorization");
  if (!header || header->size() < 6) return std::nullopt;
  std::string scheme(header->substr(0, 6));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme != "basic ") return std::nullopt;
  std::string text(header->substr(6));
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  while (!text.empty() && text.back() == '=') text.pop_back();
  auto decoded = security::Base64UrlDecode(text);
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{http::PercentDecode(decoded->substr(0, colon), true),
                   http::PercentDecode(decoded->substr(colon + 1), true)};
}

// Inside the transaction that changed `user`'s roles or active flag, after the read model was
// updated: refuses (rolling everything back) a change that leaves no active admin, however the
// requests raced.
Result<void> RequireAnActiveAdmin(Connection& tx, const domain::User&) {
  auto rows = tx.Query("SELECT count(*) FROM users WHERE active = 1 AND roles LIKE '%\"admin\"%'");
  if (!rows) return rows.error();
  if (rows->rows[0].Int(0) == 0) {
    return Error{ErrorCode::kFailedPrecondition, "this would leave no active admin"};
  }
  return Ok();
}

json::value RedactSecrets(std::string_view type, json::value data) {
  if ((type == domain::UserRegistered::kType || type == domain::PasswordChanged::kType) &&
      data.is_object()) {
    if (auto* hash = data.as_object().if_contains("password_hash")) *hash = "[redacted]";
  }
  return data;
}

Result<int> PageParam(const http::RequestContext& ctx, std::string_view name, int fallback,
                      int max) {
  auto text = ctx.Query(name);
  if (!text) return fallback;
  char* end = nullptr;
  long value = std::strtol(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || value < 1 || value > max) {
    return Error{ErrorCode::kInvalidArgument,
                 std::string(name) + " must be an integer in 1.." + std::to_string(max),
                 std::string(name)};
  }
  return static_cast<int>(value);
}

}  // namespace

IdentityApp::IdentityApp(service::Service& service)
    : service_(service),
      logins_(service.metrics().AddCounter("mercato_identity_logins_total",
                                           "Login attempts by outcome", {"outcome"})),
      refreshes_(service.metrics().AddCounter(
          "mercato_identity_refreshes_total",
          "Refresh-token uses by outcome (reused: a family revoked)", {"outcome"})),
      tokens_issued_(service.metrics().AddCounter("mercato_identity_tokens_issued_total",
                                                  "Access tokens signed, by kind", {"kind"})),
      registrations_(service.metrics()
                         .AddCounter("mercato_identity_registrations_total", "Accounts registered")
                         .WithLabels({})) {
  const auto& config = service.config();
  issuer_ = config.GetString("issuer");
  audience_ = config.GetString("audience");
  access_ttl_ = config.GetDuration("access-token-ttl");
  refresh_ttl_ = config.GetDuration("refresh-token-ttl");
  password_params_ = {static_cast<uint32_t>(config.GetInt("password-memory-kib")),
                      static_cast<uint32_t>(config.GetInt("password-iterations")), 1};
  secrets_ = SecretsUnder(service.data_dir());

  auto vault = PiiVault::Open(secrets_.dir);
  if (!vault) throw std::runtime_error("cannot open the PII keyring: " + vault.error().message);
  vault_ = std::move(*vault);
  // A retired signing key stays published while tokens it signed can still be valid.
  auto keep_retired = std::chrono::duration_cast<std::chrono::seconds>(access_ttl_) + 5min;
  auto keys = SigningKeys::LoadOrCreate(secrets_.signing_keys(), keep_retired, Clock::Real());
  if (!keys) throw std::runtime_error("cannot load the signing keys: " + keys.error().message);
  keys_ = std::move(*keys);
  verifier_ = std::make_unique<security::JwtVerifier>(
      security::JwtVerifier::Options{.issuer = issuer_, .audience = audience_}, *keys_,
      Clock::Real());
  auth_ = std::make_unique<service::Authenticator>(*verifier_);
  service.metrics().AddCallback(
      "mercato_identity_token_signature_checks_total",
      "RSA signature verifications of bearer tokens (cache misses; a repeated token is checked "
      "once)",
      [this] { return static_cast<double>(verifier_->SignatureVerifications()); }, true);
  repo_ = std::make_unique<UserRepository>(*vault_);
  users_cache_ =
      std::make_unique<UserCache>(static_cast<std::size_t>(config.GetInt("user-cache-size")));
  service.metrics().AddCallback(
      "mercato_identity_user_cache_hits_total", "Reads answered from the user cache",
      [this] { return static_cast<double>(users_cache_->hits()); }, true);
  service.metrics().AddCallback(
      "mercato_identity_user_cache_misses_total", "Reads that went to SQLite",
      [this] { return static_cast<double>(users_cache_->misses()); }, true);
  throttle_ = std::make_unique<LoginThrottle>(
      LoginThrottle::Options{
          .account_free_failures = static_cast<int>(config.GetInt("login-free-failures")),
          .address_free_failures = static_cast<int>(config.GetInt("ip-free-failures")),
          .base_delay = config.GetDuration("login-delay-base"),
          .max_delay = config.GetDuration("login-delay-max")},
      Clock::Real());

  auto dummy = security::HashPassword(security::RandomToken(16), password_params_);
  if (!dummy) throw std::runtime_error("cannot hash: " + dummy.error().message);
  dummy_password_hash_ = std::move(*dummy);

  OpenStorage(service.data_dir());
  std::vector<std::string> clients;
  {
    std::string list = config.GetString("service-clients");
    std::size_t start = 0;
    while (start <= list.size()) {
      auto comma = list.find(',', start);
      std::string name =
          list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) clients.push_back(std::move(name));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  LoadClients(clients);
  // The bus exists before the admin bootstrap so the first admin's events go to the outbox too.
  bus_ = std::make_unique<messaging::Bus>(
      service, *db_, std::vector{messaging::StreamSpec::ForContext("IDENTITY", "identity")});
  BootstrapAdmin();

  service.health().Add("sqlite", [this] {
    auto ping = db_->Ping();
    return ping ? obs::CheckResult::Up() : obs::CheckResult::Down(ping.error().message);
  });
  bus_->Start();

  AddRoutes(service.router());
  service.SetAdminGuard([this](http::RequestContext& ctx) -> Task<Result<void>> {
    auto caller = co_await CurrentCaller(ctx);
    if (!caller) co_return caller.error();
    co_return RequireCurrentRole(*caller, {"admin"});
  });
  service.server().Spawn(Maintenance(config.GetDuration("key-reload-interval")));
}

IdentityApp::~IdentityApp() = default;

void IdentityApp::OpenStorage(const std::string& data_dir) {
  auto db = mercato::storage::OpenSqlite({.path = data_dir + "/identity.db"});
  if (!db) throw std::runtime_error("cannot open identity.db: " + db.error().message);
  db_ = std::move(*db);
  if (auto applied = mercato::storage::ApplyMigrations(*db_, AllMigrations()); !applied) {
    throw std::runtime_error("cannot migrate identity.db: " + applied.error().message);
  }
}

// Each service client's secret lives in secrets/clients/<name>.json (0600), generated here on
// first start; identity keeps only the secrets' SHA-256 in memory.
void IdentityApp::LoadClients(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    fs::path file = secrets_.clients() / (name + ".json");
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      json::object doc{{"client_id", name}, {"client_secret", security::RandomToken(32)}};
      if (auto written = security::WriteSecretFile(file, json::serialize(doc) + "\n"); !written) {
        throw std::runtime_error(written.error().message);
      }
    }
    auto text = security::ReadSecretFile(file);
    if (!text) throw std::runtime_error(text.error().message);
    auto doc = json::parse(*text, ec);
    const auto* secret =
        !ec && doc.is_object() ? doc.as_object().if_contains("client_secret") : nullptr;
    if (!secret || !secret->is_string() || secret->as_string().size() < 32) {
      throw std::runtime_error(file.string() + ": needs a client_secret of at least 32 characters");
    }
    client_secret_hashes_[name] = security::Sha256Hex(secret->as_string());
  }
}

// The first admin. On first start a random password and a fresh user id are written to
// secrets/admin.json (0600) before the account is created, so a crash in between is repaired by
// the next start. The account is found again by its id (its email may have changed since). If
// no active admin is left at all (they were demoted or deactivated), the bootstrap account gets
// its admin role back and is reactivated: the operator holding the secrets file can always get
// in, and nobody else can.
void IdentityApp::BootstrapAdmin() {
  std::string email;
  std::string password;
  std::string user_id;
  std::error_code ec;
  auto any_admin = db_->ReadBlocking([this](Connection& c) { return repo_->AnyAdmin(c); });
  if (!any_admin) throw std::runtime_error(any_admin.error().message);
  if (fs::exists(secrets_.admin(), ec)) {
    auto text = security::ReadSecretFile(secrets_.admin());
    if (!text) throw std::runtime_error(text.error().message);
    auto doc = json::parse(*text, ec);
    const json::object* o = !ec ? doc.if_object() : nullptr;
    if (!o || !o->contains("email") || !o->at("email").is_string() || !o->contains("password") ||
        !o->at("password").is_string()) {
      throw std::runtime_error(secrets_.admin().string() +
                               ": needs string members email and password");
    }
    email = std::string(o->at("email").as_string());
    password = std::string(o->at("password").as_string());
    if (const auto* id = o->if_contains("user_id"); id && id->is_string())
      user_id = std::string(id->as_string());
  } else {
    if (*any_admin) return;  // the operator removed the file after use: nothing to do
    email = service_.config().GetString("admin-email");
    password = security::RandomToken(18);
    user_id = NewId();
    json::object doc{{"email", email}, {"password", password}, {"user_id", user_id}};
    if (auto written = security::WriteSecretFile(secrets_.admin(), json::serialize(doc) + "\n");
        !written) {
      throw std::runtime_error(written.error().message);
    }
  }
  auto normalized = domain::ParseEmail(email);
  if (!normalized) throw std::runtime_error("admin email: " + normalized.error().message);
  if (user_id.empty()) {  // a file written before ids were recorded: find the account by email
    auto by_email =
        db_->ReadBlocking([&](Connection& c) { return repo_->FindByEmail(c, *normalized); });
    if (!by_email) throw std::runtime_error(by_email.error().message);
    user_id = *by_email ? (*by_email)->id : NewId();
  }
  const Publication publication{bus_->enabled(), std::nullopt};
  auto existing = db_->ReadBlocking([&](Connection& c) { return repo_->Load(c, user_id); });
  if (existing) {
    if (*any_admin) return;
    const WallTime now = Now();
    domain::UserEvents events;
    if (!existing->active()) {
      auto activated = existing->Activate(now);
      if (!activated) throw std::runtime_error("admin: " + activated.error().message);
      events = std::move(*activated);
    }
    auto active = domain::Rehydrate(*existing, events);
    if (!active) throw std::runtime_error(active.error().message);
    std::vector<std::string> roles{"admin"};
    for (auto role : active->roles()) {
      if (role != domain::Role::kAdmin) roles.emplace_back(domain::ToString(role));
    }
    auto granted = active->ChangeRoles(roles, now);
    if (!granted) throw std::runtime_error("admin: " + granted.error().message);
    events.insert(events.end(), granted->begin(), granted->end());
    auto saved = db_->TransactBlocking(
        [&](Connection& tx) { return repo_->Save(tx, *existing, events, now, publication); });
    if (!saved)
      throw std::runtime_error("cannot restore the first admin: " + saved.error().message);
    obs::Logger().Warn("no active admin was left: the bootstrap account is an active admin again",
                       {{"user_id", user_id}, {"file", secrets_.admin().string()}});
    return;
  }
  if (existing.error().code != ErrorCode::kNotFound)
    throw std::runtime_error(existing.error().message);

  auto hash = security::HashPassword(password, password_params_);
  if (!hash) throw std::runtime_error(hash.error().message);
  const WallTime now = Now();
  auto events = domain::Register(user_id, *normalized, "Administrator", *hash, now);
  if (!events) throw std::runtime_error("admin: " + events.error().message);
  auto registered = domain::Rehydrate(*events);
  if (!registered) throw std::runtime_error(registered.error().message);
  auto roles = registered->ChangeRoles({"admin"}, now);
  if (!roles) throw std::runtime_error(roles.error().message);
  events->insert(events->end(), roles->begin(), roles->end());
  auto saved = db_->TransactBlocking(
      [&](Connection& tx) { return repo_->Save(tx, domain::User{}, *events, now, publication); });
  if (!saved) throw std::runtime_error("cannot create the first admin: " + saved.error().message);
  obs::Logger().Info("first admin created; credentials in secrets file",
                     {{"user_id", saved->id()}, {"file", secrets_.admin().string()}});
}

void IdentityApp::AddRoutes(http::Router& r) {
  using M = http::Method;
  auto bind = [this](Task<http::Response> (IdentityApp::*handler)(http::RequestContext&)) {
    return [this, handler](http::RequestContext& ctx) { return (this->*handler)(ctx); };
  };
  r.Add(M::kPost, "/auth/register", bind(&IdentityApp::Register));
  r.Add(M::kPost, "/auth/login", bind(&IdentityApp::Login));
  r.Add(M::kPost, "/auth/refresh", bind(&IdentityApp::Refresh));
  r.Add(M::kPost, "/auth/logout", bind(&IdentityApp::Logout));
  r.Add(M::kPost, "/oauth/token", bind(&IdentityApp::ClientCredentials));
  r.Add(M::kGet, "/.well-known/jwks.json", bind(&IdentityApp::Jwks));
  r.Add(M::kGet, "/users/me", bind(&IdentityApp::GetMe));
  r.Add(M::kPatch, "/users/me", bind(&IdentityApp::PatchMe));
  r.Add(M::kGet, "/users/me/preferences", bind(&IdentityApp::GetPreferences));
  r.Add(M::kPut, "/users/me/preferences", bind(&IdentityApp::PutPreferences));
  r.Add(M::kGet, "/users/me/addresses", bind(&IdentityApp::ListAddresses));
  r.Add(M::kPost, "/users/me/addresses", bind(&IdentityApp::AddAddress));
  r.Add(M::kDelete, "/users/me/addresses/{address_id}", bind(&IdentityApp::RemoveAddress));
  r.Add(M::kGet, "/users", bind(&IdentityApp::FindUsers));
  r.Add(M::kGet, "/users/{id}", bind(&IdentityApp::GetUser));
  r.Add(M::kGet, "/users/{id}/events", bind(&IdentityApp::GetUserEvents));
  r.Add(M::kPost, "/users/{id}/roles", bind(&IdentityApp::SetRoles));
  r.Add(M::kPost, "/users/{id}/activate",
        [this](http::RequestContext& ctx) { return SetActive(ctx, true); });
  r.Add(M::kPost, "/users/{id}/deactivate",
        [this](http::RequestContext& ctx) { return SetActive(ctx, false); });
}

// Picks up key rotations done by `identity rotate-*` and purges long-expired refresh tokens.
Task<void> IdentityApp::Maintenance(Duration every) {
  auto last_purge = std::chrono::steady_clock::now() - 2h;
  for (;;) {
    co_await http::SleepFor(every);
    std::function<void()> reload = [keys = keys_, vault = vault_] {
      if (auto r = keys->ReloadIfChanged(); !r) {
        obs::Logger().Error("cannot reload signing keys", {{"error", r.error().message}});
      } else if (*r) {
        obs::Logger().Info("signing keys reloaded", {{"current_kid", keys->Current().first}});
      }
      if (auto r = vault->ReloadIfChanged(); !r) {
        obs::Logger().Error("cannot reload the PII keyring", {{"error", r.error().message}});
      } else if (*r) {
        obs::Logger().Info("PII keyring reloaded",
                           {{"current_key_id", int64_t{vault->CurrentKeyId()}}});
      }
    };
    co_await http::RunBlocking(std::move(reload));
    if (std::chrono::steady_clock::now() - last_purge >= 1h) {
      last_purge = std::chrono::steady_clock::now();
      auto purge = [](Connection& tx) { return PurgeExpired(tx, Now() - 24h); };
      auto purged = co_await db_->Transact(std::move(purge));
      if (!purged)
        obs::Logger().Error("refresh-token purge failed", {{"error", purged.error().message}});
    }
  }
}

Publication IdentityApp::PublicationFor(const http::RequestContext& ctx) const {
  return Publication{bus_->enabled(), ctx.trace()};
}

Result<std::string> IdentityApp::SignAccessToken(const std::string& subject,
                                                 const std::vector<std::string>& roles,
                                                 json::object extra) {
  const WallTime now = Now();
  security::Claims claims;
  claims.issuer = issuer_;
  claims.subject = subject;
  claims.audience = {audience_};
  claims.roles = roles;
  claims.jti = NewId();
  claims.token_use = "access";
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at =
      now + std::chrono::duration_cast<std::chrono::system_clock::duration>(access_ttl_);
  claims.extra = std::move(extra);
  auto [kid, key] = keys_->Current();
  return security::SignRs256(claims, *key, kid);
}

Result<json::object> IdentityApp::TokenResponse(const UserView& user,
                                                const std::string& refresh_token) {
  auto access = SignAccessToken(user.id, user.roles, {});
  if (!access) return access.error();
  tokens_issued_.WithLabels({"user"}).Inc();
  return json::object{
      {"access_token", *access},
      {"refresh_token", refresh_token},
      {"token_type", "Bearer"},
      {"expires_in", std::chrono::duration_cast<std::chrono::seconds>(access_ttl_).count()}};
}

Task<Result<domain::User>> IdentityApp::Modify(std::string user_id,
                                               std::optional<std::int64_t> expected_version,
                                               Command command, const http::RequestContext& ctx,
                                               AfterSave after_save) {
  auto load = [this, &user_id](Connection& c) { return repo_->Load(c, user_id); };
  auto user = co_await db_->Read(std::move(load));
  if (!user) co_return user.error();
  if (expected_version && *expected_version != user->version()) {
    co_return Error{ErrorCode::kAborted,
                    "the user is at version " + std::to_string(user->version()) + ", not " +
                        std::to_string(*expected_version) + "; reload and retry"};
  }
  const WallTime now = Now();
  auto events = command(*user, now);
  if (!events) co_return events.error();
  if (events->empty() && !after_save) co_return std::move(*user);
  Publication publication = PublicationFor(ctx);
  auto save = [&](Connection& tx) -> Result<domain::User> {
    auto saved = repo_->Save(tx, *user, *events, now, publication);
    if (!saved) return saved;
    if (after_save) {
      if (auto extra = after_save(tx, *saved); !extra) return extra.error();
    }
    return saved;
  };
  auto saved = co_await db_->Transact(std::move(save));
  if (saved) {
    users_cache_->PutWritten(ViewOf(*saved));
    if (!events->empty()) bus_->Notify();
  }
  co_return saved;
}

// ---- accounts and tokens ----------------------------------------------------------------------

Task<http::Response> IdentityApp::Register(http::RequestContext& ctx) {
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  if (auto only = OnlyFields(*body, {"email", "password", "name"}); !only)
    co_return http::Problem(only.error());
  auto email = http::StringMember(*body, "email");
  auto password = http::StringMember(*body, "password");
  auto name = http::StringMember(*body, "name");
  if (!email) co_return http::Problem(email.error());
  if (!password) co_return http::Problem(password.error());
  if (!name) co_return http::Problem(name.error());
  auto normalized = domain::ParseEmail(*email);
  if (!normalized) co_return http::Problem(normalized.error());
  if (auto policy = security::CheckPasswordPolicy(*password, *normalized); !policy) {
    co_return http::Problem(policy.error());
  }
  // Sign-ups that hit a taken email count against the client's address, so the 409 cannot be
  // used to test thousands of emails for accounts.
  const std::string address(ctx.remote_address());
  if (auto wait = throttle_->AddressRetryAfter(address); wait > Duration::zero())
    co_return TooManyAttempts(wait);
  // Validate the rest before paying for Argon2.
  const std::string id = NewId();
  auto probe = domain::Register(id, *normalized, *name, "$argon2id$probe", Now());
  if (!probe) co_return http::Problem(probe.error());
  auto find = [this, &normalized](Connection& c) { return repo_->FindByEmail(c, *normalized); };
  auto existing = co_await db_->Read(std::move(find));
  if (!existing) co_return http::Problem(existing.error());
  if (*existing) {
    throttle_->RecordAddressFailure(address);
    co_return http::Problem(ErrorCode::kAlreadyExists, "this email is already registered", "email");
  }

  Result<std::string> hash = Error{ErrorCode::kInternal, "not hashed"};
  std::function<void()> hashing = [&] {
    hash = security::HashPassword(*password, password_params_);
  };
  co_await http::RunBlocking(std::move(hashing));
  if (!hash) co_return http::Problem(hash.error());

  const WallTime now = Now();
  auto events = domain::Register(id, *normalized, *name, *hash, now);
  if (!events) co_return http::Problem(events.error());
  Publication publication = PublicationFor(ctx);
  auto save = [&](Connection& tx) {
    return repo_->Save(tx, domain::User{}, *events, now, publication);
  };
  auto saved = co_await db_->Transact(std::move(save));
  if (!saved) {  // already_exists when a racing sign-up won
    if (saved.error().code == ErrorCode::kAlreadyExists) throttle_->RecordAddressFailure(address);
    co_return http::Problem(saved.error());
  }
  users_cache_->PutWritten(ViewOf(*saved));
  bus_->Notify();
  registrations_.Inc();
  ctx.Log().Info("user registered", {{"user_id", saved->id()}});
  co_return UserResponse(201, ViewOf(*saved)).WithHeader("Location", "/users/" + saved->id());
}

Task<http::Response> IdentityApp::Login(http::RequestContext& ctx) {
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  auto email = http::StringMember(*body, "email");
  auto password = http::StringMember(*body, "password");
  if (!email) co_return http::Problem(email.error());
  if (!password) co_return http::Problem(password.error());
  if (password->size() > 1024)
    co_return http::Problem(ErrorCode::kInvalidArgument, "password is too long", "password");

  const std::string normalized = domain::NormalizeEmail(*email);
  auto account = vault_->ThrottleKey(normalized);
  if (!account) co_return http::Problem(account.error());
  const std::string address(ctx.remote_address());
  if (auto wait = throttle_->Begin(*account, address); wait > Duration::zero()) {
    logins_.WithLabels({"throttled"}).Inc();
    co_return TooManyAttempts(wait);
  }
  // Admitted: the attempt is decided (Finish) on every path below, or the account would stay
  // "in flight" and refuse every later login.
  bool decided = false;
  struct Settle {
    LoginThrottle& throttle;
    const std::string& account;
    const std::string& address;
    bool& decided;
    ~Settle() {
      if (!decided) throttle.Finish(account, address, true);  // an internal error is no guess
    }
  } settle{*throttle_, *account, address, decided};
  auto finish = [&](bool success) {
    throttle_->Finish(*account, address, success);
    decided = true;
  };

  std::optional<UserView> user;
  if (domain::ParseEmail(normalized)) {
    auto find = [this, &normalized](Connection& c) { return repo_->FindByEmail(c, normalized); };
    auto found = co_await db_->Read(std::move(find));
    if (!found) co_return http::Problem(found.error());
    user = std::move(*found);
  }
  // An unknown email costs the same Argon2 work as a wrong password: no timing oracle.
  bool verified = false;
  std::function<void()> verify = [&] {
    verified =
        security::VerifyPassword(*password, user ? user->password_hash : dummy_password_hash_) &&
        user.has_value();
  };
  co_await http::RunBlocking(std::move(verify));
  finish(verified);
  if (!verified) {
    logins_.WithLabels({"failure"}).Inc();
    ctx.Log().Info("login failed", {{"remote", address}});
    co_return http::Problem(ErrorCode::kUnauthenticated, "invalid email or password");
  }
  if (!user->active) {
    logins_.WithLabels({"deactivated"}).Inc();
    co_return http::Problem(ErrorCode::kPermissionDenied, "this account is deactivated");
  }
  // The session starts only if the password checked is still the account's and the account is
  // still active: a password change or a deactivation committed meanwhile wins.
  auto start = [this, id = user->id,
                hash = user->password_hash](Connection& tx) -> Result<std::string> {
    auto current = tx.Query("SELECT password_hash, active FROM users WHERE id = $1", {id});
    if (!current) return current.error();
    if (current->empty() || current->rows[0].String(0) != hash || current->rows[0].Int(1) == 0) {
      return Error{ErrorCode::kUnauthenticated, "invalid email or password"};
    }
    return StartFamily(tx, id, Now(), refresh_ttl_);
  };
  auto refresh = co_await db_->Transact(std::move(start));
  if (!refresh) co_return http::Problem(refresh.error());
  auto tokens = TokenResponse(*user, *refresh);
  if (!tokens) co_return http::Problem(tokens.error());
  logins_.WithLabels({"success"}).Inc();
  ctx.Log().Info("login", {{"user_id", user->id}});
  if (security::NeedsRehash(user->password_hash, password_params_))
    co_await Rehash(*user, *password, ctx);
  co_return http::Json(200, *tokens).WithHeader("Cache-Control", "no-store");
}

// After a login with a hash made at an older (cheaper) cost: store a hash at today's cost, so
// raising --password-memory-kib upgrades accounts as their owners log in. Best effort: the
// login has succeeded either way.
Task<void> IdentityApp::Rehash(const UserView& user, const std::string& password,
                               const http::RequestContext& ctx) {
  Result<std::string> hash = Error{ErrorCode::kInternal, "not hashed"};
  std::function<void()> hashing = [&] {
    hash = security::HashPassword(password, password_params_);
  };
  co_await http::RunBlocking(std::move(hashing));
  if (!hash) co_return;
  const std::string& old_hash = user.password_hash;
  Command command = [&hash, &old_hash](const domain::User& u,
                                       WallTime now) -> Result<domain::UserEvents> {
    if (u.password_hash() != old_hash) return domain::UserEvents{};  // changed meanwhile
    return u.ChangePassword(*hash, now);
  };
  AfterSave none;
  auto saved = co_await Modify(user.id, std::nullopt, std::move(command), ctx, std::move(none));
  if (!saved)
    ctx.Log().Warn("password rehash failed",
                   {{"user_id", user.id}, {"error", saved.error().message}});
}

Task<http::Response> IdentityApp::Refresh(http::RequestContext& ctx) {
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  auto presented = http::StringMember(*body, "refresh_token");
  if (!presented) co_return http::Problem(presented.error());
  auto rotate = [this, token = *presented](Connection& tx) {
    return Rotate(tx, token, Now(), refresh_ttl_);
  };
  auto outcome = co_await db_->Transact(std::move(rotate));
  if (!outcome) co_return http::Problem(outcome.error());
  if (outcome->status == RotateStatus::kReused) {
    refreshes_.WithLabels({"reused"}).Inc();
    ctx.Log().Warn("refresh token reused: family revoked", {{"family_id", outcome->family_id}});
    co_return service::AuthProblem(
        Error{ErrorCode::kUnauthenticated, "refresh token is not valid"});
  }
  if (outcome->status != RotateStatus::kRotated) {
    refreshes_.WithLabels({"invalid"}).Inc();
    co_return service::AuthProblem(
        Error{ErrorCode::kUnauthenticated, "refresh token is not valid"});
  }
  auto user = co_await FindUser(outcome->user_id);
  if (!user) co_return http::Problem(user.error());
  if (!*user || !(*user)->active) {
    refreshes_.WithLabels({"invalid"}).Inc();
    co_return service::AuthProblem(
        Error{ErrorCode::kUnauthenticated, "refresh token is not valid"});
  }
  auto tokens = TokenResponse(**user, outcome->token);
  if (!tokens) co_return http::Problem(tokens.error());
  refreshes_.WithLabels({"rotated"}).Inc();
  co_return http::Json(200, *tokens).WithHeader("Cache-Control", "no-store");
}

Task<http::Response> IdentityApp::Logout(http::RequestContext& ctx) {
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  auto presented = http::StringMember(*body, "refresh_token");
  if (!presented) co_return http::Problem(presented.error());
  auto revoke = [token = *presented](Connection& tx) {
    return RevokeFamilyOf(tx, token, Now(), "logout");
  };
  auto revoked = co_await db_->Transact(std::move(revoke));
  if (!revoked) co_return http::Problem(revoked.error());
  co_return http::Empty(204);  // also for an unknown token: logout is idempotent
}

Task<http::Response> IdentityApp::ClientCredentials(http::RequestContext& ctx) {
  auto type = ctx.Header("Content-Type");
  if (!type || type->find("application/x-www-form-urlencoded") == std::string_view::npos) {
    co_return OAuthProblem(ErrorCode::kInvalidArgument, "invalid_request",
                           "the body must be application/x-www-form-urlencoded");
  }
  auto form = ParseForm(ctx.Body());
  auto grant = form.find("grant_type");
  if (grant == form.end())
    co_return OAuthProblem(ErrorCode::kInvalidArgument, "invalid_request",
                           "grant_type is required");
  if (grant->second != "client_credentials") {
    co_return OAuthProblem(ErrorCode::kInvalidArgument, "unsupported_grant_type",
                           "only grant_type=client_credentials is supported");
  }
  std::string client_id;
  std::string client_secret;
  if (auto basic = BasicCredentials(ctx)) {
    std::tie(client_id, client_secret) = std::move(*basic);
  } else {
    client_id = form.count("client_id") ? form["client_id"] : "";
    client_secret = form.count("client_secret") ? form["client_secret"] : "";
  }
  auto known = client_secret_hashes_.find(client_id);
  // Hash and compare even for an unknown client id, so timing does not tell clients apart.
  const std::string presented = security::Sha256Hex(client_secret);
  const bool ok =
      security::ConstantTimeEquals(
          presented, known != client_secret_hashes_.end() ? known->second : std::string(64, '0')) &&
      known != client_secret_hashes_.end();
  if (!ok) {
    tokens_issued_.WithLabels({"service_refused"}).Inc();
    co_return OAuthProblem(ErrorCode::kUnauthenticated, "invalid_client",
                           "client authentication failed");
  }
  auto token = SignAccessToken(client_id, {"service"}, json::object{{"client_id", client_id}});
  if (!token) co_return http::Problem(token.error());
  tokens_issued_.WithLabels({"service"}).Inc();
  co_return http::Json(
      200, json::object{{"access_token", *token},
                        {"token_type", "Bearer"},
                        {"expires_in",
                         std::chrono::duration_cast<std::chrono::seconds>(access_ttl_).count()}})
      .WithHeader("Cache-Control", "no-store");
}

Task<http::Response> IdentityApp::Jwks(http::RequestContext&) {
  co_return http::RawJson(200, keys_->JwksJson()).WithHeader("Cache-Control", "public, max-age=60");
}

// ---- the caller's own profile ----------------------------------------------------------------

Task<Result<std::optional<UserView>>> IdentityApp::FindUser(std::string id) {
  if (auto hit = users_cache_->Get(id)) co_return std::optional<UserView>(std::move(*hit));
  const auto stamp =
      users_cache_->WriteStamp();  // a write committed after this makes the read stale
  auto find = [this, &id](Connection& c) { return repo_->Find(c, id); };
  auto user = co_await db_->Read(std::move(find));
  if (user && *user) users_cache_->PutRead(**user, stamp);
  co_return user;
}

Task<Result<IdentityApp::Caller>> IdentityApp::CurrentCaller(http::RequestContext& ctx) {
  auto token = auth_->Authenticate(ctx);
  if (!token) co_return token.error();
  Caller caller{std::move(*token), std::nullopt, false};
  if (security::HasRole(caller.token, "service")) {
    if (!client_secret_hashes_.contains(caller.token.subject)) {
      co_return Error{ErrorCode::kUnauthenticated, "unknown service client"};
    }
    caller.service = true;
    co_return caller;
  }
  auto user = co_await FindUser(caller.token.subject);
  if (!user) co_return user.error();
  if (!*user) co_return Error{ErrorCode::kUnauthenticated, "the token's user no longer exists"};
  if (!(*user)->active)
    co_return Error{ErrorCode::kPermissionDenied, "this account is deactivated"};
  caller.user = std::move(**user);
  co_return caller;
}

Result<void> IdentityApp::RequireCurrentRole(const Caller& caller,
                                             std::initializer_list<std::string_view> roles) {
  // Effective roles are those in the token AND in the stored row: a demotion acts at once, while
  // a grant needs a fresh token (least privilege either way).
  if (caller.user) {
    for (const auto& held : caller.user->roles) {
      if (std::find(roles.begin(), roles.end(), held) != roles.end() &&
          security::HasRole(caller.token, held)) {
        return Ok();
      }
    }
  }
  std::string names;
  for (auto role : roles) names += (names.empty() ? "" : " or ") + std::string(role);
  return Error{ErrorCode::kPermissionDenied, "this needs the " + names + " role"};
}

Task<Result<UserView>> IdentityApp::Me(http::RequestContext& ctx) {
  auto caller = co_await CurrentCaller(ctx);
  if (!caller) co_return caller.error();
  if (caller->service)
    co_return Error{ErrorCode::kPermissionDenied, "a service token has no user profile"};
  co_return std::move(*caller->user);
}

Task<http::Response> IdentityApp::GetMe(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  co_return UserResponse(200, *me);
}

Task<http::Response> IdentityApp::PatchMe(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  if (auto only = OnlyFields(*body, {"name", "email", "phone", "password", "current_password"});
      !only) {
    co_return http::Problem(only.error());
  }
  std::optional<std::int64_t> expected;
  if (auto if_match = ctx.Header("If-Match")) {
    std::string text(*if_match);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
      text = text.substr(1, text.size() - 2);
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < 1) {
      co_return http::Problem(ErrorCode::kInvalidArgument,
                              "If-Match must be an ETag of this API (\"<version>\")", "If-Match");
    }
    expected = v;
  }
  std::optional<std::string> name, email, phone, password;
  for (auto [key, slot] : {std::pair{"name", &name}, std::pair{"email", &email},
                           std::pair{"phone", &phone}, std::pair{"password", &password}}) {
    if (!body->contains(key)) continue;
    auto value = http::StringMember(*body, key);
    if (!value) co_return http::Problem(value.error());
    *slot = std::move(*value);
  }
  if (email) {
    auto parsed = domain::ParseEmail(*email);
    if (!parsed) co_return http::Problem(parsed.error());
    email = *parsed;
  }
  std::string new_hash;
  if (email || password) {
    // Changing how one logs in needs the current password: a stolen access token alone must not
    // be enough to take the account over.
    auto current = http::StringMember(*body, "current_password", false);
    if (!current || current->empty()) {
      co_return http::Problem(ErrorCode::kInvalidArgument,
                              "current_password is required to change email or password",
                              "current_password");
    }
    if (password) {
      auto policy = security::CheckPasswordPolicy(*password, email ? *email : me->email);
      if (!policy) co_return http::Problem(policy.error());
    }
    // Guesses at the current password are throttled like logins (a stolen access token must not
    // become an unlimited password oracle).
    auto account = vault_->ThrottleKey(me->email);
    if (!account) co_return http::Problem(account.error());
    const std::string address(ctx.remote_address());
    if (auto wait = throttle_->Begin(*account, address); wait > Duration::zero())
      co_return TooManyAttempts(wait);
    bool verified = false;
    Result<std::string> hashed = std::string();
    std::function<void()> work = [&] {
      verified = security::VerifyPassword(*current, me->password_hash);
      if (verified && password) hashed = security::HashPassword(*password, password_params_);
    };
    co_await http::RunBlocking(std::move(work));
    throttle_->Finish(*account, address, verified);
    // 401 without the invalid_token challenge: the access token is fine, the password is not.
    if (!verified)
      co_return http::Problem(ErrorCode::kUnauthenticated, "current_password is wrong",
                              "current_password");
    if (!hashed) co_return http::Problem(hashed.error());
    new_hash = std::move(*hashed);
  }
  Command command = [&](const domain::User& user, WallTime now) -> Result<domain::UserEvents> {
    domain::UserEvents all;
    domain::User state = user;
    auto step = [&](Result<domain::UserEvents> events) -> Result<void> {
      if (!events) return events.error();
      auto next = domain::Rehydrate(state, *events);
      if (!next) return next.error();
      state = std::move(*next);
      all.insert(all.end(), events->begin(), events->end());
      return Ok();
    };
    if (name) {
      if (auto r = step(state.ChangeName(*name, now)); !r) return r.error();
    }
    if (email) {
      if (auto r = step(state.ChangeEmail(*email, now)); !r) return r.error();
    }
    if (phone) {
      if (auto r = step(state.ChangePhone(*phone, now)); !r) return r.error();
    }
    if (!new_hash.empty()) {
      if (auto r = step(state.ChangePassword(new_hash, now)); !r) return r.error();
    }
    return all;
  };
  AfterSave after;
  if (!new_hash.empty()) {
    // A new password logs every other session out.
    after = [](Connection& tx, const domain::User& user) -> Result<void> {
      auto revoked = RevokeAllFor(tx, user.id(), Now(), "password_changed");
      if (!revoked) return revoked.error();
      return Ok();
    };
  }
  auto saved = co_await Modify(me->id, expected, std::move(command), ctx, std::move(after));
  if (!saved) co_return http::Problem(saved.error());
  co_return UserResponse(200, ViewOf(*saved));
}

Task<http::Response> IdentityApp::GetPreferences(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  co_return http::Json(200, me->preferences).WithHeader("ETag", ETagOf(me->version));
}

Task<http::Response> IdentityApp::PutPreferences(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  json::value preferences = std::move(*body);
  Command command = [&preferences](const domain::User& user, WallTime now) {
    return user.ChangePreferences(preferences, now);
  };
  AfterSave none;
  auto saved = co_await Modify(me->id, std::nullopt, std::move(command), ctx, std::move(none));
  if (!saved) co_return http::Problem(saved.error());
  co_return http::Json(200, saved->preferences()).WithHeader("ETag", ETagOf(saved->version()));
}

Task<http::Response> IdentityApp::ListAddresses(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  json::array items;
  for (const auto& a : me->addresses) items.push_back(AddressJson(a));
  co_return http::Json(200, json::object{{"items", std::move(items)}});
}

Task<http::Response> IdentityApp::AddAddress(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  if (auto only = OnlyFields(*body, {"label", "line1", "line2", "city", "postal_code", "country"});
      !only) {
    co_return http::Problem(only.error());
  }
  json::object with_id = *body;
  with_id["id"] = NewId();
  for (const char* optional : {"label", "line2", "postal_code"}) {
    if (!with_id.contains(optional)) with_id[optional] = "";
  }
  auto address = domain::AddressFromJson(with_id);
  // AddressFromJson reports stored-data problems as internal; from a client they are bad input.
  if (!address)
    co_return http::Problem(ErrorCode::kInvalidArgument, address.error().message,
                            address.error().field);
  Command command = [&address](const domain::User& user, WallTime now) {
    return user.AddAddress(*address, now);
  };
  AfterSave none;
  auto saved = co_await Modify(me->id, std::nullopt, std::move(command), ctx, std::move(none));
  if (!saved) co_return http::Problem(saved.error());
  for (const auto& a : saved->addresses()) {
    if (a.id == address->id) {
      co_return http::Json(201, AddressJson(a));
    }
  }
  co_return http::Problem(ErrorCode::kInternal, "the address was not stored");
}

Task<http::Response> IdentityApp::RemoveAddress(http::RequestContext& ctx) {
  auto me = co_await Me(ctx);
  if (!me) co_return service::AuthProblem(me.error());
  std::string address_id = ctx.PathParam("address_id");
  Command command = [&address_id](const domain::User& user, WallTime now) {
    return user.RemoveAddress(address_id, now);
  };
  AfterSave none;
  auto saved = co_await Modify(me->id, std::nullopt, std::move(command), ctx, std::move(none));
  if (!saved && saved.error().code == ErrorCode::kNotFound) {
    co_return http::Problem(ErrorCode::kNotFound, "no such address",
                            "address_id");  // never echo the input
  }
  if (!saved) co_return http::Problem(saved.error());
  co_return http::Empty(204);
}

// ---- other users (support, admin, services) --------------------------------------------------

Task<http::Response> IdentityApp::FindUsers(http::RequestContext& ctx) {
  auto caller = co_await CurrentCaller(ctx);
  if (!caller) co_return service::AuthProblem(caller.error());
  if (auto ok = RequireCurrentRole(*caller, {"support", "admin"}); !ok)
    co_return http::Problem(ok.error());
  auto email = ctx.Query("email");
  if (!email) co_return http::Problem(ErrorCode::kInvalidArgument, "email is required", "email");
  auto normalized = domain::ParseEmail(*email);
  if (!normalized) co_return http::Problem(normalized.error());
  auto find = [this, &normalized](Connection& c) { return repo_->FindByEmail(c, *normalized); };
  auto user = co_await db_->Read(std::move(find));
  if (!user) co_return http::Problem(user.error());
  json::array items;
  if (*user) items.push_back(ToJson(**user));
  const auto total = static_cast<std::int64_t>(items.size());
  co_return http::Json(
      200,
      json::object{{"items", std::move(items)}, {"page", 1}, {"page_size", 20}, {"total", total}});
}

Task<http::Response> IdentityApp::GetUser(http::RequestContext& ctx) {
  auto caller = co_await CurrentCaller(ctx);
  if (!caller) co_return service::AuthProblem(caller.error());
  std::string id = ctx.PathParam("id");
  // Someone else's profile is "not found" to a customer: no data, and no hint that it exists.
  const bool self = caller->user && caller->user->id == id;
  if (!self && !caller->service && !RequireCurrentRole(*caller, {"support", "admin"})) {
    co_return http::Problem(ErrorCode::kNotFound, "no such user", "id");
  }
  if (auto as_of_text = ctx.Query("as_of")) {
    WallTime as_of{};
    if (!ParseRfc3339(*as_of_text, as_of)) {
      co_return http::Problem(ErrorCode::kInvalidArgument, "as_of must be an RFC 3339 time",
                              "as_of");
    }
    auto load = [this, &id, as_of](Connection& c) { return repo_->LoadAsOf(c, id, as_of); };
    auto user = co_await db_->Read(std::move(load));
    if (!user) co_return http::Problem(user.error());
    co_return UserResponse(200, ViewOf(*user));
  }
  auto user = co_await FindUser(id);
  if (!user) co_return http::Problem(user.error());
  if (!*user) co_return http::Problem(ErrorCode::kNotFound, "no such user", "id");
  co_return UserResponse(200, **user);
}

Task<http::Response> IdentityApp::GetUserEvents(http::RequestContext& ctx) {
  auto caller = co_await CurrentCaller(ctx);
  if (!caller) co_return service::AuthProblem(caller.error());
  if (auto ok = RequireCurrentRole(*caller, {"admin"}); !ok) co_return http::Problem(ok.error());
  auto page = PageParam(ctx, "page", 1, 1000000);
  if (!page) co_return http::Problem(page.error());
  auto page_size = PageParam(ctx, "page_size", 50, 500);
  if (!page_size) co_return http::Problem(page_size.error());
  std::string id = ctx.PathParam("id");
  auto load = [this, &id](Connection& c) { return repo_->History(c, id); };
  auto history = co_await db_->Read(std::move(load));
  if (!history) co_return http::Problem(history.error());
  if (history->empty()) co_return http::Problem(ErrorCode::kNotFound, "no such user", "id");
  json::array items;
  const std::size_t from =
      static_cast<std::size_t>(*page - 1) * static_cast<std::size_t>(*page_size);
  for (std::size_t i = from; i < history->size() && i < from + static_cast<std::size_t>(*page_size);
       ++i) {
    const auto& e = (*history)[i];
    items.push_back(json::object{{"version", e.version},
                                 {"type", e.type},
                                 {"data", RedactSecrets(e.type, e.data)},
                                 {"recorded_at", FormatRfc3339(e.recorded_at)}});
  }
  co_return http::Json(200, json::object{{"items", std::move(items)},
                                         {"page", *page},
                                         {"page_size", *page_size},
                                         {"total", static_cast<std::int64_t>(history->size())}});
}

Task<http::Response> IdentityApp::SetRoles(http::RequestContext& ctx) {
  auto caller = co_await CurrentCaller(ctx);
  if (!caller) co_return service::AuthProblem(caller.error());
  if (auto ok = RequireCurrentRole(*caller, {"admin"}); !ok) co_return http::Problem(ok.error());
  const std::string& caller_id = caller->user->id;
  auto body = http::ObjectBody(ctx);
  if (!body) co_return http::Problem(body.error());
  const auto* list = body->if_contains("roles");
  if (!list || !list->is_array())
    co_return http::Problem(ErrorCode::kInvalidArgument, "roles must be an array", "roles");
  std::vector<std::string> roles;
  for (const auto& r : list->as_array()) {
    if (!r.is_string())
      co_return http::Problem(ErrorCode::kInvalidArgument, "roles must be strings", "roles");
    roles.emplace_back(r.as_string());
  }
  std::string id = ctx.PathParam("id");
  if (id == caller_id && std::find(roles.begin(), roles.end(), "admin") == roles.end()) {
    co_return http::Problem(ErrorCode::kFailedPrecondition,
                            "an admin cannot remove their own admin role", "roles");
  }
  Command command = [&roles](const domain::User& user, WallTime now) {
    return user.ChangeRoles(roles, now);
  };
  AfterSave keep_an_admin = &RequireAnActiveAdmin;
  auto saved = co_await Modify(id, std::nullopt, std::move(command), ctx, std::move(keep_an_admin));
  if (!saved) co_return http::Problem(saved.error());
  ctx.Log().Info("roles changed", {{"user_id", id}, {"by", caller_id}});
  co_return UserResponse(200, ViewOf(*saved));
}

Task<http::Response> IdentityApp::SetActive(http::RequestContext& ctx, bool active) {
  auto caller = co_await CurrentCaller(ctx);
  if (!caller) co_return service::AuthProblem(caller.error());
  if (auto ok = RequireCurrentRole(*caller, {"admin"}); !ok) co_return http::Problem(ok.error());
  const std::string& caller_id = caller->user->id;
  std::string id = ctx.PathParam("id");
  if (!active && id == caller_id) {
    co_return http::Problem(ErrorCode::kFailedPrecondition,
                            "an admin cannot deactivate themselves");
  }
  Command command = [active](const domain::User& user, WallTime now) {
    return active ? user.Activate(now) : user.Deactivate(now);
  };
  AfterSave after;
  if (!active) {
    after = [](Connection& tx, const domain::User& user) -> Result<void> {
      if (auto kept = RequireAnActiveAdmin(tx, user); !kept) return kept;
      auto revoked = RevokeAllFor(tx, user.id(), Now(), "deactivated");
      if (!revoked) return revoked.error();
      return Ok();
    };
  }
  auto saved = co_await Modify(id, std::nullopt, std::move(command), ctx, std::move(after));
  if (!saved) co_return http::Problem(saved.error());
  ctx.Log().Info(active ? "user activated" : "user deactivated",
                 {{"user_id", id}, {"by", caller_id}});
  co_return UserResponse(200, ViewOf(*saved));
}

}  // namespace mercato::identity::app
