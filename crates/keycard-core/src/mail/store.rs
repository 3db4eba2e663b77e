//! What the outbox needs from storage.

use crate::ids::MailId;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::OffsetDateTime;

/// A message as the outbox keeps it: its fields sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMail {
    pub id: MailId,
    pub kind: String,
    pub recipient: String,
    pub locale: String,
    /// The template's fields as JSON, sealed with the key-encryption key (bound to the id).
    pub sealed: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Deliveries tried so far (including the one this claim starts).
    pub attempts: u32,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues a message that announces a change already made (a notice).
    async fn queue_mail(&self, mail: &PendingMail) -> StoreResult<()>;

    /// Takes up to `limit` messages due at `now` for delivery: each is leased until
    /// `lease_until` (another instance skips it meanwhile; a sender that dies before it
    /// reports lets it come due again then) and its attempt counted.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<PendingMail>>;

    // The reports below change the message only while `attempt` is still its latest claim: a
    // sender whose lease ran out (and whose message was claimed again) changes nothing.

    /// Delivered: the message is kept (for the record) with its fields erased.
    async fn mail_sent(&self, id: MailId, attempt: u32, now: OffsetDateTime) -> StoreResult<()>;

    /// Failed for now: due again at `next_attempt_at`.
    async fn mail_retry(
        &self,
        id: MailId,
        attempt: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()>;

    /// Deletes messages sent or given up before `before`; returns how many.
    async fn prune_mail(&self, before: OffsetDateTime) -> StoreResult<u64>;

    /// Given up: kept with the last error, its fields erased.
    async fn mail_failed(
        &self,
        id: MailId,
        attempt: u32,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()>;
}
