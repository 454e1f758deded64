-- The sample's catalogue: 100 items, so GET /items/{id} has realistic ~500-byte documents.
CREATE TABLE items (
  id          TEXT PRIMARY KEY,
  sku         TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
  currency    TEXT NOT NULL,
  weight_g    INTEGER NOT NULL,
  updated_at  TEXT NOT NULL
);

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
INSERT INTO items (id, sku, name, description, price_minor, currency, weight_g, updated_at)
SELECT printf('item-%04d', i),
       printf('HEL-%04d', i),
       printf('Sample item %d', i),
       printf('Sample item %d is a demonstration product of the Mercato hello service. It exists so '
              || 'that benchmarks and tests read a realistic document: a name, a description of a '
              || 'couple of sentences, a price in minor units and a weight. Its size, about half a '
              || 'kilobyte of JSON, is typical of a product summary in a shop.', i),
       499 + (i * 37) % 5000,
       'USD',
       100 + (i * 13) % 900,
       '2026-01-01T00:00:00.000Z'
FROM n;
