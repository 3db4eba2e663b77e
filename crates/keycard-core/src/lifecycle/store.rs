//! What the lifecycle flows need from storage.

use crate::audit::AuditEvent;
use crate::ids::UserId;
use crate::mail::PendingMail;
use crate::store::StoreResult;
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

/// A verification link about to be mailed: only its hash is stored.
#[derive(Debug, Clone)]
pub struct NewVerification {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    /// The address it proves: a link for an address the account no longer has proves nothing.
    pub email: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A link that was good: its account's address is now verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: UserId,
    pub email: String,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Stores the link and queues the mail that carries it, in one transaction.
    async fn create_verification(&self, v: &NewVerification, mail: &PendingMail)
    -> StoreResult<()>;

    /// Deletes links that expired before `before`; returns how many.
    async fn prune_verifications(&self, before: OffsetDateTime) -> StoreResult<u64>;

    /// When the account's newest link was made (for the resend pause).
    async fn last_verification_at(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>>;

    /// Spends the link if it is unspent, unexpired at `now`, and its address is still the
    /// account's; then marks the address verified and writes `audit` (its user filled in), all
    /// in one transaction. `None` for any other link (spent, expired, unknown, outdated).
    async fn consume_verification(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Verified>>;
}
