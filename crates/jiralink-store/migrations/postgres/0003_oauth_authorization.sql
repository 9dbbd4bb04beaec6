-- jiralink schema, version 3, for PostgreSQL: OAuth 2.0 (3LO) authorization and token
-- refresh. Forward-only: never edit this file once released.

CREATE TABLE oauth_states (
    state_hash       TEXT COLLATE "C" PRIMARY KEY,
    connection_id    TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    redirect_uri     TEXT NOT NULL,
    key_id           TEXT COLLATE "C" NOT NULL,
    sealed_state     TEXT NOT NULL,
    sealed_verifier  TEXT NOT NULL,
    created_at       TEXT COLLATE "C" NOT NULL,
    expires_at       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

ALTER TABLE connections ADD COLUMN access_token_expires_at TEXT COLLATE "C";
