-- Inventory: which products exist (from catalog's events), warehouses, stock per product per
-- warehouse, and reservations. The invariant the checkout saga relies on is enforced by the
-- database itself on every stock row: available + reserved + sold = received, none negative.
-- A transition that would break it fails its CHECK and rolls the whole transaction back.
CREATE TABLE products (
  id                  TEXT    PRIMARY KEY,
  sku                 TEXT    NOT NULL DEFAULT '',
  name                TEXT    NOT NULL DEFAULT '',
  low_stock_threshold INTEGER NOT NULL CHECK (low_stock_threshold >= 0),
  deleted             INTEGER NOT NULL DEFAULT 0,
  created_at          TEXT    NOT NULL,
  updated_at          TEXT    NOT NULL
);

CREATE TABLE warehouses (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE stock (
  product_id   TEXT    NOT NULL REFERENCES products (id),
  warehouse_id TEXT    NOT NULL REFERENCES warehouses (id),
  received     INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
  available    INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
  reserved     INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  sold         INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),
  PRIMARY KEY (product_id, warehouse_id),
  CHECK (available + reserved + sold = received)
);

-- One reservation per order (the idempotency key). request_hash identifies the request body, so
-- the same order id with a different body is refused instead of silently answered.
CREATE TABLE reservations (
  id           TEXT PRIMARY KEY,
  order_id     TEXT NOT NULL UNIQUE,
  status       TEXT NOT NULL CHECK (status IN ('RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RETURNED')),
  request_hash TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'RESERVED';

-- What a reservation holds, per warehouse it was allocated from.
CREATE TABLE reservation_lines (
  reservation_id TEXT    NOT NULL REFERENCES reservations (id),
  product_id     TEXT    NOT NULL,
  warehouse_id   TEXT    NOT NULL,
  quantity       INTEGER NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (reservation_id, product_id, warehouse_id)
);
CREATE INDEX reservation_lines_by_product ON reservation_lines (product_id);

-- Every receipt, for audit: stock never appears without one. A receipt posted with an
-- Idempotency-Key is recorded under it, so a retried receipt is not counted twice.
CREATE TABLE receipts (
  id              TEXT    PRIMARY KEY,
  product_id      TEXT    NOT NULL,
  warehouse_id    TEXT    NOT NULL,
  quantity        INTEGER NOT NULL CHECK (quantity > 0),
  received_at     TEXT    NOT NULL,
  idempotency_key TEXT    UNIQUE
);
