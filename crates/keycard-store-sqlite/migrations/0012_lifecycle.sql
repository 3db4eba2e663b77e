-- A password set by a hidden-mode sign-up signs in only once the account's address is proved
-- (keycard-core's `lifecycle::hidden_signup`).
ALTER TABLE password_credentials ADD COLUMN verify_first INTEGER NOT NULL DEFAULT 0;

-- Changes of an account's address: the link to the new address (only its SHA-256 kept), and
-- once it was followed, the link that lets the old address undo the change.
CREATE TABLE email_changes (
    token_hash      BLOB PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_email       TEXT,
    new_email       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    undo_hash       BLOB UNIQUE,
    undo_expires_at INTEGER,
    undone_at       INTEGER
) STRICT;
CREATE INDEX email_changes_user_idx ON email_changes (user_id, created_at);
CREATE INDEX email_changes_expiry_idx ON email_changes (expires_at);
