-- jiralink schema, version 12: the CSRF token of a web session is derived from the session
-- token on each request, so the copies that sessions made before kept here in plain text are
-- blanked (no longer read). Forward-only: never edit this file once released.
UPDATE sessions SET csrf_token = '';
