-- Accounts without an email address (a sign-in through X, which never shares one). Mirrors
-- keycard-store-sqlite/migrations/0006_optional_email.sql; UNIQUE lets any number of NULLs be.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
