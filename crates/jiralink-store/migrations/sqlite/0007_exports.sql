-- jiralink schema, version 7: export definitions, their runs, and each run's output.
-- Forward-only: never edit this file once released.

-- Saved export definitions. A connection that an export uses cannot be deleted (RESTRICT).
CREATE TABLE exports (
    id             TEXT PRIMARY KEY NOT NULL,      -- uuid
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL UNIQUE,           -- the name folded for case
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    spec           TEXT NOT NULL,                  -- JSON: what to export
    schedule       TEXT,                           -- JSON: when; NULL runs on request only
    enabled        INTEGER NOT NULL DEFAULT 1,
    delta_cursor   TEXT,                           -- JSON: where the next delta run starts
    known_ids      BLOB,                           -- ids the last successful run saw
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX exports_connection ON exports (connection_id);

-- Runs of a definition (or ad hoc, without one), held by one holder at a time with a lease.
CREATE TABLE export_runs (
    id                 TEXT PRIMARY KEY NOT NULL,  -- uuid
    export_id          TEXT REFERENCES exports (id) ON DELETE CASCADE,
    connection_id      TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    triggered_by       TEXT NOT NULL,              -- manual | schedule | cli | api
    spec               TEXT NOT NULL,              -- JSON, frozen when the run started
    state              TEXT NOT NULL,              -- running | succeeded | failed | cancelled | skipped
    reason             TEXT,
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    holder             TEXT,
    lease_until        TEXT,
    stats              TEXT NOT NULL,              -- JSON
    checkpoint         TEXT,                       -- JSON: where to resume
    cursor_before      TEXT,
    cursor_after       TEXT,
    error              TEXT,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    output_bytes       INTEGER NOT NULL DEFAULT 0, -- written in total
    output_chunks      INTEGER NOT NULL DEFAULT 0, -- held now (0 once deleted)
    output_file        TEXT,
    output_expires_at  TEXT,
    resumed            INTEGER NOT NULL DEFAULT 0  -- times taken over
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
    run_id  TEXT NOT NULL REFERENCES export_runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
);
