-- Keycard core schema, SQLite dialect. Mirrors keycard-store-postgres/migrations/0001_core.sql:
-- same version, same tables, same columns; only types differ (TEXT uuids, INTEGER unix seconds).

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    -- Stored trimmed and lower-cased by the domain, so plain UNIQUE is case-insensitive.
    email          TEXT NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT,
    picture_url    TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- One user, many ways in: the password lives apart from the user so accounts that only use
-- social identities simply have no row here.
CREATE TABLE password_credentials (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('api', 'browser', 'grant')),
    client_id       TEXT,
    device          TEXT NOT NULL,
    user_agent      TEXT,
    ip              TEXT,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);

-- Spent tokens are kept (spent_at set) so that presenting one again is recognised as reuse.
CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    issued_at  INTEGER NOT NULL,
    spent_at   INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    retire_at          INTEGER
) STRICT;

-- No foreign keys: the trail must outlive the accounts and sessions it mentions.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at);
