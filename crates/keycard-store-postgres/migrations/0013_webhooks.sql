-- Webhooks: with KEYCARD_WEBHOOK_URL set, every audit event is queued here by a trigger, in the
-- transaction that records it, and delivered off the request path with retries (keycard-core's
-- `webhooks`). Without it nothing is queued: webhook_config says which, set by each instance
-- at start.
CREATE TABLE webhook_config (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    enabled BOOLEAN NOT NULL
);
INSERT INTO webhook_config (id, enabled) VALUES (1, FALSE);

CREATE TABLE webhook_outbox (
    event_id        UUID PRIMARY KEY REFERENCES audit_events (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    failed_at       TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
-- For pruning what was delivered or given up.
CREATE INDEX webhook_outbox_finished_idx ON webhook_outbox ((COALESCE(sent_at, failed_at)))
    WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

CREATE FUNCTION queue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT enabled FROM webhook_config WHERE id = 1) THEN
        INSERT INTO webhook_outbox (event_id, created_at, next_attempt_at)
        VALUES (NEW.id, NEW.at, NEW.at);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_webhook AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION queue_webhook();
