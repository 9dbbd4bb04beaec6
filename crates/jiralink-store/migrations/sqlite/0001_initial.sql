-- jiralink schema, version 1. Forward-only: never edit this file once released.

-- OAuth 2.0 client resources (the reusable client id / secret pair).
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY NOT NULL,          -- uuid
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,                -- case-insensitive uniqueness key
    client_id   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE connections (
    id                TEXT PRIMARY KEY NOT NULL,    -- uuid
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL UNIQUE,
    api_type          TEXT NOT NULL,
    auth_type         TEXT NOT NULL,
    -- the client a connection uses cannot disappear under it
    oauth_client_id   TEXT REFERENCES oauth_clients (id) ON DELETE RESTRICT,
    settings          TEXT NOT NULL,                -- JSON of the validated settings (no secrets)
    state             TEXT NOT NULL,                -- JSON of the connection state
    state_changed_at  TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX connections_oauth_client ON connections (oauth_client_id);

-- Every secret, sealed with AES-256-GCM. The plaintext never reaches this table:
-- `sealed` is "enc:v1:<key id>:<nonce||ciphertext||tag>" and its AAD binds it to
-- (owner_kind, owner_id, field), so a blob copied to another row does not open.
CREATE TABLE secrets (
    owner_kind  TEXT NOT NULL,                      -- 'connection' | 'oauth_client'
    owner_id    TEXT NOT NULL,
    field       TEXT NOT NULL,                      -- 'api_token' | 'client_secret' | ...
    key_id      TEXT NOT NULL,                      -- the master key that sealed it
    sealed      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, field)
);
CREATE INDEX secrets_key_id ON secrets (key_id);

-- Who changed what, never with secret values.
CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY NOT NULL,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    source         TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource_kind  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    resource_name  TEXT NOT NULL,
    changes        TEXT NOT NULL                    -- JSON array of field changes
);
CREATE INDEX audit_log_resource ON audit_log (resource_kind, resource_id, at);
