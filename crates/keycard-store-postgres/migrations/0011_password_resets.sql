-- Password-reset links: only the token's SHA-256 is kept. A link is spent once, and a reset
-- spends the account's other links with it.
CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id) WHERE used_at IS NULL;
CREATE INDEX password_resets_expiry_idx ON password_resets (expires_at);
CREATE INDEX email_verifications_expiry_idx ON email_verifications (expires_at);
