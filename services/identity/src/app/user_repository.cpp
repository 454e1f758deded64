#include "app/user_repository.hpp"

#include <boost/json.hpp>

#include "mercato/messaging/event.hpp"
#include "mercato/messaging/outbox.hpp"

namespace mercato::identity::app {

namespace json = boost::json;
using mercato::storage::Connection;

namespace {

std::string Where(std::string_view column, std::string_view id) {
  return "identity.users." + std::string(column) + ":" + std::string(id);
}

json::array RoleNames(const std::set<domain::Role>& roles) {
  json::array out;
  for (auto role : roles) out.emplace_back(domain::ToString(role));
  return out;
}

}  // namespace

UserView ViewOf(const domain::User& user) {
  UserView v;
  v.id = user.id();
  v.email = user.email();
  v.name = user.name();
  v.phone = user.phone();
  v.addresses = user.addresses();
  v.preferences = user.preferences();
  for (auto role : user.roles()) v.roles.emplace_back(domain::ToString(role));
  v.active = user.active();
  v.password_hash = user.password_hash();
  v.version = user.version();
  v.created_at = user.created_at();
  v.updated_at = user.updated_at();
  return v;
}

json::object AddressJson(const domain::Address& address) {
  return domain::ToJson(address).as_object();
}

json::object ToJson(const UserView& user) {
  json::array addresses;
  for (const auto& a : user.addresses) addresses.push_back(AddressJson(a));
  json::array roles;
  for (const auto& r : user.roles) roles.emplace_back(r);
  return json::object{{"id", user.id},
                      {"email", user.email},
                      {"name", user.name},
                      {"phone", user.phone},
                      {"roles", std::move(roles)},
                      {"active", user.active},
                      {"addresses", std::move(addresses)},
                      {"preferences", user.preferences},
                      {"version", user.version},
                      {"created_at", FormatRfc3339(user.created_at)},
                      {"updated_at", FormatRfc3339(user.updated_at)}};
}

json::object IntegrationData(std::string_view user_id, std::int64_t version,
                             const domain::UserEvent& event) {
  json::object data{{"user_id", user_id}, {"version", version}};
  const auto* payload = event.data.if_object();
  auto copy = [&](std::string_view from, std::string_view to) {
    if (const auto* v = payload ? payload->if_contains(from) : nullptr) data[to] = *v;
  };
  if (event.type == domain::UserRegistered::kType) {
    copy("name", "name");
    data["roles"] = json::array{"customer"};
    data["registered_at"] = FormatRfc3339(event.at);
  } else if (event.type == domain::NameChanged::kType) {
    copy("name", "name");
  } else if (event.type == domain::PhoneChanged::kType) {
    const auto* phone = payload ? payload->if_contains("phone") : nullptr;
    data["has_phone"] = phone && phone->is_string() && !phone->as_string().empty();
  } else if (event.type == domain::AddressAdded::kType) {
    const auto* address = payload ? payload->if_contains("address") : nullptr;
    const auto* a = address ? address->if_object() : nullptr;
    if (a) {
      if (const auto* id = a->if_contains("id")) data["address_id"] = *id;
      if (const auto* country = a->if_contains("country")) data["country"] = *country;
    }
  } else if (event.type == domain::AddressRemoved::kType) {
    copy("address_id", "address_id");
  } else if (event.type == domain::RolesChanged::kType) {
    copy("roles", "roles");
  }
  // EmailChanged, PreferencesChanged, UserActivated, UserDeactivated, PasswordChanged: the
  // user id and version say what a consumer needs; the values are personal or secret.
  return data;
}

Result<domain::UserEvents> UserRepository::Open(
    std::string_view id, const std::vector<storage::StoredEvent>& stored) const {
  domain::UserEvents events;
  events.reserve(stored.size());
  for (const auto& e : stored) {
    auto data = OpenEventData(vault_, id, e.type, e.data);
    if (!data) return data.error();
    events.push_back(domain::UserEvent{e.type, std::move(*data), e.recorded_at});
  }
  return events;
}

Result<domain::User> UserRepository::Load(Connection& c, std::string_view id) const {
  domain::User start;
  int64_t after = 0;
  auto snapshot = storage::LoadSnapshot(c, id);
  if (!snapshot) return snapshot.error();
  if (*snapshot) {
    // A snapshot that does not open (lost key, older schema) is only an optimisation lost:
    // replay the whole stream instead.
    if (auto state = OpenSnapshot(vault_, id, (*snapshot)->state)) {
      if (auto user = domain::FromSnapshot(*state)) {
        start = std::move(*user);
        after = start.version();
      }
    }
  }
  auto stored = storage::Load(c, id, after);
  if (!stored) return stored.error();
  if (after == 0 && stored->empty()) return Error{ErrorCode::kNotFound, "no such user", "id"};
  auto events = Open(id, *stored);
  if (!events) return events.error();
  return domain::Rehydrate(std::move(start), *events);
}

Result<domain::User> UserRepository::LoadAsOf(Connection& c, std::string_view id,
                                              WallTime as_of) const {
  auto stored = storage::LoadUntil(c, id, as_of);
  if (!stored) return stored.error();
  if (stored->empty()) return Error{ErrorCode::kNotFound, "no such user at that time", "id"};
  auto events = Open(id, *stored);
  if (!events) return events.error();
  return domain::Rehydrate(*events);
}

Result<std::vector<storage::StoredEvent>> UserRepository::History(Connection& c,
                                                                  std::string_view id) const {
  auto stored = storage::Load(c, id, 0);
  if (!stored) return stored.error();
  for (auto& e : *stored) {
    auto data = OpenEventData(vault_, id, e.type, e.data);
    if (!data) return data.error();
    e.data = std::move(*data);
  }
  return stored;
}

Result<domain::User> UserRepository::Save(Connection& tx, const domain::User& before,
                                          const domain::UserEvents& events, WallTime now,
                                          const Publication& publication) const {
  if (events.empty()) return before;
  auto after = domain::Rehydrate(before, events);
  if (!after) return after.error();
  const std::string& id = after->id();

  std::vector<storage::NewEvent> sealed;
  sealed.reserve(events.size());
  for (const auto& e : events) {
    auto data = SealEventData(vault_, id, e.type, e.data);
    if (!data) return data.error();
    sealed.push_back(storage::NewEvent{e.type, std::move(*data)});
  }
  auto version = storage::Append(tx, id, before.version(), sealed, now);
  if (!version) return version.error();

  if (auto projected = Project(tx, *after); !projected) return projected.error();

  if (snapshots_.ShouldSnapshot(before.version(), *version)) {
    auto state = SealSnapshot(vault_, id, domain::ToSnapshot(*after));
    if (!state) return state.error();
    auto saved = storage::SaveSnapshot(tx, id, *version, *state, now);
    if (!saved) return saved.error();
  }

  if (publication.enabled) {
    int64_t v = before.version();
    for (const auto& e : events) {
      auto event = messaging::MakeEvent("identity", e.type, id, IntegrationData(id, ++v, e),
                                        publication.trace);
      if (auto queued = messaging::Enqueue(tx, event); !queued) return queued.error();
    }
  }
  return after;
}

Result<void> UserRepository::Project(Connection& tx, const domain::User& user) const {
  const std::string& id = user.id();
  auto index = vault_.EmailIndex(user.email());
  if (!index) return index.error();
  auto email = vault_.Seal(user.email(), Where("email", id));
  if (!email) return email.error();
  std::string phone;
  if (!user.phone().empty()) {
    auto sealed = vault_.Seal(user.phone(), Where("phone", id));
    if (!sealed) return sealed.error();
    phone = std::move(*sealed);
  }
  json::array addresses;
  for (const auto& a : user.addresses()) addresses.push_back(domain::ToJson(a));
  auto sealed_addresses = vault_.Seal(json::serialize(addresses), Where("addresses", id));
  if (!sealed_addresses) return sealed_addresses.error();

  auto written = tx.Execute(
      "INSERT INTO users (id, email_index, email, name, phone, addresses, preferences, roles, "
      "active, "
      "password_hash, version, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
      "ON CONFLICT (id) DO UPDATE SET email_index = $2, email = $3, name = $4, phone = $5, "
      "addresses = $6, preferences = $7, roles = $8, active = $9, password_hash = $10, "
      "version = $11, updated_at = $13",
      {id, *index, *email, user.name(), phone, *sealed_addresses,
       json::serialize(user.preferences()), json::serialize(RoleNames(user.roles())),
       int64_t{user.active() ? 1 : 0}, user.password_hash(), user.version(),
       FormatRfc3339(user.created_at()), FormatRfc3339(user.updated_at())});
  if (!written) {
    if (written.error().code == ErrorCode::kAlreadyExists) {
      return Error{ErrorCode::kAlreadyExists, "this email is already registered", "email"};
    }
    return written.error();
  }
  return Ok();
}

constexpr std::string_view kUserColumns =
    "id, email, name, phone, addresses, preferences, roles, active, password_hash, version, "
    "created_at, updated_at";

Result<UserView> UserRepository::ReadRow(const mercato::storage::Row& row) const {
  UserView v;
  v.id = row.String(0);
  auto email = vault_.Open(row.String(1), Where("email", v.id));
  if (!email)
    return Error{ErrorCode::kInternal, "cannot decrypt a user's email: " + email.error().message};
  v.email = std::move(email->plaintext);
  v.name = row.String(2);
  if (std::string phone = row.String(3); !phone.empty()) {
    auto opened = vault_.Open(phone, Where("phone", v.id));
    if (!opened)
      return Error{ErrorCode::kInternal,
                   "cannot decrypt a user's phone: " + opened.error().message};
    v.phone = std::move(opened->plaintext);
  }
  auto addresses = vault_.Open(row.String(4), Where("addresses", v.id));
  if (!addresses)
    return Error{ErrorCode::kInternal,
                 "cannot decrypt a user's addresses: " + addresses.error().message};
  std::error_code ec;
  auto list = json::parse(addresses->plaintext, ec);
  if (ec || !list.is_array())
    return Error{ErrorCode::kInternal, "a user's addresses are not a JSON array"};
  for (const auto& a : list.as_array()) {
    auto address = domain::AddressFromJson(a);
    if (!address) return address.error();
    v.addresses.push_back(std::move(*address));
  }
  auto preferences = json::parse(row.String(5), ec);
  if (ec || !preferences.is_object())
    return Error{ErrorCode::kInternal, "a user's preferences are not an object"};
  v.preferences = std::move(preferences.as_object());
  auto roles = json::parse(row.String(6), ec);
  if (ec || !roles.is_array())
    return Error{ErrorCode::kInternal, "a user's roles are not an array"};
  for (const auto& r : roles.as_array()) {
    if (r.is_string()) v.roles.emplace_back(r.as_string());
  }
  v.active = row.Int(7) != 0;
  v.password_hash = row.String(8);
  v.version = row.Int(9);
  if (!ParseRfc3339(row.String(10), v.created_at) || !ParseRfc3339(row.String(11), v.updated_at)) {
    return Error{ErrorCode::kInternal, "a user's timestamps do not parse"};
  }
  return v;
}

Result<std::optional<UserView>> UserRepository::Find(Connection& c, std::string_view id) const {
  auto rows = c.Query("SELECT " + std::string(kUserColumns) + " FROM users WHERE id = $1",
                      {std::string(id)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<UserView>{};
  auto view = ReadRow(rows->rows[0]);
  if (!view) return view.error();
  return std::optional<UserView>(std::move(*view));
}

Result<std::optional<UserView>> UserRepository::FindByEmail(
    Connection& c, std::string_view normalized_email) const {
  auto index = vault_.EmailIndex(normalized_email);
  if (!index) return index.error();
  auto rows = c.Query("SELECT " + std::string(kUserColumns) + " FROM users WHERE email_index = $1",
                      {*index});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<UserView>{};
  auto view = ReadRow(rows->rows[0]);
  if (!view) return view.error();
  return std::optional<UserView>(std::move(*view));
}

Result<bool> UserRepository::AnyAdmin(Connection& c) const {
  auto rows = c.Query("SELECT count(*) FROM users WHERE roles LIKE '%\"admin\"%' AND active = 1");
  if (!rows) return rows.error();
  return rows->rows[0].Int(0) > 0;
}

Result<std::int64_t> UserRepository::RebuildReadModel(Connection& tx) const {
  if (auto cleared = tx.Execute("DELETE FROM users"); !cleared) return cleared.error();
  auto streams = tx.Query("SELECT DISTINCT stream_id FROM events ORDER BY stream_id");
  if (!streams) return streams.error();
  std::int64_t projected = 0;
  for (const auto& row : streams->rows) {
    auto user = Load(tx, row.String(0));
    if (!user) return user.error();
    if (auto p = Project(tx, *user); !p) return p.error();
    ++projected;
  }
  return projected;
}

}  // namespace mercato::identity::app
