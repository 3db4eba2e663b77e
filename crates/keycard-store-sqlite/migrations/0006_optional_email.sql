-- no-transaction
-- Accounts without an email address (a sign-in through X, which never shares one). SQLite cannot
-- drop NOT NULL in place: the users table is rebuilt (the documented twelve-step procedure),
-- with foreign keys off so dropping the old table cascades to nothing, inside one transaction so
-- a failure leaves the old table as it was. Mirrors
-- keycard-store-postgres/migrations/0006_optional_email.sql.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE users_new (
    id             TEXT PRIMARY KEY,
    -- Stored trimmed and lower-cased by the domain, so plain UNIQUE is case-insensitive; NULL for
    -- an account without an address (NULLs never collide).
    email          TEXT UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT,
    picture_url    TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
INSERT INTO users_new (id, email, email_verified, name, picture_url, created_at, updated_at)
    SELECT id, email, email_verified, name, picture_url, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
COMMIT;
PRAGMA foreign_keys = ON;
