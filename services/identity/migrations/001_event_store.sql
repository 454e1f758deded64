-- The identity event store: every change to an aggregate is an event appended to its stream,
-- never updated or deleted; state is rebuilt by replaying a stream in version order.
-- (stream_id, version) is the primary key so that two writers racing for the same version
-- collide in the database even if both passed the application's version check.
-- recorded_at is RFC 3339 UTC with milliseconds ("2026-11-25T19:03:17.123Z"): fixed width, so
-- text order is time order and `recorded_at <= $2` answers ?as_of= queries.
CREATE TABLE events (
  stream_id   TEXT    NOT NULL,
  version     INTEGER NOT NULL CHECK (version > 0),
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  recorded_at TEXT    NOT NULL,
  PRIMARY KEY (stream_id, version)
);

-- One snapshot per stream (the latest), so a load replays only the events after it.
CREATE TABLE snapshots (
  stream_id   TEXT    PRIMARY KEY,
  version     INTEGER NOT NULL CHECK (version > 0),
  state       TEXT    NOT NULL,
  recorded_at TEXT    NOT NULL
);
