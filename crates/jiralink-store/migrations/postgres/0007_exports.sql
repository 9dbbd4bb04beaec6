-- jiralink schema, version 7, for PostgreSQL: export definitions, their runs, and each
-- run's output. Forward-only: never edit this file once released.

-- Saved export definitions. A connection that an export uses cannot be deleted (RESTRICT).
CREATE TABLE exports (
    id             TEXT COLLATE "C" PRIMARY KEY,   -- uuid
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL UNIQUE,           -- the name folded for case
    connection_id  TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    spec           TEXT NOT NULL,                  -- JSON: what to export
    schedule       TEXT,                           -- JSON: when; NULL runs on request only
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    delta_cursor   TEXT,                           -- JSON: where the next delta run starts
    known_ids      BYTEA,                          -- ids the last successful run saw
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TEXT COLLATE "C" NOT NULL,
    updated_at     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX exports_connection ON exports (connection_id);

-- Runs of a definition (or ad hoc, without one), held by one holder at a time with a lease.
CREATE TABLE export_runs (
    id                 TEXT COLLATE "C" PRIMARY KEY,  -- uuid
    export_id          TEXT COLLATE "C" REFERENCES exports (id) ON DELETE CASCADE,
    connection_id      TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    triggered_by       TEXT NOT NULL,              -- manual | schedule | cli | api
    spec               TEXT NOT NULL,              -- JSON, frozen when the run started
    state              TEXT NOT NULL,              -- running | succeeded | failed | cancelled | skipped
    reason             TEXT,
    started_at         TEXT COLLATE "C" NOT NULL,
    finished_at        TEXT COLLATE "C",
    holder             TEXT,
    lease_until        TEXT COLLATE "C",
    stats              TEXT NOT NULL,              -- JSON
    checkpoint         TEXT,                       -- JSON: where to resume
    cursor_before      TEXT,
    cursor_after       TEXT,
    error              TEXT,
    cancel_requested   BOOLEAN NOT NULL DEFAULT FALSE,
    output_bytes       BIGINT NOT NULL DEFAULT 0,  -- written in total
    output_chunks      BIGINT NOT NULL DEFAULT 0,  -- held now (0 once deleted)
    output_file        TEXT,
    output_expires_at  TEXT COLLATE "C",
    resumed            BIGINT NOT NULL DEFAULT 0   -- times taken over
);
-- Never two running runs of one definition, whichever server starts them.
CREATE UNIQUE INDEX export_runs_one_running ON export_runs (export_id) WHERE state = 'running';
CREATE INDEX export_runs_export ON export_runs (export_id, started_at);
CREATE INDEX export_runs_connection ON export_runs (connection_id, started_at);
CREATE INDEX export_runs_started ON export_runs (started_at);
CREATE INDEX export_runs_expiry ON export_runs (output_expires_at);
-- Interrupted runs are looked for by their lease among the running ones.
CREATE INDEX export_runs_running ON export_runs (lease_until) WHERE state = 'running';

-- Each run's output, one chunk per checkpoint, numbered from 1.
CREATE TABLE export_run_chunks (
    run_id  TEXT COLLATE "C" NOT NULL REFERENCES export_runs (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (run_id, seq)
);
