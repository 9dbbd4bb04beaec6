-- jiralink schema, version 2: what testing a connection learns, and the connection debugger.
-- Forward-only: never edit this file once released.

-- The site's cloud id, found by a test (Basic) or an authorization (OAuth 2.0).
ALTER TABLE connections ADD COLUMN cloud_id TEXT;
-- When the connection was last tested, whatever the result.
ALTER TABLE connections ADD COLUMN last_tested_at TEXT;
-- Until when the connection debugger records the connection's requests.
ALTER TABLE connections ADD COLUMN debug_until TEXT;

-- One line per request and per response made for a connection in its debug window.
-- Headers and bodies are masked before they get here: no credential is ever written.
-- Lines older than 24 hours are purged whenever the log is written or read.
CREATE TABLE debug_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    at             TEXT NOT NULL,
    request_id     TEXT NOT NULL,                   -- pairs a request with its response
    direction      TEXT NOT NULL,                   -- 'request' | 'response'
    method         TEXT NOT NULL,
    url            TEXT NOT NULL,                   -- masked
    status         INTEGER,                         -- responses only
    duration_ms    INTEGER,                         -- responses only
    headers        TEXT NOT NULL,                   -- JSON array of [name, masked value]
    body           TEXT                             -- masked, cut at 64 KiB
);
CREATE INDEX debug_log_connection ON debug_log (connection_id, at);
CREATE INDEX debug_log_at ON debug_log (at);
