-- jiralink schema, version 5: users who sign in, their sessions and API keys.
-- Forward-only: never edit this file once released.

-- People who sign in to the web UI. `username_key` is the lower-cased name, so names are
-- unique without regard to case. `password_hash` is an Argon2id PHC string
-- ("$argon2id$v=19$m=…,t=…,p=…$salt$hash"); the password itself is never stored.
CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,       -- uuid
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    is_admin       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- Signed-in browsers. `id` is the hex SHA-256 of the session token: the token lives only in
-- the browser's cookie, so a copy of this table opens no session.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,                    -- random per session, sent in every form
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL                     -- the absolute end, whatever the activity
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed sign-ins, for throttling. Kept in the database so that every server sharing it
-- counts the same failures.
CREATE TABLE login_attempts (
    username_key  TEXT NOT NULL,
    address       TEXT NOT NULL,
    at            TEXT NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts (username_key, address, at);

-- Users' API keys for scripts. `key_hash` is the hex SHA-256 of the key; `prefix` is its
-- first characters, shown so a user can tell keys apart.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,        -- uuid
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id);
