-- Two statements in one migration; the comment also holds text that must not end the embedded
-- raw string literal: )msql" and )" and R"( and a backslash \n that stays two characters.
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  note TEXT NOT NULL DEFAULT ')msql"'
);
CREATE INDEX orders_by_user ON orders(user_id);
