//! What social sign-in needs from storage. Each method that writes more than one row is one
//! transaction, with its audit events.

use super::{Identity, LoginCode, PendingFlow};
use crate::accounts::User;
use crate::audit::AuditEvent;
use crate::ids::{IdentityId, UserId};
use crate::sessions::NewBrowserSession;
use crate::store::StoreResult;
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

/// What unlinking an identity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    Removed,
    /// The account has no such identity.
    NotFound,
    /// It is the account's last way to sign in (no password, no other identity): kept.
    LastWay,
}

#[async_trait]
pub trait SocialStore: Send + Sync {
    async fn save_flow(&self, flow: &PendingFlow) -> StoreResult<()>;

    /// Deletes the flow and returns it: of any number of concurrent callers with the same state,
    /// at most one gets it.
    async fn take_flow(&self, state_hash: &TokenHash) -> StoreResult<Option<PendingFlow>>;

    /// Deletes flows that expired before `now`; returns how many.
    async fn prune_flows(&self, now: OffsetDateTime) -> StoreResult<u64>;

    /// The identity with this key and its account.
    async fn find_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<(Identity, User)>>;

    /// The account's identities, oldest first.
    async fn list_identities(&self, user: UserId) -> StoreResult<Vec<Identity>>;

    /// Creates the user, their first identity and a browser session, atomically. `EmailTaken`
    /// when the email is registered (a concurrent sign-up won the race).
    async fn create_social_account(
        &self,
        user: &User,
        identity: &Identity,
        session: &NewBrowserSession,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;

    /// Stores what the provider now says about an existing identity (email, name, picture, last
    /// use) and opens a browser session when given (none while a second step is due),
    /// atomically.
    async fn sign_in_identity(
        &self,
        identity: &Identity,
        session: Option<&NewBrowserSession>,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;

    /// Adds an identity to an existing account, and opens a browser session when given, with
    /// the notice mailed to the account's address, atomically. `IdentityTaken` if the (issuer,
    /// subject) is already linked.
    async fn link_identity(
        &self,
        identity: &Identity,
        session: Option<&NewBrowserSession>,
        audit: &[AuditEvent],
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<()>;

    /// Removes one of `user`'s identities unless it is their last way to sign in, deciding and
    /// deleting in one transaction (two concurrent unlinks cannot remove both of the last two).
    async fn save_login_code(&self, code: &LoginCode) -> StoreResult<()>;

    /// Deletes the login code and returns it: at most one caller gets it.
    async fn take_login_code(&self, code_hash: &TokenHash) -> StoreResult<Option<LoginCode>>;

    async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        audit: &AuditEvent,
    ) -> StoreResult<Unlinked>;
}
