-- Browser sessions and social identities, SQLite dialect. Mirrors
-- keycard-store-postgres/migrations/0004_social.sql.

-- A browser session is a session like any other (one list, one "sign out everywhere"), reached
-- from the `__Host-keycard_session` cookie: its secret is kept only as a SHA-256 hash.
ALTER TABLE sessions ADD COLUMN secret_hash BLOB;
CREATE UNIQUE INDEX sessions_secret_idx ON sessions (secret_hash) WHERE secret_hash IS NOT NULL;
-- A session's own idle window, kept by every refresh (browser sessions are shorter-lived than
-- API ones); NULL: the API sessions' setting of the moment.
ALTER TABLE sessions ADD COLUMN idle_timeout_secs INTEGER;

-- One row per way in through a provider. People are keyed by (issuer, subject), never by email:
-- an email address can change hands at a provider; the subject cannot.
CREATE TABLE identities (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT,
    picture_url    TEXT,
    linked_at      INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    UNIQUE (issuer, subject)
) STRICT;
CREATE INDEX identities_user_idx ON identities (user_id);

-- A sign-in started at a provider and not yet back: single use (deleted when it returns),
-- expires within minutes, bound to the browser that started it by the hash of a cookie.
CREATE TABLE social_flows (
    state_hash    BLOB PRIMARY KEY,
    provider      TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    browser_hash  BLOB NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    link_user_id  TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX social_flows_expiry_idx ON social_flows (expires_at);
