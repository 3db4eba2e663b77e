-- Password-reset links: only the token's SHA-256 is kept. A link is spent once, and a reset
-- spends the account's other links with it.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX password_resets_user_idx ON password_resets (user_id) WHERE used_at IS NULL;
CREATE INDEX password_resets_expiry_idx ON password_resets (expires_at);
CREATE INDEX email_verifications_expiry_idx ON email_verifications (expires_at);
