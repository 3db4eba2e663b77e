//! What the domain needs from storage. Methods are use-case sized and each one that writes more
//! than one row is a single transaction in every backend, so a failure leaves nothing half-made.
//! The audit events passed in are written in that same transaction.

pub mod fail_fast;

use crate::accounts::{Email, ProfileUpdate, User};
use crate::audit::AuditEvent;
use crate::ids::{RefreshTokenId, SessionId, UserId};
use crate::sessions::{BrowserSecret, RevokeReason, Session};
use crate::tokens::{StoredKey, TokenHash};
use async_trait::async_trait;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached at all (connection refused or lost, server shutting
    /// down): retryable, maps to 503, and makes Keycard fail fast until a probe reaches it again
    /// (see [`fail_fast`]).
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// Reached but momentarily unable to serve (busy, lock not granted, a serialisation
    /// conflict): retryable, maps to 503, says nothing about the next request.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("email already registered")]
    EmailTaken,
    /// The (issuer, subject) of a provider identity is already linked to an account.
    #[error("identity already linked")]
    IdentityTaken,
    /// A client application with this id is already registered.
    #[error("client id taken")]
    ClientTaken,
    /// A session was refused because its account is disabled (a rule the database keeps, so
    /// that a sign-in racing a disabling cannot slip through).
    #[error("account disabled")]
    AccountDisabled,
    /// A row that cannot be mapped back to the domain (bad enum text, bad uuid).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A refresh token row to insert; the secret itself is never stored.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: RefreshTokenId,
    pub session_id: SessionId,
    pub hash: TokenHash,
    pub issued_at: OffsetDateTime,
}

/// The successor issued by a rotation; it joins the presented token's session.
#[derive(Debug, Clone)]
pub struct NextRefreshToken {
    pub id: RefreshTokenId,
    pub hash: TokenHash,
}

/// The result of presenting a refresh token for rotation.
#[derive(Debug)]
pub enum Rotation {
    /// The token was current: it is now spent, `next` is stored, and the session's idle deadline
    /// and last-used time moved forward. Carries the session as updated.
    Rotated(Session),
    /// The token was spent at or after `replay_since` by the rotation that issued `next`, which
    /// is still its session's current token, and the session is active: a retry of that
    /// rotation (its response was lost, or two requests raced). Nothing was written; the same
    /// `next` stands.
    Replayed(Session),
    /// The token had already been spent (and is no replay): theft or a client bug. Nothing was
    /// issued.
    Reused {
        session_id: SessionId,
        user_id: UserId,
    },
    /// The token was current but its session had ended; it is now spent and nothing was issued.
    SessionEnded,
    /// No such token.
    Unknown,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates the user, their password credential and their first session with its refresh
    /// token (a browser session when `browser` is given), atomically. `EmailTaken` when the
    /// email is already registered.
    async fn create_account(
        &self,
        user: &User,
        password_hash: &str,
        session: &Session,
        refresh: &NewRefreshToken,
        browser: Option<&BrowserSecret>,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;

    /// The user and their password hash (`None` for accounts without a password).
    async fn find_login(&self, email: &Email) -> StoreResult<Option<(User, Option<String>)>>;

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;

    async fn find_password_hash(&self, id: UserId) -> StoreResult<Option<String>>;

    async fn update_profile(
        &self,
        id: UserId,
        update: &ProfileUpdate,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>>;

    /// Replaces the stored hash `old` by `hash` (the same password under new parameters), with
    /// `audit`; nothing when the password changed meanwhile (a reset must not be undone by a
    /// sign-in that checked the old password).
    async fn upgrade_password_hash(
        &self,
        id: UserId,
        old: &str,
        hash: &str,
        audit: &AuditEvent,
    ) -> StoreResult<()>;

    /// Sets a new password, revokes every active session except `keep` and spends the
    /// account's open reset links, atomically. `None` (and nothing changed) when `keep` has
    /// ended meanwhile: a session ended by a reset cannot change the password it replaced.
    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: SessionId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<u64>>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session with its first refresh token.
    async fn create_session(
        &self,
        session: &Session,
        refresh: &NewRefreshToken,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;

    /// The session and its user, in one round trip (checked on every authenticated request).
    async fn find_session_with_user(&self, id: SessionId) -> StoreResult<Option<(Session, User)>>;

    /// The session a refresh token (spent or not) belongs to.
    async fn find_session_by_refresh_token(
        &self,
        token: &TokenHash,
    ) -> StoreResult<Option<Session>>;

    /// Spends `presented` and, if it was current and its session is active at `now`, stores
    /// `next` in that session and sets the session's `last_used_at = now` and
    /// `idle_expires_at = min(idle_expires_at, session.expires_at)`. Exactly one of any number
    /// of concurrent calls with the same token can get `Rotated`; with `replay_since`, the
    /// others (and later retries) get `Replayed` while the conditions of that variant hold.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        next: &NextRefreshToken,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
    ) -> StoreResult<Rotation>;

    /// The user's sessions still active at `now`, newest first.
    async fn list_active_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Session>>;

    /// Ends one session of `user` (scoped, so one user cannot end another's). False if there was
    /// no such active session.
    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;

    /// Ends every active session of `user`; returns how many.
    async fn revoke_all_sessions(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<u64>;
}

#[async_trait]
pub trait KeyRepository: Send + Sync {
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>>;

    /// Adds `key` as the active key of its algorithm and, given `retire_others_at`, marks every
    /// key of that algorithm without a retirement time as retiring then, atomically.
    async fn add_signing_key(
        &self,
        key: &StoredKey,
        retire_others_at: Option<OffsetDateTime>,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, event: &AuditEvent) -> StoreResult<()>;

    /// The user's most recent events, newest first.
    async fn list_audit(&self, user: UserId, limit: u32) -> StoreResult<Vec<AuditEvent>>;
}

/// What a store tells this process about changes other processes made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeNotice {
    /// The user, or the lifetime of one of their sessions, changed.
    UserChanged(UserId),
    /// Any user may have changed (a table was emptied).
    AllChanged,
    /// Notices may be missed from now on (the connection that receives them is down).
    Deaf,
    /// Notices arrive again; what happened while deaf is unknown.
    Listening,
}

/// Everything Keycard stores, as one object the service holds.
#[async_trait]
pub trait Store:
    AccountStore
    + SessionStore
    + KeyRepository
    + AuditStore
    + crate::throttle::ThrottleStore
    + crate::social::SocialStore
    + crate::sessions::BrowserStore
    + crate::oidc::ClientStore
    + crate::oidc::GrantStore
    + crate::devices::DeviceStore
    + crate::admin::AccountAdminStore
    + crate::mail::OutboxStore
    + crate::lifecycle::EmailChangeStore
    + crate::webhooks::WebhookStore
    + crate::lifecycle::LifecycleStore
    + crate::mfa::MfaStore
    + crate::passkeys::PasskeyStore
{
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    /// Whether the database can be reached at all, for the fail-fast prober: by default a ping;
    /// a pooled store should use a connection of its own, so that a pool exhausted by load is
    /// not taken for an outage.
    async fn probe(&self) -> StoreResult<()> {
        self.ping().await
    }

    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;

    /// Starts receiving notices of changes made by other processes sharing the database; the
    /// first notice is `Listening` once that works. `None` for a store that only this process
    /// writes (embedded SQLite), where there is nothing to hear. Needs a Tokio runtime; call it
    /// once per process (each call opens a listening connection of its own).
    fn change_notices(&self) -> Option<tokio::sync::mpsc::Receiver<ChangeNotice>> {
        None
    }
}
