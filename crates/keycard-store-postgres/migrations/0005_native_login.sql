-- Sign-in for native apps through the system browser (RFC 8252): the flow remembers the app's
-- PKCE challenge, and the callback hands the app a one-time login code bound to it, which the
-- app exchanges for its tokens. Mirrors keycard-store-sqlite/migrations/0005_native_login.sql.
ALTER TABLE social_flows ADD COLUMN app_challenge TEXT;

CREATE TABLE login_codes (
    code_hash  BYTEA PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    challenge  TEXT NOT NULL,
    provider   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_codes_expiry_idx ON login_codes (expires_at);
