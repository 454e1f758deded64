// Where identity's users live: the event store (source of truth, personal fields sealed), the
// snapshots, the read model row (the CQRS query side, updated in the same transaction) and the
// outbox (integration events without personal data). All functions run on a storage
// connection inside the caller's transaction (Database::Read / Transact), so an append, its
// read-model row and its integration events commit together or not at all.
//
//   auto user = repo.Load(tx, id);                               // snapshot + tail, decrypted
//   auto events = user->ChangeName("Ada Lovelace", now);
//   auto saved = repo.Save(tx, *user, *events, now, publish);    // aborted on a version race
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/pii.hpp"
#include "domain/user.hpp"
#include "mercato/observability/trace.hpp"
#include "mercato/storage/database.hpp"
#include "storage/event_store.hpp"

namespace mercato::identity::app {

// A user as the API shows it (the read model's row, decrypted; or a replayed aggregate).
struct UserView {
  std::string id;
  std::string email;
  std::string name;
  std::string phone;
  std::vector<domain::Address> addresses;
  boost::json::object preferences;
  std::vector<std::string> roles;
  bool active = false;
  std::string password_hash;
  std::int64_t version = 0;
  WallTime created_at{};
  WallTime updated_at{};
};

UserView ViewOf(const domain::User& user);
// The API's user document: everything but the password hash.
boost::json::object ToJson(const UserView& user);
boost::json::object AddressJson(const domain::Address& address);

// Whether and how Save writes integration events to the outbox.
struct Publication {
  bool enabled = false;  // false when the service runs without a broker
  std::optional<obs::TraceContext> trace;
};

class UserRepository {
 public:
  explicit UserRepository(const PiiVault& vault,
                          int snapshot_every = static_cast<int>(domain::kSnapshotEvery))
      : vault_(vault), snapshots_{snapshot_every} {}

  // The aggregate from its latest snapshot plus the events after it. not_found: no such stream.
  Result<domain::User> Load(mercato::storage::Connection& c, std::string_view id) const;
  // The user as they were at `as_of` (replayed from the events recorded up to then).
  // not_found: no such user, or not registered yet at that time.
  Result<domain::User> LoadAsOf(mercato::storage::Connection& c, std::string_view id,
                                WallTime as_of) const;
  // The whole stream with personal fields decrypted.
  Result<std::vector<storage::StoredEvent>> History(mercato::storage::Connection& c,
                                                    std::string_view id) const;

  // Appends `events` (produced by a command on `before`) at before.version() + 1..., projects the
  // read model, writes a snapshot when due and enqueues the integration events. Returns the new
  // state. aborted: the stream moved since `before` was loaded. already_exists: the (new) email
  // belongs to another user. Must run inside a write transaction.
  Result<domain::User> Save(mercato::storage::Connection& tx, const domain::User& before,
                            const domain::UserEvents& events, WallTime now,
                            const Publication& publication) const;

  // The read model.
  Result<std::optional<UserView>> Find(mercato::storage::Connection& c, std::string_view id) const;
  Result<std::optional<UserView>> FindByEmail(mercato::storage::Connection& c,
                                              std::string_view normalized_email) const;
  Result<bool> AnyAdmin(mercato::storage::Connection& c) const;

  // Drops and rebuilds every read-model row from the event store (the CQRS rebuild). Returns
  // the number of users projected. Must run inside a write transaction.
  Result<std::int64_t> RebuildReadModel(mercato::storage::Connection& tx) const;

 private:
  Result<void> Project(mercato::storage::Connection& tx, const domain::User& user) const;
  Result<domain::UserEvents> Open(std::string_view id,
                                  const std::vector<storage::StoredEvent>& stored) const;
  Result<UserView> ReadRow(const mercato::storage::Row& row) const;

  const PiiVault& vault_;
  storage::SnapshotPolicy snapshots_;
};

// The integration event (CloudEvents data, no personal data) for one domain event of `user_id`
// that brought the stream to `version`.
boost::json::object IntegrationData(std::string_view user_id, std::int64_t version,
                                    const domain::UserEvent& event);

}  // namespace mercato::identity::app
