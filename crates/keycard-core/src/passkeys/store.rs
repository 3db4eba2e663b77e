//! What passkeys need from storage: the credentials, and the state of ceremonies under way
//! (kept here, keyed by a server-side id, single use: never in a cookie a client could replay).

use crate::audit::AuditEvent;
use crate::ids::UserId;
use crate::mail::PendingMail;
use crate::store::StoreResult;
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: UserId,
    /// The credential id the authenticator chose (unique across accounts).
    pub credential_id: Vec<u8>,
    pub name: String,
    /// The credential as webauthn-rs keeps it (public key, counter, backup flags), JSON.
    pub credential: String,
    /// The signature counter last seen (0 for authenticators without one, as most synced
    /// passkeys are).
    pub sign_count: i64,
    /// Synced (backup eligible): the private key may live on several devices.
    pub backup_eligible: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Adding a passkey to a signed-in account.
    Register,
    /// Signing in with a passkey, the account unknown until the assertion names it.
    SignIn,
    /// The second step of a sign-in (bound to its challenge).
    SecondFactor,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
        }
    }
}

/// A ceremony under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id_hash: TokenHash,
    pub kind: CeremonyKind,
    /// The account it is for (registration, second factor); `None` for a sign-in.
    pub user_id: Option<UserId>,
    /// What it is bound to besides: the second step's challenge (its hash, hex).
    pub binding: Option<String>,
    /// webauthn-rs's state, JSON.
    pub state: String,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    async fn list_passkeys(&self, user: UserId) -> StoreResult<Vec<StoredPasskey>>;

    async fn find_passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<StoredPasskey>>;

    /// Adds a passkey. `false` when its credential id is registered already (to any account).
    async fn add_passkey(
        &self,
        p: &StoredPasskey,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool>;

    /// `false` when the account has no such passkey.
    async fn rename_passkey(&self, user: UserId, id: Uuid, name: &str) -> StoreResult<bool>;

    /// `false` when the account has no such passkey.
    async fn remove_passkey(
        &self,
        user: UserId,
        id: Uuid,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool>;

    /// Records a use: the new credential state, counter and backup eligibility, if the counter
    /// is still the one read (`seen`) and moves past it (or both are 0). `false`: another use
    /// moved it meanwhile (a clone, or a replay racing).
    #[allow(clippy::too_many_arguments)]
    async fn use_passkey(
        &self,
        id: Uuid,
        seen: i64,
        sign_count: i64,
        credential: &str,
        backup_eligible: bool,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Stores a ceremony's state (and sweeps expired ones).
    async fn put_ceremony(&self, c: &Ceremony, now: OffsetDateTime) -> StoreResult<()>;

    /// Takes a ceremony of `kind` out, if it holds: it serves once, right or wrong.
    async fn take_ceremony(
        &self,
        id_hash: &TokenHash,
        kind: CeremonyKind,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Ceremony>>;
}
