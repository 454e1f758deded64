// identity's application layer without HTTP: login throttling on a fake clock, signing keys and
// their rotation on real files, sealing of personal data, refresh-token families and the user
// repository (event store + read model + outbox) on a real SQLite file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "app/identity_app.hpp"
#include "app/pii.hpp"
#include "app/refresh_tokens.hpp"
#include "app/signing_keys.hpp"
#include "app/throttle.hpp"
#include "app/user_cache.hpp"
#include "app/user_repository.hpp"
#include "mercato/security/base64url.hpp"
#include "mercato/security/jwks.hpp"
#include "mercato/security/secrets.hpp"
#include "mercato/storage/migrations.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::identity::app {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using mercato::storage::Connection;

const WallTime kT0 = WallTime{} + std::chrono::seconds(1'800'000'000);

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- LoginThrottle --------------------------------------------------------------------------

class ThrottleTest : public ::testing::Test {
 protected:
  // One whole attempt: admitted (or the wait), then decided.
  Duration Attempt(const std::string& account, const std::string& address, bool success) {
    Duration wait = throttle_.Begin(account, address);
    if (wait == Duration::zero()) throttle_.Finish(account, address, success);
    return wait;
  }
  Duration Wait(const std::string& account, const std::string& address) {
    Duration wait = throttle_.Begin(account, address);
    if (wait == Duration::zero())
      throttle_.Finish(account, address, true);  // a probe that succeeds
    return wait;
  }
  FakeClock clock_;
  LoginThrottle throttle_{{.account_free_failures = 3,
                           .address_free_failures = 10,
                           .base_delay = 1s,
                           .max_delay = 8s,
                           .forget_after = 1h,
                           .max_in_flight_per_address = 8,
                           .max_keys = 1000},
                          clock_};
};

TEST_F(ThrottleTest, FreeFailuresThenDoublingDelaysUpToTheCap) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt("acct", "1.2.3.4", false), Duration::zero());
  std::vector<Duration> delays;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(Attempt("acct", "1.2.3.4", false), Duration::zero());
    delays.push_back(throttle_.Begin("acct", "1.2.3.4"));  // refused: locked
    clock_.Advance(delays.back());
  }
  EXPECT_EQ(delays, (std::vector<Duration>{1s, 2s, 4s, 8s, 8s, 8s}));
}

TEST_F(ThrottleTest, LockIsPerAccountAndExpires) {
  for (int i = 0; i < 4; ++i) Attempt("acct", "1.2.3.4", false);
  EXPECT_EQ(throttle_.Begin("acct", "5.6.7.8"), Duration(1s))
      << "the account is locked from anywhere";
  EXPECT_EQ(Wait("other", "1.2.3.4"), Duration::zero());
  clock_.Advance(1s);
  EXPECT_EQ(Wait("acct", "1.2.3.4"), Duration::zero());
}

TEST_F(ThrottleTest, OneAttemptPerAccountInFlight) {
  ASSERT_EQ(throttle_.Begin("acct", "1.2.3.4"), Duration::zero());
  EXPECT_GT(throttle_.Begin("acct", "5.6.7.8"), Duration::zero()) << "a parallel guess must wait";
  EXPECT_EQ(Wait("other", "1.2.3.4"), Duration::zero());
  throttle_.Finish("acct", "1.2.3.4", false);
  EXPECT_EQ(Wait("acct", "1.2.3.4"), Duration::zero());
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(throttle_.Begin("a" + std::to_string(i), "9.9.9.9"), Duration::zero());
  EXPECT_GT(throttle_.Begin("a8", "9.9.9.9"), Duration::zero())
      << "an address has a few in flight at most";
  for (int i = 0; i < 8; ++i) throttle_.Finish("a" + std::to_string(i), "9.9.9.9", true);
  EXPECT_EQ(Wait("a8", "9.9.9.9"), Duration::zero());
}

TEST_F(ThrottleTest, SuccessClearsTheAccountButNotTheAddress) {
  for (int i = 0; i < 12; ++i) Attempt("acct-" + std::to_string(i), "1.2.3.4", false);
  EXPECT_GT(throttle_.Begin("fresh", "1.2.3.4"), Duration::zero())
      << "address past its 10 free failures";
  for (int i = 0; i < 3; ++i) Attempt("mine", "9.9.9.9", false);
  Attempt("mine", "9.9.9.9", true);
  Attempt("mine", "9.9.9.9", false);
  EXPECT_EQ(Wait("mine", "9.9.9.9"), Duration::zero()) << "counting restarted after the success";
  EXPECT_GT(throttle_.Begin("fresh", "1.2.3.4"), Duration::zero());
}

TEST_F(ThrottleTest, OldFailuresAreForgotten) {
  for (int i = 0; i < 3; ++i) Attempt("acct", "a", false);
  clock_.Advance(2h);
  Attempt("acct", "a", false);
  EXPECT_EQ(Wait("acct", "a"), Duration::zero()) << "counting restarted after forget_after";
}

TEST_F(ThrottleTest, AddressOnlyFailuresForSignUps) {
  for (int i = 0; i < 10; ++i) throttle_.RecordAddressFailure("1.2.3.4");
  EXPECT_EQ(throttle_.AddressRetryAfter("1.2.3.4"), Duration::zero());
  throttle_.RecordAddressFailure("1.2.3.4");
  EXPECT_EQ(throttle_.AddressRetryAfter("1.2.3.4"), Duration(1s));
  EXPECT_GT(throttle_.Begin("anyone", "1.2.3.4"), Duration::zero()) << "and logins from there too";
}

TEST_F(ThrottleTest, MemoryIsBoundedAndTheMostFailedKeysSurvive) {
  for (int i = 0; i < 6; ++i) Attempt("target", "t-" + std::to_string(i), false);
  for (int i = 0; i < 5000; ++i)
    Attempt("acct-" + std::to_string(i), "addr-" + std::to_string(i), false);
  EXPECT_LE(throttle_.TrackedKeys(), 2000u);
  EXPECT_GT(throttle_.Begin("target", "elsewhere"), Duration::zero())
      << "the attacked account kept its lock";
}

// ---- UserCache ------------------------------------------------------------------------------

UserView ViewAt(const std::string& id, std::int64_t version, const std::string& name) {
  UserView v;
  v.id = id;
  v.version = version;
  v.name = name;
  return v;
}

TEST(UserCacheTest, NeverReplacesANewerVersionWithAnOlderOne) {
  UserCache cache(10);
  const auto stamp = cache.WriteStamp();
  cache.PutWritten(ViewAt("u1", 4, "new"));
  cache.PutRead(ViewAt("u1", 3, "stale read"), stamp);  // a reader that loaded before the write
  ASSERT_TRUE(cache.Get("u1"));
  EXPECT_EQ(cache.Get("u1")->name, "new");
  cache.PutWritten(ViewAt("u1", 5, "newer"));
  EXPECT_EQ(cache.Get("u1")->name, "newer");
  EXPECT_FALSE(cache.Get("u2"));
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(UserCacheTest, AStaleReadIsNotCachedEvenAfterTheNewerRowWasEvicted) {
  UserCache cache(1);
  const auto stamp = cache.WriteStamp();           // reader R starts loading u1 at version 3
  cache.PutWritten(ViewAt("u1", 4, "demoted"));    // writer commits version 4
  cache.PutWritten(ViewAt("u2", 1, "other"));      // ... which another write evicts
  cache.PutRead(ViewAt("u1", 3, "admin"), stamp);  // R comes back with version 3
  EXPECT_FALSE(cache.Get("u1")) << "a read older than a committed write must not be cached";
  cache.PutRead(ViewAt("u1", 4, "demoted"), cache.WriteStamp());
  ASSERT_TRUE(cache.Get("u1"));
  EXPECT_EQ(cache.Get("u1")->name, "demoted");
}

TEST(UserCacheTest, EvictsTheLeastRecentlyUsedAndCanBeOff) {
  UserCache cache(2);
  cache.PutWritten(ViewAt("a", 1, "a"));
  cache.PutWritten(ViewAt("b", 1, "b"));
  ASSERT_TRUE(cache.Get("a"));  // b is now the least recently used
  cache.PutWritten(ViewAt("c", 1, "c"));
  EXPECT_TRUE(cache.Get("a"));
  EXPECT_FALSE(cache.Get("b"));
  EXPECT_TRUE(cache.Get("c"));
  EXPECT_EQ(cache.size(), 2u);
  UserCache off(0);
  off.PutWritten(ViewAt("a", 1, "a"));
  EXPECT_FALSE(off.Get("a"));
}

// ---- SigningKeys ----------------------------------------------------------------------------

TEST(SigningKeysTest, CreatedOnceWithMode0600AndPublishedBeforeItSigns) {
  testing::TempDir dir;
  const fs::path file = fs::path(dir.path()) / "secrets" / "jwt-keys.json";
  FakeClock clock;
  clock.SetWall(kT0);
  auto keys = SigningKeys::LoadOrCreate(file, 20min, clock);
  ASSERT_TRUE(keys) << keys.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string first = (*keys)->Current().first;
  EXPECT_EQ((*keys)->PublishedCount(), 1u);

  auto again = SigningKeys::LoadOrCreate(file, 20min, clock);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->Current().first, first) << "a restart keeps the key";

  // No pause needed: a replaced file is noticed by its content, not its modification time.
  auto rotated = RotateSigningKey(file, 20min, 60s, clock);
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_NE(rotated->kid, first);
  EXPECT_EQ(rotated->activates_at, kT0 + 60s);
  auto reloaded = (*keys)->ReloadIfChanged();
  ASSERT_TRUE(reloaded);
  EXPECT_TRUE(*reloaded);
  auto jwks = security::ParseJwks((*keys)->JwksJson());
  ASSERT_TRUE(jwks);
  EXPECT_EQ(jwks->size(), 2u) << "the new key is published at once";
  EXPECT_TRUE(jwks->count(rotated->kid));
  EXPECT_EQ((*keys)->Current().first, first)
      << "but signs only once services could have fetched it";
  clock.Advance(60s);
  EXPECT_EQ((*keys)->Current().first, rotated->kid);
  EXPECT_TRUE((*keys)->Resolve(first)) << "the replaced key verifies while its tokens live";
  EXPECT_FALSE((*keys)->Resolve("no-such-kid"));
}

TEST(SigningKeysTest, ReplacedKeyIsWithdrawnOnceItsTokensExpired) {
  testing::TempDir dir;
  const fs::path file = fs::path(dir.path()) / "jwt-keys.json";
  FakeClock clock;
  clock.SetWall(kT0);
  auto keys = SigningKeys::LoadOrCreate(file, 20min, clock);
  ASSERT_TRUE(keys);
  const std::string first = (*keys)->Current().first;
  ASSERT_TRUE(RotateSigningKey(file, 20min, 0s, clock));
  ASSERT_TRUE((*keys)->ReloadIfChanged());
  EXPECT_TRUE((*keys)->Resolve(first));
  clock.Advance(21min);
  auto changed = (*keys)->ReloadIfChanged();
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed) << "the published set shrank with time";
  EXPECT_FALSE((*keys)->Resolve(first));
  EXPECT_EQ((*keys)->PublishedCount(), 1u);
  // The next rotation drops it from the file too.
  ASSERT_TRUE(RotateSigningKey(file, 20min, 0s, clock));
  auto stored = ReadSigningKeyFile(file);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->keys.size(), 2u);
  for (const auto& k : stored->keys) EXPECT_NE(k.kid, first);
}

TEST(SigningKeysTest, BackToBackRotationsActivateInOrder) {
  testing::TempDir dir;
  const fs::path file = fs::path(dir.path()) / "jwt-keys.json";
  FakeClock clock;
  clock.SetWall(kT0);
  ASSERT_TRUE(SigningKeys::LoadOrCreate(file, 20min, clock));
  auto second = RotateSigningKey(file, 20min, 60s, clock);
  auto third = RotateSigningKey(file, 20min, 10s, clock);
  ASSERT_TRUE(second && third);
  EXPECT_GE(third->activates_at, second->activates_at);
  auto stored = ReadSigningKeyFile(file);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->keys.size(), 3u);
  EXPECT_EQ(stored->Active(kT0 + 61s).kid, third->kid)
      << "the later rotation wins once both are due";
}

TEST(SigningKeysTest, CorruptOrOpenFileIsRefused) {
  testing::TempDir dir;
  const fs::path file = fs::path(dir.path()) / "jwt-keys.json";
  ASSERT_TRUE(security::WriteSecretFile(file, "{\"keys\": []}"));
  auto keys = SigningKeys::LoadOrCreate(file, 20min, Clock::Real());
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code, ErrorCode::kFailedPrecondition);
  ::chmod(file.c_str(), 0644);
  EXPECT_FALSE(SigningKeys::LoadOrCreate(file, 20min, Clock::Real()));
}

// ---- sealing personal data ------------------------------------------------------------------

class PiiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vault = PiiVault::Open(dir_.path());
    ASSERT_TRUE(vault) << vault.error().message;
    vault_ = std::move(*vault);
  }
  testing::TempDir dir_;
  std::unique_ptr<PiiVault> vault_;
};

TEST_F(PiiTest, PersonalFieldsOfEventsAreSealedAndOpenAgain) {
  const std::vector<std::pair<std::string, json::value>> cases = {
      {"UserRegistered", json::object{{"user_id", "u1"},
                                      {"email", "ada@example.com"},
                                      {"name", "Ada"},
                                      {"password_hash", "$argon2id$x"}}},
      {"EmailChanged", json::object{{"email", "ada@newmail.io"}}},
      {"PhoneChanged", json::object{{"phone", "+441234567890"}}},
      {"AddressAdded", json::object{{"address", json::object{{"id", "a1"},
                                                             {"line1", "12 Secret Lane"},
                                                             {"city", "London"},
                                                             {"country", "GB"}}}}},
  };
  for (const auto& [type, data] : cases) {
    auto sealed = SealEventData(*vault_, "u1", type, data);
    ASSERT_TRUE(sealed) << type;
    const std::string text = json::serialize(*sealed);
    for (const char* secret :
         {"ada@example.com", "ada@newmail.io", "+441234567890", "Secret Lane"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << type << " leaks " << secret;
    }
    auto opened = OpenEventData(*vault_, "u1", type, *sealed);
    ASSERT_TRUE(opened) << type << ": " << opened.error().message;
    EXPECT_EQ(*opened, data) << type;
    EXPECT_FALSE(OpenEventData(*vault_, "u2", type, *sealed)) << type << ": bound to its stream";
  }
  json::value name = json::object{{"name", "Ada"}};
  EXPECT_EQ(*SealEventData(*vault_, "u1", "NameChanged", name), name)
      << "no personal field: unchanged";
  json::value removed = json::object{{"phone", ""}};
  EXPECT_EQ(*OpenEventData(*vault_, "u1", "PhoneChanged",
                           *SealEventData(*vault_, "u1", "PhoneChanged", removed)),
            removed);
}

TEST_F(PiiTest, SnapshotsAreSealedWhole) {
  json::value state = json::object{{"email", "ada@example.com"}, {"version", 50}};
  auto sealed = SealSnapshot(*vault_, "u1", state);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(json::serialize(*sealed).find("ada@"), std::string::npos);
  EXPECT_EQ(*OpenSnapshot(*vault_, "u1", *sealed), state);
  EXPECT_FALSE(OpenSnapshot(*vault_, "u2", *sealed));
}

TEST_F(PiiTest, RotationIsPickedUpAndOldValuesStillOpen) {
  auto old_value = vault_->Seal("ada@example.com", "users.email:u1");
  ASSERT_TRUE(old_value);
  auto keyring = security::Keyring::LoadOrCreate(dir_.path());
  ASSERT_TRUE(keyring);
  ASSERT_TRUE(keyring->Rotate());
  auto reloaded = vault_->ReloadIfChanged();
  ASSERT_TRUE(reloaded);
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(vault_->CurrentKeyId(), 2);
  auto opened = vault_->Open(*old_value, "users.email:u1");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->plaintext, "ada@example.com");
  EXPECT_TRUE(opened->needs_reencrypt);
  EXPECT_FALSE(
      vault_->Open(*vault_->Seal("x", "users.email:u1"), "users.email:u1")->needs_reencrypt);
  EXPECT_EQ(*vault_->EmailIndex("ada@example.com"), *vault_->EmailIndex("ada@example.com"))
      << "the blind index survives a rotation";
}

// ---- storage: refresh tokens and the repository -----------------------------------------------

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vault = PiiVault::Open(dir_.path() + "/secrets");
    ASSERT_TRUE(vault);
    vault_ = std::move(*vault);
    auto db = mercato::storage::OpenSqlite({.path = dir_.path() + "/identity.db"});
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    ASSERT_TRUE(mercato::storage::ApplyMigrations(*db_, AllMigrations()));
    repo_ = std::make_unique<UserRepository>(*vault_, 5);
  }
  Result<domain::User> RegisterUser(const std::string& id, const std::string& email,
                                    WallTime at = kT0, bool publish = false) {
    auto events = domain::Register(id, email, "Ada", "$argon2id$v=19$m=1024,t=1,p=1$x$y", at);
    if (!events) return events.error();
    return db_->TransactBlocking([&](Connection& tx) {
      return repo_->Save(tx, domain::User{}, *events, at, Publication{publish, std::nullopt});
    });
  }
  Result<domain::User> Rename(const domain::User& user, const std::string& name, WallTime at) {
    auto events = user.ChangeName(name, at);
    if (!events) return events.error();
    return db_->TransactBlocking(
        [&](Connection& tx) { return repo_->Save(tx, user, *events, at, {}); });
  }
  int64_t Count(const std::string& sql) {
    auto rows = db_->ReadBlocking([&](Connection& c) { return c.Query(sql); });
    return rows ? rows->rows[0].Int(0) : -1;
  }

  testing::TempDir dir_;
  std::unique_ptr<PiiVault> vault_;
  std::unique_ptr<mercato::storage::Database> db_;
  std::unique_ptr<UserRepository> repo_;
};

TEST_F(StoreTest, RefreshRotationAndReuseRevokesTheFamily) {
  auto first = db_->TransactBlocking([](Connection& tx) { return StartFamily(tx, "u1", kT0, 1h); });
  ASSERT_TRUE(first);
  EXPECT_EQ(first->size(), 43u);
  EXPECT_EQ(Count("SELECT count(*) FROM refresh_tokens WHERE token_hash = '" + *first + "'"), 0)
      << "only the hash is stored";
  auto rotate = [&](const std::string& token, WallTime at) {
    return db_->TransactBlocking([&](Connection& tx) { return Rotate(tx, token, at, 1h); });
  };
  auto second = rotate(*first, kT0 + 1min);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, RotateStatus::kRotated);
  EXPECT_EQ(second->user_id, "u1");
  EXPECT_NE(second->token, *first);

  auto reuse = rotate(*first, kT0 + 2min);
  ASSERT_TRUE(reuse);
  EXPECT_EQ(reuse->status, RotateStatus::kReused);
  auto after = rotate(second->token, kT0 + 3min);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, RotateStatus::kInvalid) << "the successor died with its family";
  EXPECT_EQ(Count("SELECT count(*) FROM refresh_families WHERE revoke_reason = 'reuse'"), 1);
}

TEST_F(StoreTest, ExpiredGarbageAndLoggedOutTokensAreInvalid) {
  auto token = db_->TransactBlocking([](Connection& tx) { return StartFamily(tx, "u1", kT0, 1h); });
  ASSERT_TRUE(token);
  auto at = [&](const std::string& t, WallTime when) {
    return db_->TransactBlocking([&](Connection& tx) { return Rotate(tx, t, when, 1h); })->status;
  };
  EXPECT_EQ(at(*token, kT0 + 2h), RotateStatus::kInvalid) << "expired";
  EXPECT_EQ(at("short", kT0), RotateStatus::kInvalid);
  EXPECT_EQ(at(std::string(43, '!'), kT0), RotateStatus::kInvalid);
  EXPECT_EQ(at(std::string(64 * 1024, 'a'), kT0), RotateStatus::kInvalid);

  auto other = db_->TransactBlocking([](Connection& tx) { return StartFamily(tx, "u2", kT0, 1h); });
  ASSERT_TRUE(other);
  auto revoked = db_->TransactBlocking(
      [&](Connection& tx) { return RevokeFamilyOf(tx, *other, kT0, "logout"); });
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(*revoked);
  EXPECT_EQ(at(*other, kT0 + 1min), RotateStatus::kInvalid);

  auto purged = db_->TransactBlocking([](Connection& tx) { return PurgeExpired(tx, kT0 + 3h); });
  ASSERT_TRUE(purged);
  EXPECT_EQ(Count("SELECT count(*) FROM refresh_tokens"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM refresh_families"), 0);
}

TEST_F(StoreTest, ReadModelFollowsTheEventsAndHoldsNoPlaintext) {
  auto user = RegisterUser("u1", "ada@example.com");
  ASSERT_TRUE(user) << user.error().message;
  auto phoned = db_->TransactBlocking([&](Connection& tx) -> Result<domain::User> {
    auto events = user->ChangePhone("+441234567890", kT0 + 1s);
    if (!events) return events.error();
    return repo_->Save(tx, *user, *events, kT0 + 1s, {});
  });
  ASSERT_TRUE(phoned);
  auto found =
      db_->ReadBlocking([&](Connection& c) { return repo_->FindByEmail(c, "ada@example.com"); });
  ASSERT_TRUE(found);
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->id, "u1");
  EXPECT_EQ((*found)->phone, "+441234567890");
  EXPECT_EQ((*found)->version, 2);
  auto loaded = db_->ReadBlocking([&](Connection& c) { return repo_->Load(c, "u1"); });
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, *phoned);

  db_.reset();  // checkpoint and close, then read the bytes
  const std::string bytes = ReadBytes(dir_.path() + "/identity.db");
  ASSERT_GT(bytes.size(), 0u);
  EXPECT_EQ(bytes.find("ada@example.com"), std::string::npos);
  EXPECT_EQ(bytes.find("+441234567890"), std::string::npos);
  EXPECT_NE(bytes.find("Ada"), std::string::npos)
      << "the name is not encrypted: the scan itself works";
}

TEST_F(StoreTest, DuplicateEmailAndStaleVersionAreRefused) {
  auto user = RegisterUser("u1", "ada@example.com");
  ASSERT_TRUE(user);
  auto twin = RegisterUser("u2", "ada@example.com");
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(twin.error().field, "email");
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE stream_id = 'u2'"), 0) << "all or nothing";

  ASSERT_TRUE(Rename(*user, "First", kT0 + 1s));
  auto stale = Rename(*user, "Second", kT0 + 2s);  // from the version before "First"
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kAborted);
}

TEST_F(StoreTest, SnapshotsReplayAndTemporalQueriesAgree) {
  auto user = RegisterUser("u1", "ada@example.com");
  ASSERT_TRUE(user);
  domain::User current = *user;
  for (int i = 1; i <= 12; ++i) {
    auto renamed = Rename(current, "Name " + std::to_string(i), kT0 + std::chrono::seconds(i));
    ASSERT_TRUE(renamed) << renamed.error().message;
    current = *renamed;
  }
  EXPECT_EQ(current.version(), 13);
  EXPECT_EQ(Count("SELECT version FROM snapshots WHERE stream_id = 'u1'"), 10) << "every 5 events";
  auto loaded = db_->ReadBlocking([&](Connection& c) { return repo_->Load(c, "u1"); });
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, current) << "snapshot + tail == the whole replay";
  auto then =
      db_->ReadBlocking([&](Connection& c) { return repo_->LoadAsOf(c, "u1", kT0 + 3500ms); });
  ASSERT_TRUE(then);
  EXPECT_EQ(then->name(), "Name 3");
  auto before =
      db_->ReadBlocking([&](Connection& c) { return repo_->LoadAsOf(c, "u1", kT0 - 1s); });
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, IntegrationEventsCarryNoPersonalData) {
  ASSERT_TRUE(RegisterUser("u1", "ada@example.com", kT0, true));
  EXPECT_EQ(Count("SELECT count(*) FROM mercato_outbox"), 1);
  auto payload = db_->ReadBlocking(
      [](Connection& c) { return c.Query("SELECT payload FROM mercato_outbox"); });
  ASSERT_TRUE(payload);
  const std::string text = payload->rows[0].String(0);
  EXPECT_NE(text.find("mercato.identity.UserRegistered"), std::string::npos);
  EXPECT_EQ(text.find("ada@example.com"), std::string::npos);
  EXPECT_EQ(text.find("argon2"), std::string::npos);
  ASSERT_TRUE(RegisterUser("u2", "bob@example.com", kT0, false));
  EXPECT_EQ(Count("SELECT count(*) FROM mercato_outbox"), 1)
      << "no broker configured: no outbox rows";
}

// Lazy re-encryption: after a PII key rotation, the next write of a user seals their row under
// the new key (the key id is the second byte of every sealed value).
TEST_F(StoreTest, ARotatedPiiKeyIsUsedForARowOnItsNextWrite) {
  auto user = RegisterUser("u1", "ada@example.com");
  ASSERT_TRUE(user);
  auto key_id_of_email = [&] {
    auto rows = db_->ReadBlocking([](Connection& c) { return c.Query("SELECT email FROM users"); });
    auto bytes = security::Base64UrlDecode(rows->rows[0].String(0));
    return bytes && bytes->size() > 2 ? static_cast<int>(static_cast<unsigned char>((*bytes)[1]))
                                      : -1;
  };
  EXPECT_EQ(key_id_of_email(), 1);
  auto keyring = security::Keyring::LoadOrCreate(dir_.path() + "/secrets");
  ASSERT_TRUE(keyring);
  ASSERT_TRUE(keyring->Rotate());
  ASSERT_TRUE(vault_->ReloadIfChanged());
  EXPECT_EQ(key_id_of_email(), 1) << "nothing is rewritten eagerly";
  auto found =
      db_->ReadBlocking([&](Connection& c) { return repo_->FindByEmail(c, "ada@example.com"); });
  ASSERT_TRUE(found && *found) << "old values still decrypt, and the blind index still finds them";
  ASSERT_TRUE(Rename(*user, "Ada Lovelace", kT0 + 1s));
  EXPECT_EQ(key_id_of_email(), 2);
}

TEST_F(StoreTest, ReadModelRebuildsFromTheEventStore) {
  ASSERT_TRUE(RegisterUser("u1", "ada@example.com"));
  auto bob = RegisterUser("u2", "bob@example.com");
  ASSERT_TRUE(bob);
  ASSERT_TRUE(Rename(*bob, "Robert", kT0 + 1s));
  auto before = db_->ReadBlocking([&](Connection& c) { return repo_->Find(c, "u2"); });
  ASSERT_TRUE(before && *before);
  auto rebuilt = db_->TransactBlocking([&](Connection& tx) { return repo_->RebuildReadModel(tx); });
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(*rebuilt, 2);
  auto after = db_->ReadBlocking([&](Connection& c) { return repo_->Find(c, "u2"); });
  ASSERT_TRUE(after && *after);
  EXPECT_EQ((*after)->name, "Robert");
  EXPECT_EQ((*after)->version, (*before)->version);
  EXPECT_EQ((*after)->email, "bob@example.com");
}

}  // namespace
}  // namespace mercato::identity::app
