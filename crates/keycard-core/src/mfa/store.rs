//! What second factors need from storage. Each method that changes the account writes its audit
//! event (and its mail) in the same transaction.

use crate::audit::AuditEvent;
use crate::ids::UserId;
use crate::mail::PendingMail;
use crate::sessions::SessionKind;
use crate::store::StoreResult;
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The account's authenticator app: its secret (sealed), and once confirmed, when, and the last
/// step a code was accepted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub sealed_secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_step: Option<i64>,
}

/// How much of each second factor an account has, read at once: every password sign-in asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondFactorCounts {
    /// When the authenticator app was confirmed; `None` without a confirmed one.
    pub totp_confirmed_at: Option<OffsetDateTime>,
    /// Unused recovery codes.
    pub recovery_codes: u64,
    pub passkeys: u64,
}

/// A password sign-in waiting for its second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    /// The kind of session the sign-in opens once complete.
    pub kind: SessionKind,
    /// How the person proved who they are so far (`pwd`).
    pub amr: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait MfaStore: Send + Sync {
    async fn find_totp(&self, user: UserId) -> StoreResult<Option<TotpFactor>>;

    /// The account's second factors, counted in one query.
    async fn count_second_factors(&self, user: UserId) -> StoreResult<SecondFactorCounts>;

    /// Stores a new unconfirmed secret in place of an unconfirmed one. `false` (nothing
    /// written) when the account has a confirmed one.
    async fn put_pending_totp(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Confirms the unconfirmed secret that is still `sealed_secret`, with its first accepted
    /// step, and makes `recovery_codes` (hashes) the account's only ones. `false` (nothing
    /// written) when that secret is no longer waiting.
    #[allow(clippy::too_many_arguments)]
    async fn confirm_totp(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        step: i64,
        now: OffsetDateTime,
        recovery_codes: &[String],
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool>;

    /// Moves the last accepted step to `step` when it is later. `false`: that step (or a later
    /// one) was accepted already, or there is no confirmed factor.
    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool>;

    /// Removes the authenticator app and the recovery codes. `false` when there was none.
    async fn remove_totp(
        &self,
        user: UserId,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool>;

    /// The hashes of the account's unused recovery codes.
    async fn recovery_codes(&self, user: UserId) -> StoreResult<Vec<String>>;

    /// Makes `codes` the account's only recovery codes.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[String],
        now: OffsetDateTime,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<()>;

    /// Spends the unused code with this hash. `false`: it was spent already (or replaced).
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: OffsetDateTime,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool>;

    async fn create_mfa_challenge(&self, c: &MfaChallenge, event: &AuditEvent) -> StoreResult<()>;

    /// The challenge while it holds (not expired, not spent).
    async fn find_mfa_challenge(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<MfaChallenge>>;

    /// Counts a wrong code against the challenge; at `max` wrong codes it is removed.
    async fn fail_mfa_challenge(&self, hash: &TokenHash, max: u32) -> StoreResult<()>;

    /// Removes the challenge if it still holds. `false`: someone else completed it, or it
    /// expired or failed meanwhile.
    async fn spend_mfa_challenge(&self, hash: &TokenHash, now: OffsetDateTime)
    -> StoreResult<bool>;
}
