-- Refresh tokens: opaque 256-bit random strings, stored only as SHA-256 hashes (a leak of this
-- table leaks no usable token). Each login starts a family; every refresh marks the presented
-- token used and adds its successor to the same family. Presenting a used token again means two
-- parties hold it (a thief and the victim): the whole family is revoked, logging both out.
CREATE TABLE refresh_families (
  id            TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  revoked_at    TEXT,
  revoke_reason TEXT                    -- 'logout', 'reuse', 'deactivated'
);
CREATE INDEX refresh_families_by_user ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,          -- lower-case hex SHA-256 of the token
  family_id  TEXT NOT NULL REFERENCES refresh_families (id),
  issued_at  TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at    TEXT                       -- set when rotated; a second use is reuse
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
