-- Other processes remember a user's second factors with their sessions (what GET /v1/me shows:
-- the authenticator app, how many recovery codes are left, how many passkeys): setting one up,
-- removing it, a recovery code spent or replaced, a passkey added or removed tells them, as
-- changes to identities do (0004_social.sql). Sign-ins and re-authentication never read that
-- memory; this keeps what the owner sees true.
--
-- A code accepted (totp_factors.last_step) or a passkey used (counter, last_used_at) changes
-- nothing shown there, and happens on every sign-in: not announced.
--
-- keycard_identity_changed() announces the row's user_id, whatever the table.

CREATE TRIGGER totp_factors_notify_change
    AFTER INSERT OR DELETE ON totp_factors
    FOR EACH ROW EXECUTE FUNCTION keycard_identity_changed();

CREATE TRIGGER totp_factors_notify_confirm
    AFTER UPDATE ON totp_factors
    FOR EACH ROW
    WHEN (OLD.confirmed_at IS DISTINCT FROM NEW.confirmed_at)
    EXECUTE FUNCTION keycard_identity_changed();

CREATE TRIGGER recovery_codes_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON recovery_codes
    FOR EACH ROW EXECUTE FUNCTION keycard_identity_changed();

CREATE TRIGGER passkeys_notify_change
    AFTER INSERT OR DELETE ON passkeys
    FOR EACH ROW EXECUTE FUNCTION keycard_identity_changed();

CREATE TRIGGER totp_factors_notify_truncate
    AFTER TRUNCATE ON totp_factors
    FOR EACH STATEMENT EXECUTE FUNCTION keycard_everything_changed();

CREATE TRIGGER recovery_codes_notify_truncate
    AFTER TRUNCATE ON recovery_codes
    FOR EACH STATEMENT EXECUTE FUNCTION keycard_everything_changed();

CREATE TRIGGER passkeys_notify_truncate
    AFTER TRUNCATE ON passkeys
    FOR EACH STATEMENT EXECUTE FUNCTION keycard_everything_changed();
