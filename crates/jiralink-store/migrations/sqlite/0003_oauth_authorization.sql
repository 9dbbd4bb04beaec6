-- jiralink schema, version 3: OAuth 2.0 (3LO) authorization and token refresh.
-- Forward-only: never edit this file once released.

-- Authorizations in progress. A row lives from the authorize URL until its callback (or ten
-- minutes). `state_hash` is the SHA-256 of `state`, so the plaintext is not needed to find the
-- row; the state itself and the PKCE verifier are sealed like every other secret (AAD:
-- 'oauth_state', state_hash, field), and the row is deleted in the statement that reads it.
CREATE TABLE oauth_states (
    state_hash       TEXT PRIMARY KEY NOT NULL,
    connection_id    TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    redirect_uri     TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    sealed_state     TEXT NOT NULL,
    sealed_verifier  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- When the stored access token expires; refresh happens shortly before.
ALTER TABLE connections ADD COLUMN access_token_expires_at TEXT;
