-- An operator can disable an account. A disabled account keeps its data and can be enabled
-- again, but gets no new session of any kind (API, browser, or an app's grant) while disabled.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- The rule is kept here rather than in each write path, so that no way of opening a session
-- (password, provider, code redemption, device grant, a path added later) can forget it. The
-- share lock on the user row orders every new session against a disabling that runs at the same
-- time: either the disabling commits first and the new session is refused, or the session
-- commits first and the disabling, whose UPDATE waits for that lock, then ends it too.
CREATE FUNCTION keycard_refuse_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    disabled TIMESTAMPTZ;
BEGIN
    -- A row that is already ended opens nothing (a restore of old data may insert those).
    IF NEW.revoked_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    SELECT u.disabled_at INTO disabled FROM users u WHERE u.id = NEW.user_id FOR SHARE;
    IF disabled IS NOT NULL THEN
        RAISE EXCEPTION 'account_disabled' USING ERRCODE = 'KC403';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_refuse_disabled
    BEFORE INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION keycard_refuse_disabled();

-- The admin API lists the audit trail newest first, all of it or by kind.
CREATE INDEX audit_events_kind_idx ON audit_events (kind, at, id);
CREATE INDEX audit_events_at_idx ON audit_events (at, id);
