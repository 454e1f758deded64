// identity: accounts, tokens, roles and the event-sourced User. `identity --help` lists the
// configuration; subcommands run maintenance on a data directory and exit:
//   identity rotate-signing-key --data-dir DIR   new RS256 key; the old one stays published
//   identity rotate-pii-key --data-dir DIR       new AES key for personal data (lazy re-encryption)
//   identity rebuild-read-model --data-dir DIR   recompute the users table from the event store
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "app/identity_app.hpp"
#include "mercato/security/field_crypto.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"

namespace {

using namespace mercato;
namespace app = mercato::identity::app;

constexpr std::string_view kUsage =
    "usage: identity [--flags]                      run the service (--help lists the flags)\n"
    "       identity rotate-signing-key [--flags]   add a new JWT signing key; the old one stays\n"
    "                                               published until its tokens expire\n"
    "       identity rotate-pii-key [--flags]       add a new AES-256 key for personal data; old\n"
    "                                               values are re-encrypted when next written\n"
    "       identity rebuild-read-model [--flags]   rebuild the users table from the event store\n"
    "The running service picks rotations up within --key-reload-interval.\n";

int RotateSigningKey(const config::Config& config) {
  auto secrets = app::SecretsUnder(config.GetString("data-dir"));
  auto keep = std::chrono::duration_cast<std::chrono::seconds>(config.GetDuration("access-token-ttl")) +
              std::chrono::minutes(5);
  auto delay = std::chrono::duration_cast<std::chrono::seconds>(config.GetDuration("key-activation-delay"));
  auto rotation = app::RotateSigningKey(secrets.signing_keys(), keep, delay, Clock::Real());
  if (!rotation) {
    std::fprintf(stderr, "identity: %s\n", rotation.error().message.c_str());
    return 1;
  }
  std::printf("new signing key %s: published now, signs from %s; the key it replaces stays published "
              "%lld s longer\n",
              rotation->kid.c_str(), FormatRfc3339(rotation->activates_at).c_str(),
              static_cast<long long>(keep.count()));
  return 0;
}

int RotatePiiKey(const config::Config& config) {
  auto secrets = app::SecretsUnder(config.GetString("data-dir"));
  auto keyring = security::Keyring::LoadOrCreate(secrets.dir);
  if (!keyring) {
    std::fprintf(stderr, "identity: %s\n", keyring.error().message.c_str());
    return 1;
  }
  if (auto rotated = keyring->Rotate(); !rotated) {
    std::fprintf(stderr, "identity: %s\n", rotated.error().message.c_str());
    return 1;
  }
  std::printf("PII key %d is current (%zu keys kept so older values still decrypt)\n",
              static_cast<int>(keyring->CurrentKeyId()), keyring->KeyCount());
  return 0;
}

int RebuildReadModel(const config::Config& config) {
  auto secrets = app::SecretsUnder(config.GetString("data-dir"));
  auto vault = app::PiiVault::Open(secrets.dir);
  if (!vault) {
    std::fprintf(stderr, "identity: %s\n", vault.error().message.c_str());
    return 1;
  }
  auto db = storage::OpenSqlite({.path = config.GetString("data-dir") + "/identity.db"});
  if (!db) {
    std::fprintf(stderr, "identity: %s\n", db.error().message.c_str());
    return 1;
  }
  if (auto applied = storage::ApplyMigrations(**db, app::AllMigrations()); !applied) {
    std::fprintf(stderr, "identity: %s\n", applied.error().message.c_str());
    return 1;
  }
  app::UserRepository repo(**vault);
  auto rebuilt = (*db)->TransactBlocking([&](storage::Connection& tx) { return repo.RebuildReadModel(tx); });
  if (!rebuilt) {
    std::fprintf(stderr, "identity: %s\n", rebuilt.error().message.c_str());
    return 1;
  }
  std::printf("read model rebuilt: %lld users\n", static_cast<long long>(*rebuilt));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view command = argc > 1 && argv[1][0] != '-' ? argv[1] : "";
  if (command == "help") {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage.data(), stdout);  // the subcommands; the flags follow from the config
      std::fputs("\n", stdout);
      break;
    }
  }
  // A subcommand takes the same flags as the service (notably --data-dir): parse the rest.
  std::vector<char*> args(argv, argv + argc);
  if (!command.empty()) args.erase(args.begin() + 1);
  auto config = config::Config::LoadOrExit("identity", app::Schema(), static_cast<int>(args.size()), args.data());
  try {
    if (command == "rotate-signing-key") return RotateSigningKey(config);
    if (command == "rotate-pii-key") return RotatePiiKey(config);
    if (command == "rebuild-read-model") return RebuildReadModel(config);
    if (!command.empty()) {
      std::fprintf(stderr, "identity: unknown command \"%.*s\"\n%s", static_cast<int>(command.size()),
                   command.data(), kUsage.data());
      return 2;
    }
    service::Service service("identity", config);
    app::IdentityApp app(service);
    service.SetOpenApi(app::OpenApiDocument());
    return service.Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "identity: %s\n", e.what());
    return 1;
  }
}
