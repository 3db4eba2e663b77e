-- Passkeys (keycard-core's `passkeys`): the credential as webauthn-rs keeps it (public key,
-- counter, backup flags; no secret), with its id (unique across accounts) and the counter
-- beside it for the compare-and-set each use makes.
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    sign_count    BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- Ceremonies under way: webauthn-rs's state, under the hash of an id only the client holds,
-- for five minutes and one use.
CREATE TABLE webauthn_ceremonies (
    id_hash    BYTEA PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('register', 'sign_in', 'second_factor')),
    user_id    UUID REFERENCES users (id) ON DELETE CASCADE,
    binding    TEXT,
    state      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry_idx ON webauthn_ceremonies (expires_at);
