-- Keycard as OpenID Provider: how each session was signed into (for ID tokens' amr and
-- auth_time), the browser session an app's grant came from (so ending it ends the grant), the
-- authorization codes, and the consents people gave. Mirrors
-- keycard-store-postgres/migrations/0008_authorization.sql.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
-- What an app's grant allows (space-separated); empty for Keycard's own sessions.
ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';
-- NULL on sessions from before: read as created_at.
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
ALTER TABLE sessions ADD COLUMN origin_session_id TEXT REFERENCES sessions (id) ON DELETE SET NULL;
CREATE INDEX sessions_origin_idx ON sessions (origin_session_id) WHERE origin_session_id IS NOT NULL;

-- Codes are kept by hash only. used_at set = spent; grant_session_id is the session its
-- redemption opened, which a replay of the code revokes.
CREATE TABLE oauth_codes (
    code_hash         BLOB PRIMARY KEY,
    client_id         TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    scope             TEXT NOT NULL,
    nonce             TEXT,
    code_challenge    TEXT,
    amr               TEXT NOT NULL,
    auth_time         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    used_at           INTEGER,
    grant_session_id  TEXT
) STRICT;
CREATE INDEX oauth_codes_expiry_idx ON oauth_codes (expires_at);

CREATE TABLE oauth_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

-- Device authorization requests (RFC 8628): found by the device code's hash (the device polls)
-- or by the user code (the person types it). state: pending, approved, denied, used.
CREATE TABLE oauth_device_requests (
    device_hash       BLOB PRIMARY KEY,
    user_code         TEXT NOT NULL,
    client_id         TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope             TEXT NOT NULL,
    device            TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    poll_interval     INTEGER NOT NULL,
    last_polled_at    INTEGER,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'used')),
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id        TEXT,
    amr               TEXT,
    auth_time         INTEGER
) STRICT;
-- A user code names one request at a time; expired ones are pruned.
CREATE UNIQUE INDEX oauth_device_requests_user_code_idx ON oauth_device_requests (user_code);
CREATE INDEX oauth_device_requests_expiry_idx ON oauth_device_requests (expires_at);
