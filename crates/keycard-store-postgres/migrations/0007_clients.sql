-- The registry of client applications of Keycard as an OpenID Provider. Lists are JSON arrays
-- of strings. Mirrors keycard-store-sqlite/migrations/0007_clients.sql.
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    logo_url                  TEXT,
    kind                      TEXT NOT NULL CHECK (kind IN ('public', 'confidential')),
    secret_hash               BYTEA,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri    TEXT,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    first_party               BOOLEAN NOT NULL,
    id_token_alg              TEXT NOT NULL,
    enabled                   BOOLEAN NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    -- A confidential client always has a secret, a public one never.
    CHECK ((kind = 'confidential') = (secret_hash IS NOT NULL))
);
