-- The catalog: categories, products (with their rating aggregate), the product-category links
-- that filters use, and reviews. Times are RFC 3339 UTC with milliseconds (fixed width, so text
-- order is time order). Money is integer minor units plus an ISO 4217 code.
CREATE TABLE categories (
  id          TEXT PRIMARY KEY,          -- a slug chosen by the admin: "running-shoes"
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at  TEXT NOT NULL
);

-- seq is the row's stable integer key (an INTEGER PRIMARY KEY survives VACUUM, a plain rowid
-- does not): the search index uses it as its rowid. Clients only ever see `id`.
-- categories, images and attributes are the document's JSON, so a product is read in one row;
-- product_categories repeats the categories for filtering.
-- rating_sum / rating_count is the exact aggregate, updated in the same transaction as the
-- review insert; rating_average is their quotient, stored for sorting by rating.
CREATE TABLE products (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT    NOT NULL UNIQUE,
  sku            TEXT    NOT NULL UNIQUE,
  name           TEXT    NOT NULL,
  description    TEXT    NOT NULL,
  price_amount   INTEGER NOT NULL CHECK (price_amount >= 0),
  currency       TEXT    NOT NULL,
  categories     TEXT    NOT NULL,       -- JSON array of category ids
  images         TEXT    NOT NULL,       -- JSON array of URLs
  attributes     TEXT    NOT NULL,       -- JSON object
  weight_g       INTEGER NOT NULL CHECK (weight_g >= 0),
  rating_count   INTEGER NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
  rating_sum     INTEGER NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
  rating_average REAL    NOT NULL DEFAULT 0,
  version        INTEGER NOT NULL CHECK (version > 0),   -- the ETag; +1 on every change
  created_at     TEXT    NOT NULL,
  updated_at     TEXT    NOT NULL
);
-- One index per sort order, each ending in id: the tie-break that keeps pagination stable.
CREATE INDEX products_by_price ON products (price_amount, id);
CREATE INDEX products_by_newest ON products (created_at, id);
CREATE INDEX products_by_rating ON products (rating_average, rating_count, id);

CREATE TABLE product_categories (
  product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  category_id TEXT NOT NULL REFERENCES categories (id),
  PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_by_category ON product_categories (category_id, product_id);

-- One review per user per product: the UNIQUE constraint decides a race between two requests.
CREATE TABLE reviews (
  id          TEXT    PRIMARY KEY,
  product_id  TEXT    NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  user_id     TEXT    NOT NULL,
  rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
  title       TEXT    NOT NULL,
  body        TEXT    NOT NULL,
  created_at  TEXT    NOT NULL,
  UNIQUE (product_id, user_id)
);
CREATE INDEX reviews_by_product ON reviews (product_id, created_at, id);

-- Full-text search (FTS5, bm25 ranking): rowid = products.seq. Maintained by the application
-- in the transaction that writes the product (storage/fts5_product_search.cpp), not by
-- triggers, so that the search backend can be swapped without touching this schema.
-- attributes holds the product's attributes flattened to "key value key value ...".
CREATE VIRTUAL TABLE products_fts USING fts5(
  name, description, attributes,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
