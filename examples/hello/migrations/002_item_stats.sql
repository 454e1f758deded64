-- The consumer side of the sample: a read model built from hello.ItemUpdated events (CQRS).
-- item_stats counts updates per item; item_history keeps them in the order they were applied.
CREATE TABLE item_stats (
  item_id     TEXT PRIMARY KEY,
  updates     INTEGER NOT NULL,
  last_price  INTEGER NOT NULL,
  currency    TEXT NOT NULL
);

CREATE TABLE item_history (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  item_id     TEXT NOT NULL,
  event_id    TEXT NOT NULL UNIQUE,
  price_minor INTEGER NOT NULL
);
CREATE INDEX item_history_by_item ON item_history (item_id, seq);
