-- jiralink schema, version 10: listeners (Jira's webhooks feeding a flow), the deliveries they
-- received, the replay guard, and where each issue's events were applied up to.
-- Forward-only: never edit this file once released.

-- A listener: a flow's source bound to a connection. Jira calls `/hooks/jira/<token>`; the
-- token only routes the call, every delivery is verified (a JWT for dynamic webhooks, an
-- `X-Hub-Signature` for admin webhooks, whose secret is in `secrets`).
CREATE TABLE listeners (
    id             TEXT PRIMARY KEY NOT NULL,      -- uuid
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL UNIQUE,           -- the name folded for case
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    flow_id        TEXT NOT NULL REFERENCES flows (id) ON DELETE RESTRICT,
    token          TEXT NOT NULL UNIQUE,
    mode           TEXT NOT NULL,                  -- dynamic | admin
    events         TEXT NOT NULL,                  -- JSON array of Jira event names
    jql            TEXT,
    field_ids      TEXT NOT NULL,                  -- JSON array
    webhook_ids    TEXT NOT NULL,                  -- JSON array of Jira's webhook ids
    expires_at     TEXT,                           -- when Jira drops the dynamic webhooks
    state          TEXT NOT NULL,                  -- active | failed | expired
    state_reason   TEXT,
    status         TEXT NOT NULL,                  -- JSON: safety-net cursor and results, ...
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX listeners_flow ON listeners (flow_id);
CREATE INDEX listeners_connection ON listeners (connection_id);

-- Deliveries, stored before they are acknowledged and processed afterwards.
CREATE TABLE listener_events (
    listener_id    TEXT NOT NULL REFERENCES listeners (id) ON DELETE CASCADE,
    delivery_id    TEXT NOT NULL,                  -- X-Atlassian-Webhook-Identifier
    kind           TEXT NOT NULL,                  -- webhookEvent
    issue_ids      TEXT NOT NULL,                  -- the issues it is about, comma-separated
    event_ms       INTEGER NOT NULL,               -- the event's own timestamp
    body           TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    state          TEXT NOT NULL,                  -- pending | done | skipped
    flow_run_id    TEXT,
    processed_at   TEXT,
    PRIMARY KEY (listener_id, delivery_id)
);
CREATE INDEX listener_events_pending ON listener_events (listener_id, state, event_ms);
CREATE INDEX listener_events_received ON listener_events (listener_id, received_at);

-- What a delivery's signature covered (a JWT's `jti`, a signed body's hash), kept for a while:
-- the same signed request twice is a replay.
CREATE TABLE listener_replays (
    listener_id    TEXT NOT NULL REFERENCES listeners (id) ON DELETE CASCADE,
    replay_key     TEXT NOT NULL,
    seen_at        TEXT NOT NULL,
    PRIMARY KEY (listener_id, replay_key)
);
CREATE INDEX listener_replays_seen ON listener_replays (seen_at);

-- Per issue, the newest event time applied: an older event arriving late changes nothing.
CREATE TABLE listener_issues (
    listener_id    TEXT NOT NULL REFERENCES listeners (id) ON DELETE CASCADE,
    issue_id       TEXT NOT NULL,
    applied_ms     INTEGER NOT NULL,
    PRIMARY KEY (listener_id, issue_id)
);

-- A flow run fed by a listener reads only the issues its events named.
ALTER TABLE flow_runs ADD COLUMN source TEXT;
