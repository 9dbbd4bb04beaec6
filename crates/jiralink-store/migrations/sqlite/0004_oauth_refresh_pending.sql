-- jiralink schema, version 4: a token refresh whose outcome is unknown.
-- Forward-only: never edit this file once released.

-- Set when a refresh failed on the way (timeout, reset, 5xx): Atlassian may have rotated the
-- refresh token and the answer was lost. The old token is accepted again for ten minutes
-- only, so the refresh is finished as soon as possible, even after a restart. Cleared when
-- tokens are saved or forgotten.
ALTER TABLE connections ADD COLUMN refresh_pending_since TEXT;
