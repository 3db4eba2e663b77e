-- Keycard core schema, PostgreSQL dialect. Mirrors keycard-store-sqlite/migrations/0001_core.sql:
-- same version, same tables, same columns, same constraints; only types differ (native UUID,
-- TIMESTAMPTZ, BYTEA, BOOLEAN, JSONB).

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    -- Stored trimmed and lower-cased by the domain, so plain UNIQUE is case-insensitive.
    -- Named because the store maps a violation of exactly this constraint to "email taken".
    email          TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    picture_url    TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- One user, many ways in: the password lives apart from the user so accounts that only use
-- social identities simply have no row here.
CREATE TABLE password_credentials (
    user_id    UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('api', 'browser', 'grant')),
    client_id       TEXT,
    device          TEXT NOT NULL,
    user_agent      TEXT,
    ip              TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    last_used_at    TIMESTAMPTZ NOT NULL,
    idle_expires_at TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ,
    revoked_reason  TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);

-- Spent tokens are kept (spent_at set) so that presenting one again is recognised as reuse.
CREATE TABLE refresh_tokens (
    id         UUID PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL UNIQUE,
    issued_at  TIMESTAMPTZ NOT NULL,
    spent_at   TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    -- TEXT, not JSONB: JSONB would reorder and reformat the document, and the published JWK
    -- must round-trip byte for byte.
    public_jwk         TEXT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    retire_at          TIMESTAMPTZ
);

-- No foreign keys: the trail must outlive the accounts and sessions it mentions.
CREATE TABLE audit_events (
    id         UUID PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    user_id    UUID,
    session_id UUID,
    ip         TEXT,
    user_agent TEXT,
    detail     JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at);
