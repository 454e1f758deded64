-- The read model (CQRS): one row per user, the fold of the user's events, written in the same
-- transaction as the events it reflects. Queries and lookups read it; the event store stays the
-- source of truth (the table can be rebuilt from it: `identity rebuild-read-model`).
-- Personal data is stored only encrypted (AES-256-GCM values bound to the row and column):
-- email, phone, addresses. email_index is an HMAC-SHA256 blind index of the normalised email,
-- so "find by email" and "is this email taken" work without the plaintext; it is UNIQUE, so
-- two registrations racing for one email collide in the database.
CREATE TABLE users (
  id            TEXT    PRIMARY KEY,
  email_index   TEXT    NOT NULL UNIQUE,
  email         TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  phone         TEXT    NOT NULL,       -- ciphertext, or '' when the user has none
  addresses     TEXT    NOT NULL,       -- ciphertext of the JSON array
  preferences   TEXT    NOT NULL,       -- JSON object
  roles         TEXT    NOT NULL,       -- JSON array of role names
  active        INTEGER NOT NULL,
  password_hash TEXT    NOT NULL,       -- Argon2id PHC string
  version       INTEGER NOT NULL,       -- the event stream's version this row reflects
  created_at    TEXT    NOT NULL,
  updated_at    TEXT    NOT NULL
);
