-- Browser sessions and social identities, PostgreSQL dialect. Mirrors
-- keycard-store-sqlite/migrations/0004_social.sql.

-- A browser session is a session like any other (one list, one "sign out everywhere"), reached
-- from the `__Host-keycard_session` cookie: its secret is kept only as a SHA-256 hash.
ALTER TABLE sessions ADD COLUMN secret_hash BYTEA;
CREATE UNIQUE INDEX sessions_secret_idx ON sessions (secret_hash) WHERE secret_hash IS NOT NULL;
-- A session's own idle window, kept by every refresh (browser sessions are shorter-lived than
-- API ones); NULL: the API sessions' setting of the moment.
ALTER TABLE sessions ADD COLUMN idle_timeout_secs INTEGER;

-- One row per way in through a provider. People are keyed by (issuer, subject), never by email:
-- an email address can change hands at a provider; the subject cannot.
CREATE TABLE identities (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    picture_url    TEXT,
    linked_at      TIMESTAMPTZ NOT NULL,
    last_used_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);

-- A sign-in started at a provider and not yet back: single use (deleted when it returns),
-- expires within minutes, bound to the browser that started it by the hash of a cookie.
CREATE TABLE social_flows (
    state_hash    BYTEA PRIMARY KEY,
    provider      TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    browser_hash  BYTEA NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    link_user_id  UUID,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX social_flows_expiry_idx ON social_flows (expires_at);

-- Other processes remember a user's identities with their sessions (GET /v1/me): a link, an
-- unlink or a sign-in that refreshes what the provider says tells them, as changes to users and
-- sessions do (0002_change_notices.sql).
CREATE FUNCTION keycard_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keycard_user_changed', OLD.user_id::text);
    ELSE
        PERFORM pg_notify('keycard_user_changed', NEW.user_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER identities_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION keycard_identity_changed();
