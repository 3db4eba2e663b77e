-- Brute-force and flood protection (keycard-core `throttle`). Mirrors the PostgreSQL migration
-- of the same version. Keys are `<scope>:<hash of the subject>`: no address or typed text is
-- stored. Times are unix milliseconds, since delays start at one second.

-- Rate limits as GCRA: one theoretical arrival time per key; a TAT in the past is the same as no row.
CREATE TABLE rate_limits (
    key    TEXT PRIMARY KEY,
    tat_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Consecutive failed sign-ins per account key (existing or not); cleared by a success. An attempt
-- counts as a failure from its start to its verdict (0: a placeholder while the first is counted).
CREATE TABLE login_failures (
    account         TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL CHECK (failures >= 0),
    last_failure_ms INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL
) WITHOUT ROWID;
