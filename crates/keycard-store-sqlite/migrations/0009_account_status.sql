-- Mirrors keycard-store-postgres/migrations/0009_account_status.sql: a disabled account gets no
-- new session of any kind. SQLite has one writer at a time, so the check alone orders a new
-- session against a disabling; no lock is needed.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

CREATE TRIGGER sessions_refuse_disabled
    BEFORE INSERT ON sessions
    FOR EACH ROW
    WHEN NEW.revoked_at IS NULL
        AND (SELECT disabled_at FROM users WHERE id = NEW.user_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'account_disabled');
END;

-- The admin API lists the audit trail newest first, all of it or by kind.
CREATE INDEX audit_events_kind_idx ON audit_events (kind, at, id);
CREATE INDEX audit_events_at_idx ON audit_events (at, id);
