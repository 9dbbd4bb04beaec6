-- jiralink schema, version 6: several servers on one database.
-- Forward-only: never edit this file once released.

-- Every edit names the version it was made from; a stale one changes nothing.
ALTER TABLE connections ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE oauth_clients ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Who is refreshing the connection's OAuth 2.0 tokens, and until when at the latest. No
-- transaction is held during the token request; the lease makes the refresh single-flight.
ALTER TABLE connections ADD COLUMN refresh_lease_holder TEXT;
ALTER TABLE connections ADD COLUMN refresh_lease_until TEXT;

-- Background work, claimed by one server at a time with a lease.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY NOT NULL,    -- uuid
    kind              TEXT NOT NULL,                -- what runs it, e.g. 'connections.retest'
    key               TEXT NOT NULL UNIQUE,         -- one job per key
    payload           TEXT NOT NULL,                -- JSON, never a secret
    next_run_at       TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,   -- claims since the last success
    lease_holder      TEXT,
    lease_until       TEXT,
    last_outcome      TEXT,
    last_finished_at  TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (next_run_at);

-- The history of each job's runs.
CREATE TABLE job_runs (
    id           TEXT PRIMARY KEY NOT NULL,         -- uuid
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    outcome      TEXT NOT NULL,                     -- running | succeeded | failed | abandoned
    detail       TEXT
);
CREATE INDEX job_runs_job ON job_runs (job_id, started_at);
CREATE INDEX job_runs_started ON job_runs (started_at);

-- A connection's concurrency level across servers: each request to Jira holds one slot.
CREATE TABLE connection_slots (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    slot           INTEGER NOT NULL,
    holder         TEXT,
    lease_until    TEXT,
    PRIMARY KEY (connection_id, slot)
);

-- Installation-wide values that are not secrets (the hash of the server's API key).
CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
