-- Every Keycard process remembers, for a few seconds, the sessions that access tokens name (see
-- keycard-core's sessions::SessionCache). When a user or a session's lifetime changes, the
-- processes that did not make the change learn of it here: they LISTEN on this channel and
-- forget what they remember of the user named in the payload.
--
-- Triggers rather than a NOTIFY in each write path, so that no write can forget to tell: not a
-- path added later, not an operator's UPDATE or TRUNCATE by hand (unless triggers are disabled
-- or session_replication_role is `replica`). NOTIFY is transactional (sent at commit, never for
-- a rollback) and PostgreSQL folds identical notices of one transaction into one, so "end all
-- 40 sessions" sends one notice.

CREATE FUNCTION keycard_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keycard_user_changed', OLD.id::text);
    ELSE
        PERFORM pg_notify('keycard_user_changed', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION keycard_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keycard_user_changed', OLD.user_id::text);
    ELSE
        PERFORM pg_notify('keycard_user_changed', NEW.user_id::text);
        IF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
            PERFORM pg_notify('keycard_user_changed', OLD.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_change
    AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION keycard_user_changed();

-- A refresh moves last_used_at and idle_expires_at forward on every rotation; that only extends
-- a session, and a process that still remembers the old deadline reads the session again before
-- refusing it, so only an idle deadline moved *earlier* is announced.
CREATE TRIGGER sessions_notify_end
    AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN ((OLD.revoked_at, OLD.expires_at, OLD.user_id)
          IS DISTINCT FROM (NEW.revoked_at, NEW.expires_at, NEW.user_id)
          OR NEW.idle_expires_at < OLD.idle_expires_at)
    EXECUTE FUNCTION keycard_session_changed();

CREATE TRIGGER sessions_notify_delete
    AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION keycard_session_changed();

-- Emptying a table changes everyone: the payload '*' makes every process forget everything.
CREATE FUNCTION keycard_everything_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keycard_user_changed', '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_truncate
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION keycard_everything_changed();

CREATE TRIGGER sessions_notify_truncate
    AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION keycard_everything_changed();
