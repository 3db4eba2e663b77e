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

/// A password-reset link about to be mailed: only its hash is stored.
#[derive(Debug, Clone)]
pub struct NewPasswordReset {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    /// The address it was mailed to: following it proves that address, and a link for an
    /// address the account no longer has is refused.
    pub email: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A reset link that holds (unspent, unexpired, its address still the account's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetLink {
    pub user_id: UserId,
    pub email: String,
}

/// What a reset spends and writes, in one transaction.
#[derive(Debug, Clone)]
pub struct CompletedReset<'a> {
    pub token_hash: &'a TokenHash,
    pub user_id: UserId,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub now: OffsetDateTime,
    pub audit: &'a AuditEvent,
    /// The notice to the address that the password changed.
    pub notice: &'a PendingMail,
}

/// What a reset ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetDone {
    pub sessions_ended: u64,
    /// Provider identities removed: those whose provider does not vouch for the address.
    pub identities_removed: u64,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Stores the link and queues the mail that carries it, in one transaction.
    async fn create_verification(&self, v: &NewVerification, mail: &PendingMail)
    -> StoreResult<()>;

    /// Creates an account with a password and no session (hidden sign-up: it signs in once its
    /// address is proved), with its verification link and the mail that carries it and
    /// `audit`, in one transaction. `EmailTaken` when the address is registered.
    async fn create_unverified_account(
        &self,
        user: &crate::accounts::User,
        password_hash: &str,
        link: &NewVerification,
        mail: &PendingMail,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;

    /// Whether the account's password signs in only once its address is proved (set by a
    /// hidden-mode sign-up).
    async fn password_awaits_verification(&self, user: UserId) -> StoreResult<bool>;

    /// Deletes verification and reset links that expired before `before`; returns how many.
    async fn prune_links(&self, before: OffsetDateTime) -> StoreResult<u64>;

    /// Stores a reset link, queues the mail that carries it, and writes `audit`, in one
    /// transaction.
    async fn create_password_reset(
        &self,
        r: &NewPasswordReset,
        mail: &PendingMail,
        audit: &AuditEvent,
    ) -> StoreResult<()>;

    /// The link behind `token_hash` if it holds at `now` (it is not spent by looking).
    async fn find_password_reset(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ResetLink>>;

    /// Spends the link if it still holds (and its account is not disabled), and then, in the
    /// same transaction: spends the account's other reset links, removes the provider
    /// identities whose provider does not vouch for the address, sets the password, marks the address
    /// verified, ends every session not ended yet, writes the audit event (with what ended) and
    /// queues the notice. `None` when the link no longer holds (spent by a concurrent reset,
    /// or the account was disabled meanwhile).
    async fn complete_password_reset(
        &self,
        r: &CompletedReset<'_>,
    ) -> StoreResult<Option<ResetDone>>;

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

/// A change of address about to be mailed to the new address: only the link's hash is stored.
#[derive(Debug, Clone)]
pub struct NewEmailChange {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    /// The address it replaces (`None` for an account without one): the change holds only while
    /// it is still the account's.
    pub old_email: Option<String>,
    pub new_email: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A change whose link holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    pub user_id: UserId,
    pub old_email: Option<String>,
    pub new_email: String,
}

/// The undo link a confirmed change gets (mailed to the old address).
#[derive(Debug, Clone)]
pub struct UndoLink {
    pub token_hash: TokenHash,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait EmailChangeStore: Send + Sync {
    /// When the account's newest change was asked for (for the pause between two).
    async fn last_email_change_at(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>>;

    /// Stores the change, queues the mail to the new address (none for an address that is
    /// taken) and writes `audit`, in one transaction.
    async fn create_email_change(
        &self,
        c: &NewEmailChange,
        mail: Option<&PendingMail>,
        audit: &AuditEvent,
    ) -> StoreResult<()>;

    /// The change behind `token_hash` if its link holds at `now` (unspent, unexpired, and the
    /// account's address still the one it replaces).
    async fn find_email_change(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingChange>>;

    /// Spends the link if it still holds and makes the new address the account's, verified,
    /// with `undo` stored, the account's open reset links spent, `notice` queued (to the old
    /// address) and `audit` written, in one transaction. Returns the new address; `None` when
    /// the link no longer holds or the account is disabled; `EmailTaken` when another account
    /// has the address, or holds it reserved by an undo link of its own.
    async fn confirm_email_change(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
        undo: &UndoLink,
        notice: Option<&PendingMail>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<String>>;

    /// The account an undo link is for, if it holds at `now` (unspent, unexpired, the account
    /// not disabled).
    async fn find_email_undo(
        &self,
        undo_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserId>>;

    /// Spends the undo link if it still holds, with the undo links of later changes: the old
    /// address is the account's again (verified: the link was read there) whatever it is now,
    /// the password and the provider identities that do not vouch for the old address are
    /// removed, every session not ended yet ends, pending changes and reset links are spent,
    /// and `audit` is written, in one transaction. Returns how many sessions ended; `None` when
    /// the link no longer holds; `EmailTaken` when another account has the old address.
    async fn undo_email_change(
        &self,
        undo_hash: &TokenHash,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<u64>>;

    /// Deletes changes whose links (and undo links) expired before `before`.
    async fn prune_email_changes(&self, before: OffsetDateTime) -> StoreResult<u64>;
}
