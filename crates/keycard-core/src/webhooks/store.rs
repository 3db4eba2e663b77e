//! What webhook delivery needs from storage.

use crate::audit::AuditEvent;
use crate::ids::AuditId;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::OffsetDateTime;

/// A queued event, claimed for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEvent {
    pub event: AuditEvent,
    /// Deliveries tried so far (including the one this claim starts).
    pub attempts: u32,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Whether new audit events are queued for delivery (the database's trigger reads this).
    async fn set_webhooks_enabled(&self, enabled: bool) -> StoreResult<()>;

    async fn webhooks_enabled(&self) -> StoreResult<bool>;

    /// Takes up to `limit` events due at `now`, leased until `lease_until`, each attempt
    /// counted (as the mail outbox does).
    async fn claim_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEvent>>;

    // The reports change the event only while `attempt` is still its latest claim.

    async fn webhook_sent(&self, id: AuditId, attempt: u32, now: OffsetDateTime)
    -> StoreResult<()>;

    async fn webhook_retry(
        &self,
        id: AuditId,
        attempt: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()>;

    async fn webhook_failed(
        &self,
        id: AuditId,
        attempt: u32,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()>;

    /// Deletes deliveries finished (sent or given up) before `before`; returns how many.
    async fn prune_webhooks(&self, before: OffsetDateTime) -> StoreResult<u64>;
}
