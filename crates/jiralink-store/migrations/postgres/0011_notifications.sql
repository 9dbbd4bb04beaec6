-- jiralink schema, version 11, for PostgreSQL: notifications. Who wants to hear about what,
-- the last known state of everything watched (so a change is told once, not every failed
-- call), the changes waiting to be told, and every message sent or being sent. Version 10
-- belongs to listeners. Forward-only: never edit this file once released.

-- A user's wish to hear about a topic, for every subject (`subject_kind` and `subject_id`
-- empty) or one (a connection, an export, …), by e-mail (`address`) or through the
-- installation's webhook (`address` empty).
CREATE TABLE notification_subscriptions (
    id            TEXT COLLATE "C" PRIMARY KEY,       -- uuid
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic         TEXT NOT NULL,                   -- e.g. connection.offline
    subject_kind  TEXT NOT NULL DEFAULT '',
    subject_id    TEXT NOT NULL DEFAULT '',
    channel       TEXT NOT NULL,                   -- email | webhook
    address       TEXT NOT NULL DEFAULT '',
    created_at    TEXT COLLATE "C" NOT NULL,
    UNIQUE (user_id, topic, subject_kind, subject_id, channel, address)
);
CREATE INDEX notification_subscriptions_topic ON notification_subscriptions (topic);

-- The last known state per (topic, subject): a notification goes out only when it changes.
CREATE TABLE notification_states (
    topic         TEXT NOT NULL,
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    state         TEXT NOT NULL,                   -- ok | trouble
    detail        TEXT,
    changed_at    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (topic, subject_kind, subject_id)
);

-- Changes of state waiting, per recipient (channel and address), to be put in a message:
-- alone, or with the others of a short window in one digest.
CREATE TABLE notification_events (
    id            TEXT COLLATE "C" PRIMARY KEY,       -- uuid
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel       TEXT NOT NULL,
    address       TEXT NOT NULL,
    topic         TEXT NOT NULL,
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    subject_name  TEXT NOT NULL,
    state         TEXT NOT NULL,                   -- the new state: ok | trouble
    detail        TEXT,
    link          TEXT NOT NULL,                   -- the page that explains and fixes it
    at            TEXT COLLATE "C" NOT NULL
);
CREATE INDEX notification_events_recipient ON notification_events (channel, address, at);

-- Every message: waiting, sent, or given up on after its attempts.
CREATE TABLE notifications (
    id               TEXT COLLATE "C" PRIMARY KEY,    -- uuid
    user_id          TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    address          TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    events           TEXT NOT NULL,                -- JSON: the changes it tells
    state            TEXT NOT NULL,                -- pending | sent | failed
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  TEXT COLLATE "C",
    created_at       TEXT COLLATE "C" NOT NULL,
    sent_at          TEXT COLLATE "C"
);
CREATE INDEX notifications_created ON notifications (created_at, id);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
