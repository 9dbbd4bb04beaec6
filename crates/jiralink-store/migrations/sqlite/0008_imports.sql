-- jiralink schema, version 8: import definitions, import runs (kept with export runs, which
-- they share their lease, checkpoint and output machinery with), and the import ledger.
-- Forward-only: never edit this file once released.

-- Saved import definitions. A connection that an import uses cannot be deleted (RESTRICT).
CREATE TABLE imports (
    id             TEXT PRIMARY KEY NOT NULL,      -- uuid
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL UNIQUE,           -- the name folded for case
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    spec           TEXT NOT NULL,                  -- JSON: mapping and input settings
    schedule       TEXT,                           -- JSON: when; NULL runs on request only
    enabled        INTEGER NOT NULL DEFAULT 1,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX imports_connection ON imports (connection_id);

-- What a run is: an export's (the default, for every run before this version) or an import's.
ALTER TABLE export_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'export';
ALTER TABLE export_runs ADD COLUMN import_id TEXT REFERENCES imports (id) ON DELETE CASCADE;
-- Never two running runs of one import definition either.
CREATE UNIQUE INDEX export_runs_one_running_import ON export_runs (import_id) WHERE state = 'running';
CREATE INDEX export_runs_import ON export_runs (import_id, started_at);

-- Record identity -> issue, per connection and ledger scope, across runs: what makes a re-run
-- or a resumed run create nothing twice. `uncertain` marks a create sent whose outcome is not
-- known yet.
CREATE TABLE import_ledger (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    identity       TEXT NOT NULL,
    state          TEXT NOT NULL,                  -- uncertain | done
    issue_key      TEXT,
    issue_id       TEXT,
    run_id         TEXT NOT NULL,
    at_ms          INTEGER NOT NULL,
    PRIMARY KEY (connection_id, scope, identity)
);
