//! What the authorization flow stores: one-time authorization codes (kept by hash) and the
//! consents people gave to applications. Each write that goes with an audit event is one
//! transaction with it.

use crate::audit::AuditEvent;
use crate::ids::{SessionId, UserId};
use crate::sessions::Session;
use crate::store::{NewRefreshToken, StoreResult};
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

/// An authorization code as stored: everything the token endpoint checks and carries over into
/// the grant it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub hash: TokenHash,
    pub client_id: String,
    pub user_id: UserId,
    /// The browser session the person approved from; the grant follows it on logout.
    pub browser_session_id: SessionId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// The S256 challenge, when the request carried one.
    pub code_challenge: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// The result of redeeming a code.
#[derive(Debug, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unspent: it is now spent and the grant session (with its refresh token, if
    /// any) is stored.
    Redeemed,
    /// The code had been spent already. The grant it opened (named here, when there is one) has
    /// been revoked in the same transaction.
    Replayed { grant: Option<SessionId> },
    /// No such code.
    Unknown,
}

#[async_trait]
pub trait GrantStore: Send + Sync {
    async fn insert_code(&self, code: &AuthCode) -> StoreResult<()>;

    async fn find_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthCode>>;

    /// Spends the code and stores the grant it opens, atomically: of any number of concurrent
    /// calls exactly one gets `Redeemed`. A call for a spent code revokes the grant it opened
    /// (at `now`, with `replay_audit`) and gets `Replayed`.
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        grant: &Session,
        refresh: Option<&NewRefreshToken>,
        audit: &AuditEvent,
        replay_audit: &AuditEvent,
    ) -> StoreResult<Redemption>;

    /// Deletes codes that expired before `before`; returns how many.
    async fn prune_codes(&self, before: OffsetDateTime) -> StoreResult<u64>;

    /// The scopes `user` allowed `client`, if any.
    async fn find_consent(&self, user: UserId, client: &str) -> StoreResult<Option<Vec<String>>>;

    /// Every consent `user` gave: (client id, scopes, when), newest first.
    async fn list_consents(
        &self,
        user: UserId,
    ) -> StoreResult<Vec<(String, Vec<String>, OffsetDateTime)>>;

    /// Withdraws `user`'s consent to `client` and ends every grant `client` holds for `user`,
    /// atomically; false when there was neither.
    async fn withdraw_consent(
        &self,
        user: UserId,
        client: &str,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;

    /// Records (or widens to) `scopes` as allowed by `user` to `client`.
    async fn save_consent(
        &self,
        user: UserId,
        client: &str,
        scopes: &[String],
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<()>;
}
