#include "storage/event_store.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/error_code.hpp>

namespace mercato::identity::storage {

using mercato::storage::Connection;
using mercato::storage::Row;
using mercato::storage::Rows;
using mercato::storage::Value;

namespace {

// The stored text was written by Serialize below, so a parse failure means the row was edited
// or corrupted outside the store: an internal error, not the caller's.
Result<boost::json::value> ParseStored(const std::string& text, std::string_view what,
                                       std::string_view stream_id, int64_t version) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) {
    return Error{ErrorCode::kInternal, std::string(what) + " of stream " + std::string(stream_id) +
                                           " version " + std::to_string(version) +
                                           " is not valid JSON: " + ec.message()};
  }
  return value;
}

Result<WallTime> ParseTime(const std::string& text, std::string_view stream_id, int64_t version) {
  WallTime t;
  if (!ParseRfc3339(text, t)) {
    return Error{ErrorCode::kInternal, "recorded_at of stream " + std::string(stream_id) +
                                           " version " + std::to_string(version) +
                                           " is not RFC 3339"};
  }
  return t;
}

// Columns: version, type, data, recorded_at.
Result<std::vector<StoredEvent>> ToEvents(const Rows& rows, std::string_view stream_id) {
  std::vector<StoredEvent> events;
  events.reserve(rows.size());
  for (const Row& row : rows) {
    StoredEvent event;
    event.stream_id = std::string(stream_id);
    event.version = row.Int("version");
    event.type = row.String("type");
    auto data = ParseStored(row.String("data"), "event data", stream_id, event.version);
    if (!data) return std::move(data).error();
    event.data = std::move(*data);
    auto at = ParseTime(row.String("recorded_at"), stream_id, event.version);
    if (!at) return std::move(at).error();
    event.recorded_at = *at;
    events.push_back(std::move(event));
  }
  return events;
}

Result<void> CheckStreamId(std::string_view stream_id) {
  if (stream_id.empty()) return Error{ErrorCode::kInvalidArgument, "empty stream id", "stream_id"};
  return Ok();
}

}  // namespace

Result<int64_t> Append(Connection& tx, std::string_view stream_id, int64_t expected_version,
                       const std::vector<NewEvent>& events, WallTime now) {
  if (auto ok = CheckStreamId(stream_id); !ok) return std::move(ok).error();
  if (expected_version < 0) {
    return Error{ErrorCode::kInvalidArgument, "expected version must not be negative",
                 "expected_version"};
  }
  // An empty append would succeed without writing, hiding a caller bug (a command that decided
  // nothing still bumps nothing, so it should not call Append at all).
  if (events.empty()) return Error{ErrorCode::kInvalidArgument, "no events to append", "events"};
  for (const NewEvent& event : events) {
    if (event.type.empty()) return Error{ErrorCode::kInvalidArgument, "empty event type", "type"};
  }

  const std::string stream(stream_id);
  auto last = tx.Query(
      "SELECT version, recorded_at FROM events WHERE stream_id = $1 "
      "ORDER BY version DESC LIMIT 1",
      {stream});
  if (!last) return std::move(last).error();
  const int64_t current = last->empty() ? 0 : (*last)[0].Int("version");
  if (current != expected_version) {
    return Error{ErrorCode::kAborted, "stream " + stream + " is at version " +
                                          std::to_string(current) + ", expected " +
                                          std::to_string(expected_version)};
  }

  // Times never go backwards within a stream (an NTP step, another host's clock), so that
  // LoadUntil's "recorded_at <= as_of" always selects a prefix of the stream, never a gap.
  std::string recorded_at = FormatRfc3339(now);
  if (!last->empty()) recorded_at = std::max(recorded_at, (*last)[0].String("recorded_at"));

  int64_t version = expected_version;
  for (const NewEvent& event : events) {
    ++version;
    auto inserted = tx.Execute(
        "INSERT INTO events (stream_id, version, type, data, recorded_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        {stream, version, event.type, boost::json::serialize(event.data), recorded_at});
    if (!inserted) {
      // A writer on another connection (or, on PostgreSQL, a transaction that read before ours
      // committed) passed the same check and took this version first: the same conflict as a
      // failed check, so the caller gets one code to retry on.
      if (inserted.error().code == ErrorCode::kAlreadyExists) {
        return Error{ErrorCode::kAborted,
                     "stream " + stream + " version " + std::to_string(version) +
                         " was written concurrently, expected " + std::to_string(expected_version)};
      }
      return std::move(inserted).error();
    }
  }
  return version;
}

Result<std::vector<StoredEvent>> Load(Connection& conn, std::string_view stream_id,
                                      int64_t after_version) {
  auto rows = conn.Query(
      "SELECT version, type, data, recorded_at FROM events "
      "WHERE stream_id = $1 AND version > $2 ORDER BY version",
      {std::string(stream_id), after_version});
  if (!rows) return std::move(rows).error();
  return ToEvents(*rows, stream_id);
}

Result<std::vector<StoredEvent>> LoadUntil(Connection& conn, std::string_view stream_id,
                                           WallTime as_of) {
  // Fixed-width UTC text compares in time order; the bound is truncated to milliseconds like
  // the stored times, so an event stamped in the same millisecond as as_of is included.
  auto rows = conn.Query(
      "SELECT version, type, data, recorded_at FROM events "
      "WHERE stream_id = $1 AND recorded_at <= $2 ORDER BY version",
      {std::string(stream_id), FormatRfc3339(as_of)});
  if (!rows) return std::move(rows).error();
  return ToEvents(*rows, stream_id);
}

Result<int64_t> CurrentVersion(Connection& conn, std::string_view stream_id) {
  auto rows = conn.Query(
      "SELECT COALESCE(MAX(version), 0) AS version FROM events "
      "WHERE stream_id = $1",
      {std::string(stream_id)});
  if (!rows) return std::move(rows).error();
  return (*rows)[0].Int("version");
}

Result<bool> SaveSnapshot(Connection& tx, std::string_view stream_id, int64_t version,
                          const boost::json::value& state, WallTime now) {
  if (auto ok = CheckStreamId(stream_id); !ok) return std::move(ok).error();
  if (version <= 0) {
    return Error{ErrorCode::kInvalidArgument, "snapshot version must be positive", "version"};
  }
  // The WHERE on the upsert makes "only forward" one atomic statement: no read-then-write gap
  // for a concurrent snapshotter to slip into.
  auto changed = tx.Execute(
      "INSERT INTO snapshots (stream_id, version, state, recorded_at) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
      "state = excluded.state, recorded_at = excluded.recorded_at "
      "WHERE excluded.version > snapshots.version",
      {std::string(stream_id), version, boost::json::serialize(state), FormatRfc3339(now)});
  if (!changed) return std::move(changed).error();
  return *changed > 0;
}

Result<std::optional<Snapshot>> LoadSnapshot(Connection& conn, std::string_view stream_id) {
  auto rows = conn.Query("SELECT version, state, recorded_at FROM snapshots WHERE stream_id = $1",
                         {std::string(stream_id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<Snapshot>();
  const Row& row = (*rows)[0];
  Snapshot snapshot;
  snapshot.stream_id = std::string(stream_id);
  snapshot.version = row.Int("version");
  auto state = ParseStored(row.String("state"), "snapshot", stream_id, snapshot.version);
  if (!state) return std::move(state).error();
  snapshot.state = std::move(*state);
  auto at = ParseTime(row.String("recorded_at"), stream_id, snapshot.version);
  if (!at) return std::move(at).error();
  snapshot.recorded_at = *at;
  return std::optional<Snapshot>(std::move(snapshot));
}

bool SnapshotPolicy::ShouldSnapshot(int64_t old_version, int64_t new_version) const {
  if (every <= 0 || new_version <= old_version) return false;
  // Integer division counts the multiples of `every` up to a version; it only does so for
  // non-negative numbers, hence the clamp (a stream starts at version 0).
  const int64_t from = std::max<int64_t>(old_version, 0);
  return new_version / every > from / every;
}

}  // namespace mercato::identity::storage
