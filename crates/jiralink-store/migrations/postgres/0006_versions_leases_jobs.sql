-- jiralink schema, version 6, for PostgreSQL: several servers on one database.
-- Forward-only: never edit this file once released.

-- Every edit names the version it was made from; a stale one changes nothing.
ALTER TABLE connections ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE oauth_clients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Who is refreshing the connection's OAuth 2.0 tokens, and until when at the latest. No
-- transaction is held during the token request; the lease makes the refresh single-flight.
ALTER TABLE connections ADD COLUMN refresh_lease_holder TEXT;
ALTER TABLE connections ADD COLUMN refresh_lease_until TEXT COLLATE "C";

-- Background work, claimed by one server at a time with a lease.
CREATE TABLE jobs (
    id                TEXT COLLATE "C" PRIMARY KEY,    -- uuid
    kind              TEXT NOT NULL,                -- what runs it, e.g. 'connections.retest'
    key               TEXT COLLATE "C" NOT NULL UNIQUE,         -- one job per key
    payload           TEXT NOT NULL,                -- JSON, never a secret
    next_run_at       TEXT COLLATE "C" NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,   -- claims since the last success
    lease_holder      TEXT,
    lease_until       TEXT COLLATE "C",
    last_outcome      TEXT,
    last_finished_at  TEXT COLLATE "C",
    created_at        TEXT COLLATE "C" NOT NULL,
    updated_at        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX jobs_due ON jobs (next_run_at);

-- The history of each job's runs.
CREATE TABLE job_runs (
    id           TEXT COLLATE "C" PRIMARY KEY,         -- uuid
    job_id       TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    started_at   TEXT COLLATE "C" NOT NULL,
    finished_at  TEXT COLLATE "C",
    outcome      TEXT NOT NULL,                     -- running | succeeded | failed | abandoned
    detail       TEXT
);
CREATE INDEX job_runs_job ON job_runs (job_id, started_at);
CREATE INDEX job_runs_started ON job_runs (started_at);

-- A connection's concurrency level across servers: each request to Jira holds one slot.
CREATE TABLE connection_slots (
    connection_id  TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    slot           BIGINT NOT NULL,
    holder         TEXT,
    lease_until    TEXT COLLATE "C",
    PRIMARY KEY (connection_id, slot)
);

-- Installation-wide values that are not secrets (the hash of the server's API key).
CREATE TABLE settings (
    key         TEXT COLLATE "C" PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL
);
