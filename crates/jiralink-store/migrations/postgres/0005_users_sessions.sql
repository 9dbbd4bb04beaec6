-- jiralink schema, version 5, for PostgreSQL: users who sign in, their sessions and API keys.
-- Forward-only: never edit this file once released.

CREATE TABLE users (
    id             TEXT COLLATE "C" PRIMARY KEY,
    username       TEXT NOT NULL,
    username_key   TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TEXT COLLATE "C" NOT NULL,
    updated_at     TEXT COLLATE "C" NOT NULL
);

CREATE TABLE sessions (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    last_seen_at  TEXT COLLATE "C" NOT NULL,
    expires_at    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_attempts (
    username_key  TEXT COLLATE "C" NOT NULL,
    address       TEXT COLLATE "C" NOT NULL,
    at            TEXT COLLATE "C" NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts (username_key, address, at);

CREATE TABLE api_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at    TEXT COLLATE "C" NOT NULL,
    last_used_at  TEXT COLLATE "C"
);
CREATE INDEX api_keys_user ON api_keys (user_id);
