-- Keycard as OpenID Provider: how each session was signed into (for ID tokens' amr and
-- auth_time), the browser session an app's grant came from (so ending it ends the grant), the
-- authorization codes, and the consents people gave. Mirrors
-- keycard-store-sqlite/migrations/0008_authorization.sql.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
-- What an app's grant allows (space-separated); empty for Keycard's own sessions.
ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';
-- NULL on sessions from before: read as created_at.
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMPTZ;
ALTER TABLE sessions ADD COLUMN origin_session_id UUID REFERENCES sessions (id) ON DELETE SET NULL;
CREATE INDEX sessions_origin_idx ON sessions (origin_session_id) WHERE origin_session_id IS NOT NULL;

-- Codes are kept by hash only. used_at set = spent; grant_session_id is the session its
-- redemption opened, which a replay of the code revokes.
CREATE TABLE oauth_codes (
    code_hash          BYTEA PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id UUID NOT NULL,
    redirect_uri       TEXT NOT NULL,
    scope              TEXT NOT NULL,
    nonce              TEXT,
    code_challenge     TEXT,
    amr                TEXT NOT NULL,
    auth_time          TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    used_at            TIMESTAMPTZ,
    grant_session_id   UUID
);
CREATE INDEX oauth_codes_expiry_idx ON oauth_codes (expires_at);

CREATE TABLE oauth_consents (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Device authorization requests (RFC 8628): found by the device code's hash (the device polls)
-- or by the user code (the person types it). state: pending, approved, denied, used.
CREATE TABLE oauth_device_requests (
    device_hash       BYTEA PRIMARY KEY,
    user_code         TEXT NOT NULL,
    client_id         TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope             TEXT NOT NULL,
    device            TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    poll_interval     BIGINT NOT NULL,
    last_polled_at    TIMESTAMPTZ,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'used')),
    user_id           UUID REFERENCES users (id) ON DELETE CASCADE,
    session_id        UUID,
    amr               TEXT,
    auth_time         TIMESTAMPTZ
);
-- A user code names one request at a time; expired ones are pruned.
CREATE UNIQUE INDEX oauth_device_requests_user_code_idx ON oauth_device_requests (user_code);
CREATE INDEX oauth_device_requests_expiry_idx ON oauth_device_requests (expires_at);
