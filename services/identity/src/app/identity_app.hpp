// The identity service: accounts, credentials, tokens, roles and the event-sourced User, on the
// Mercato chassis (ARCHITECTURE.md §1, §6; services/identity/README.md lists every endpoint).
// Owns the SQLite database <data-dir>/identity.db and the secrets under <data-dir>/secrets.
//
//   auto config = config::Config::LoadOrExit("identity", identity::app::Schema(), argc, argv);
//   service::Service service("identity", config);
//   identity::app::IdentityApp app(service);   // secrets, migrations, admin bootstrap, routes
//   return service.Run();
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app/pii.hpp"
#include "app/signing_keys.hpp"
#include "app/throttle.hpp"
#include "app/user_cache.hpp"
#include "app/user_repository.hpp"
#include "mercato/config/config.hpp"
#include "mercato/messaging/bus.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/security/jwt.hpp"
#include "mercato/security/password.hpp"
#include "mercato/service/auth.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/database.hpp"

namespace mercato::identity::app {

// The service's configuration keys on top of the chassis' and the bus'.
config::Schema Schema();
// api/openapi.yaml, embedded at build time.
const std::string& OpenApiDocument();
// migrations/*.sql plus the messaging library's outbox tables.
std::vector<mercato::storage::Migration> AllMigrations();

// Paths of the secrets under a data directory.
struct SecretPaths {
  std::filesystem::path dir;  // <data-dir>/secrets
  std::filesystem::path signing_keys() const { return dir / "jwt-keys.json"; }
  std::filesystem::path admin() const { return dir / "admin.json"; }
  std::filesystem::path clients() const { return dir / "clients"; }
};
SecretPaths SecretsUnder(const std::string& data_dir);

class IdentityApp {
 public:
  explicit IdentityApp(service::Service& service);
  ~IdentityApp();
  IdentityApp(const IdentityApp&) = delete;
  IdentityApp& operator=(const IdentityApp&) = delete;

 private:
  using Command = std::function<Result<domain::UserEvents>(const domain::User&, WallTime)>;
  using AfterSave = std::function<Result<void>(mercato::storage::Connection&, const domain::User&)>;

  void OpenStorage(const std::string& data_dir);
  void LoadClients(const std::vector<std::string>& names);
  void BootstrapAdmin();
  void AddRoutes(http::Router& router);
  Task<void> Maintenance(Duration every);

  // Handlers.
  Task<http::Response> Register(http::RequestContext& ctx);
  Task<http::Response> Login(http::RequestContext& ctx);
  Task<http::Response> Refresh(http::RequestContext& ctx);
  Task<http::Response> Logout(http::RequestContext& ctx);
  Task<http::Response> ClientCredentials(http::RequestContext& ctx);
  Task<http::Response> Jwks(http::RequestContext& ctx);
  Task<http::Response> GetMe(http::RequestContext& ctx);
  Task<http::Response> PatchMe(http::RequestContext& ctx);
  Task<http::Response> GetPreferences(http::RequestContext& ctx);
  Task<http::Response> PutPreferences(http::RequestContext& ctx);
  Task<http::Response> ListAddresses(http::RequestContext& ctx);
  Task<http::Response> AddAddress(http::RequestContext& ctx);
  Task<http::Response> RemoveAddress(http::RequestContext& ctx);
  Task<http::Response> FindUsers(http::RequestContext& ctx);
  Task<http::Response> GetUser(http::RequestContext& ctx);
  Task<http::Response> GetUserEvents(http::RequestContext& ctx);
  Task<http::Response> SetRoles(http::RequestContext& ctx);
  Task<http::Response> SetActive(http::RequestContext& ctx, bool active);

  // Who is calling, as of now: the token verified, and for a user their current row (a token's
  // roles may be up to 15 minutes old; a demoted or deactivated user must not keep acting on
  // them). Service tokens name a known client and carry no row. unauthenticated for a bad token
  // or a user that no longer exists; permission_denied for a deactivated user.
  struct Caller {
    security::VerifiedToken token;
    std::optional<UserView> user;  // nullopt for a service
    bool service = false;
  };
  Task<Result<Caller>> CurrentCaller(http::RequestContext& ctx);
  // permission_denied unless one of `roles` is both in the caller's token and in their stored
  // roles (a demotion acts at once; a grant needs a fresh token).
  static Result<void> RequireCurrentRole(const Caller& caller,
                                         std::initializer_list<std::string_view> roles);
  // A read-model row: from the cache, else from the database (and then cached).
  Task<Result<std::optional<UserView>>> FindUser(std::string id);
  // The caller's own active profile from the read model (401/403/404 as problems).
  Task<Result<UserView>> Me(http::RequestContext& ctx);
  // Loads the user, runs `command` on it and saves the events it returns, optimistically: a
  // concurrent writer that appended first makes this one fail with aborted (409). With
  // `expected_version` (If-Match) the command runs only on that version.
  Task<Result<domain::User>> Modify(std::string user_id,
                                    std::optional<std::int64_t> expected_version, Command command,
                                    const http::RequestContext& ctx, AfterSave after_save);
  Task<void> Rehash(const UserView& user, const std::string& password,
                    const http::RequestContext& ctx);
  Result<std::string> SignAccessToken(const std::string& subject,
                                      const std::vector<std::string>& roles,
                                      boost::json::object extra);
  // Access token + a refresh token in a new family (login) or the successor (refresh).
  Result<boost::json::object> TokenResponse(const UserView& user, const std::string& refresh_token);
  Publication PublicationFor(const http::RequestContext& ctx) const;

  service::Service& service_;
  std::string issuer_;
  std::string audience_;
  Duration access_ttl_;
  Duration refresh_ttl_;
  security::PasswordParams password_params_;
  SecretPaths secrets_;
  // Shared so the key-reload work on the blocking pool keeps them alive through shutdown.
  std::shared_ptr<PiiVault> vault_;
  std::shared_ptr<SigningKeys> keys_;
  std::unique_ptr<security::JwtVerifier> verifier_;
  std::unique_ptr<service::Authenticator> auth_;
  std::unique_ptr<UserRepository> repo_;
  std::unique_ptr<LoginThrottle> throttle_;
  std::unique_ptr<UserCache> users_cache_;
  std::map<std::string, std::string, std::less<>> client_secret_hashes_;  // client id -> SHA-256
  std::string dummy_password_hash_;  // verified against for unknown emails: equal timing
  std::unique_ptr<mercato::storage::Database> db_;  // before bus_: the bus stops first
  std::unique_ptr<messaging::Bus> bus_;

  obs::Family<obs::Counter>& logins_;
  obs::Family<obs::Counter>& refreshes_;
  obs::Family<obs::Counter>& tokens_issued_;
  obs::Counter& registrations_;
};

}  // namespace mercato::identity::app
