-- Second factors (keycard-core's `mfa`). The authenticator app's secret is sealed with a key
-- derived from KEYCARD_SECRET_KEY and bound to its account; it counts once confirmed by a first
-- code. `last_step` is the last 30-second step a code was accepted for: each is accepted once.
CREATE TABLE totp_factors (
    user_id      UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT
);

-- Recovery codes: argon2id hashes (one salt per set), each spent once.
CREATE TABLE recovery_codes (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, hash)
);

-- Password sign-ins waiting for their second step: only the challenge id's SHA-256 is kept.
CREATE TABLE mfa_challenges (
    token_hash BYTEA PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('api', 'browser')),
    amr        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mfa_challenges_expiry_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);

-- A challenge stands for a first factor just proved. When that proof loses its worth (the
-- password set, changed or removed, a provider identity removed, the second factor removed,
-- the account disabled), the account's open challenges go with it, whichever path did it.
CREATE FUNCTION end_mfa_challenges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        DELETE FROM mfa_challenges WHERE user_id = NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM mfa_challenges WHERE user_id = OLD.user_id;
    ELSE
        DELETE FROM mfa_challenges WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER password_ends_mfa_challenges
    AFTER INSERT OR DELETE OR UPDATE OF hash ON password_credentials
    FOR EACH ROW EXECUTE FUNCTION end_mfa_challenges();
CREATE TRIGGER identity_removal_ends_mfa_challenges AFTER DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION end_mfa_challenges();
CREATE TRIGGER totp_removal_ends_mfa_challenges AFTER DELETE ON totp_factors
    FOR EACH ROW EXECUTE FUNCTION end_mfa_challenges();
CREATE TRIGGER disabling_ends_mfa_challenges AFTER UPDATE OF disabled_at ON users
    FOR EACH ROW WHEN (NEW.disabled_at IS NOT NULL) EXECUTE FUNCTION end_mfa_challenges();
