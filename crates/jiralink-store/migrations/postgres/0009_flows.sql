-- jiralink schema, version 9, for PostgreSQL: flows (an export feeding an import), their runs, and the id map
-- that links issues two sites keep in step. Forward-only: never edit this file once released.

-- A flow: a saved export whose records a saved import writes. Its export and import cannot be
-- deleted while it exists (RESTRICT).
CREATE TABLE flows (
    id             TEXT COLLATE "C" PRIMARY KEY,      -- uuid
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL UNIQUE,           -- the name folded for case
    export_id      TEXT COLLATE "C" NOT NULL REFERENCES exports (id) ON DELETE RESTRICT,
    import_id      TEXT COLLATE "C" NOT NULL REFERENCES imports (id) ON DELETE RESTRICT,
    schedule       TEXT,                           -- JSON: when; NULL runs on request only
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX flows_export ON flows (export_id);
CREATE INDEX flows_import ON flows (import_id);

-- One run of a flow: its export run, then its import run, then the id map.
CREATE TABLE flow_runs (
    id             TEXT COLLATE "C" PRIMARY KEY,      -- uuid
    -- The two connections of the flow, sorted: flows between the same two never run at once.
    pair_key       TEXT NOT NULL,
    flow_id        TEXT COLLATE "C" NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    triggered_by   TEXT NOT NULL,
    state          TEXT NOT NULL,                  -- running | succeeded | failed | cancelled | skipped
    phase          TEXT NOT NULL,                  -- export | import | link | done
    export_run_id  TEXT,
    import_run_id  TEXT,
    stats          TEXT NOT NULL,                  -- JSON
    error          TEXT,
    holder         TEXT,
    lease_until    TEXT,
    started_at     TEXT NOT NULL,
    finished_at    TEXT
);
CREATE UNIQUE INDEX flow_runs_one_running ON flow_runs (flow_id) WHERE state = 'running';
CREATE UNIQUE INDEX flow_runs_one_running_pair ON flow_runs (pair_key) WHERE state = 'running';
CREATE INDEX flow_runs_flow ON flow_runs (flow_id, started_at);

-- The id map: an issue on one connection and its copy on another, one row per direction.
-- `seen_updated` is the issue's `updated` when a flow last read it or wrote it: a record whose
-- `updated` still equals it has not changed since (and is not sent back: no echo).
CREATE TABLE sync_links (
    connection_id       TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    issue_id            TEXT NOT NULL,
    peer_connection_id  TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    issue_key           TEXT NOT NULL,
    peer_issue_id       TEXT NOT NULL,
    peer_issue_key      TEXT NOT NULL,
    seen_updated        TEXT,
    at                  TEXT NOT NULL,
    PRIMARY KEY (connection_id, issue_id, peer_connection_id)
);

-- Comments copied between linked issues, one row per direction; `body_hash` is the hash of the
-- comment's body when a flow last read or wrote it.
CREATE TABLE sync_comment_links (
    connection_id       TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    comment_id          TEXT NOT NULL,
    peer_connection_id  TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    issue_id            TEXT NOT NULL,
    peer_comment_id     TEXT NOT NULL,
    body_hash           TEXT NOT NULL,
    at                  TEXT NOT NULL,
    PRIMARY KEY (connection_id, comment_id, peer_connection_id)
);
