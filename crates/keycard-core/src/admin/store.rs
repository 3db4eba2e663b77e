//! What operating accounts needs from storage, beyond what the other flows already read.

use crate::accounts::User;
use crate::audit::{AuditEvent, AuditKind};
use crate::ids::{AuditId, UserId};
use crate::store::StoreResult;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Which audit events to list: newest first, optionally of one person or one kind, and after
/// the position `before` in that order (keyset paging, so a page never shifts under new events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub user: Option<UserId>,
    pub kind: Option<AuditKind>,
    /// The `(at, id)` of the last event of the previous page.
    pub before: Option<(OffsetDateTime, AuditId)>,
    pub limit: u32,
}

#[async_trait]
pub trait AccountAdminStore: Send + Sync {
    /// Disables the account (keeping the time it was first disabled at) and ends every session
    /// of it not ended yet — API, browser and app grants, `offline_access` ones too, and also
    /// those this clock thinks expired, which another instance's clock may not — in one
    /// transaction with `audit`. `None` when there is no such user.
    async fn disable_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>>;

    /// Enables the account again. `None` when there is no such user.
    async fn enable_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>>;

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>>;

    /// Removes the account's password (it signs in no more) and ends every active session, in
    /// one transaction with `audit`; returns how many sessions ended. `None` when there is no
    /// such user.
    async fn revoke_password(
        &self,
        id: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<u64>>;
}
