-- A password set by a hidden-mode sign-up signs in only once the account's address is proved
-- (keycard-core's `lifecycle::hidden_signup`).
ALTER TABLE password_credentials ADD COLUMN verify_first BOOLEAN NOT NULL DEFAULT FALSE;

-- Changes of an account's address: the link to the new address (only its SHA-256 kept), and
-- once it was followed, the link that lets the old address undo the change.
CREATE TABLE email_changes (
    token_hash      BYTEA PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_email       TEXT,
    new_email       TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    undo_hash       BYTEA UNIQUE,
    undo_expires_at TIMESTAMPTZ,
    undone_at       TIMESTAMPTZ
);
CREATE INDEX email_changes_user_idx ON email_changes (user_id, created_at);
CREATE INDEX email_changes_expiry_idx ON email_changes (expires_at);
