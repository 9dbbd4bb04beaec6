-- jiralink schema, version 4, for PostgreSQL: a token refresh whose outcome is unknown.
-- Forward-only: never edit this file once released.

ALTER TABLE connections ADD COLUMN refresh_pending_since TEXT COLLATE "C";
