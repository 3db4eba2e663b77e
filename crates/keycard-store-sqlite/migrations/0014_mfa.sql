-- Second factors (keycard-core's `mfa`). The authenticator app's secret is sealed with a key
-- derived from KEYCARD_SECRET_KEY and bound to its account; it counts once confirmed by a first
-- code. `last_step` is the last 30-second step a code was accepted for: each is accepted once.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER
) STRICT;

-- Recovery codes: argon2id hashes (one salt per set), each spent once.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT;

-- Password sign-ins waiting for their second step: only the challenge id's SHA-256 is kept.
CREATE TABLE mfa_challenges (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('api', 'browser')),
    amr        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX mfa_challenges_expiry_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);

-- A challenge stands for a first factor just proved. When that proof loses its worth (the
-- password set, changed or removed, a provider identity removed, the second factor removed,
-- the account disabled), the account's open challenges go with it, whichever path did it.
CREATE TRIGGER password_set_ends_mfa_challenges AFTER INSERT ON password_credentials
BEGIN
    DELETE FROM mfa_challenges WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER password_change_ends_mfa_challenges AFTER UPDATE OF hash ON password_credentials
BEGIN
    DELETE FROM mfa_challenges WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER password_removal_ends_mfa_challenges AFTER DELETE ON password_credentials
BEGIN
    DELETE FROM mfa_challenges WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER identity_removal_ends_mfa_challenges AFTER DELETE ON identities
BEGIN
    DELETE FROM mfa_challenges WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER totp_removal_ends_mfa_challenges AFTER DELETE ON totp_factors
BEGIN
    DELETE FROM mfa_challenges WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER disabling_ends_mfa_challenges AFTER UPDATE OF disabled_at ON users
WHEN NEW.disabled_at IS NOT NULL
BEGIN
    DELETE FROM mfa_challenges WHERE user_id = NEW.id;
END;
