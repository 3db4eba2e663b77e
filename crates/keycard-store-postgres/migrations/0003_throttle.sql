-- Brute-force and flood protection (keycard-core `throttle`). Mirrors the SQLite migration of the
-- same version. Keys are `<scope>:<hash of the subject>`: no address or typed text is stored.
-- Times are unix milliseconds (BIGINT), since delays start at one second and the limiter's
-- arithmetic runs in SQL.

-- Rate limits as GCRA: one theoretical arrival time per key; a TAT in the past is the same as no row.
CREATE TABLE rate_limits (
    key    TEXT PRIMARY KEY,
    tat_ms BIGINT NOT NULL
);

-- Consecutive failed sign-ins per account key (existing or not); cleared by a success. An attempt
-- counts as a failure from its start to its verdict (0: a placeholder while the first is counted).
CREATE TABLE login_failures (
    account         TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL CHECK (failures >= 0),
    last_failure_ms BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL
);
