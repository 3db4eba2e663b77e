//! Failing fast while the database is down.
//!
//! Without this, every request that needs an unreachable database waits the pool's whole
//! connect timeout (5 s) before its 503, and piles up while it waits. [`FailFast`] wraps the store:
//! the first call that finds the database unreachable ([`StoreError::Unreachable`]), or a lost
//! change-notice connection, sends a prober to reach it (`Store::probe`: on PostgreSQL a
//! connection of its own); while the prober cannot, every call is refused at once with
//! `Unreachable` (503 + `Retry-After`, `/readyz` failing), and the first probe that answers (they
//! run every 200 ms) lets calls through again. Busy-but-reachable
//! errors ([`StoreError::Unavailable`]) trip nothing: they say nothing about the next request.

use super::{
    AccountStore, AuditStore, ChangeNotice, KeyRepository, NewRefreshToken, NextRefreshToken,
    Rotation, SessionStore, Store, StoreError, StoreResult,
};
use crate::accounts::{Email, ProfileUpdate, User};
use crate::audit::AuditEvent;
use crate::ids::IdentityId;
use crate::ids::{SessionId, UserId};
use crate::sessions::{BrowserSecret, BrowserStore, RevokeReason, Session};
use crate::social::{Identity, LoginCode, NewBrowserSession, PendingFlow, SocialStore, Unlinked};
use crate::throttle::{Counted, FailureRecord, Lockout, ThrottleStore};
use crate::tokens::{StoredKey, TokenHash};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::task::AbortOnDropHandle;

/// Pause between pings while the database is down: what a return may wait to be noticed.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// A ping not answered in this long counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the database is known to be down, shared with whoever may suspect it.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
    suspect: Notify,
}

impl Health {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Asks for a ping now (e.g. the change-notice connection was lost).
    pub fn suspect(&self) {
        self.suspect.notify_one();
    }

    fn went_down(&self, why: &str) {
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(error.cause = %why, "database unreachable: failing fast until a probe reaches it");
            metrics::gauge!("keycard_database_up").set(0.0);
        }
        self.suspect.notify_one();
    }

    fn came_back(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("database reachable again");
        }
        metrics::gauge!("keycard_database_up").set(1.0);
    }
}

pub struct FailFast {
    inner: Arc<dyn Store>,
    health: Arc<Health>,
    _prober: AbortOnDropHandle<()>,
}

impl FailFast {
    /// Wraps `inner` and starts its prober on the current Tokio runtime; the prober ends with
    /// the wrapper.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        let health = Arc::new(Health::default());
        metrics::gauge!("keycard_database_up").set(1.0);
        let prober = tokio::spawn(probe(inner.clone(), health.clone()));
        Self {
            inner,
            health,
            _prober: AbortOnDropHandle::new(prober),
        }
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    async fn guard<T>(&self, call: impl Future<Output = StoreResult<T>> + Send) -> StoreResult<T> {
        if self.health.is_down() {
            metrics::counter!("keycard_database_fast_failures_total").increment(1);
            return Err(StoreError::Unreachable(
                "the database is known to be down; a probe is retrying".into(),
            ));
        }
        let out = call.await;
        if let Err(StoreError::Unreachable(why)) = &out {
            self.health.went_down(why);
        }
        out
    }
}

/// Waits for a suspicion, then pings until the database answers.
async fn probe(store: Arc<dyn Store>, health: Arc<Health>) {
    loop {
        health.suspect.notified().await;
        loop {
            match tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await {
                Ok(Ok(())) => {
                    health.came_back();
                    break;
                }
                Ok(Err(e)) => health.went_down(&e.to_string()),
                Err(_) => health.went_down("probe not answered within 1 s"),
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
}

#[async_trait]
impl AccountStore for FailFast {
    async fn create_account(
        &self,
        user: &User,
        password_hash: &str,
        session: &Session,
        refresh: &NewRefreshToken,
        browser: Option<&BrowserSecret>,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        self.guard(
            self.inner
                .create_account(user, password_hash, session, refresh, browser, audit),
        )
        .await
    }

    async fn find_login(&self, email: &Email) -> StoreResult<Option<(User, Option<String>)>> {
        self.guard(self.inner.find_login(email)).await
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.guard(self.inner.find_user(id)).await
    }

    async fn find_password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        self.guard(self.inner.find_password_hash(id)).await
    }

    async fn update_profile(
        &self,
        id: UserId,
        update: &ProfileUpdate,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        self.guard(self.inner.update_profile(id, update, now, audit))
            .await
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        old: &str,
        hash: &str,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.guard(self.inner.upgrade_password_hash(id, old, hash, audit))
            .await
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: SessionId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<u64>> {
        self.guard(self.inner.change_password(id, hash, keep, now, audit))
            .await
    }
}

#[async_trait]
impl SessionStore for FailFast {
    async fn create_session(
        &self,
        session: &Session,
        refresh: &NewRefreshToken,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        self.guard(self.inner.create_session(session, refresh, audit))
            .await
    }

    async fn find_session_with_user(&self, id: SessionId) -> StoreResult<Option<(Session, User)>> {
        self.guard(self.inner.find_session_with_user(id)).await
    }

    async fn find_session_by_refresh_token(
        &self,
        token: &TokenHash,
    ) -> StoreResult<Option<Session>> {
        self.guard(self.inner.find_session_by_refresh_token(token))
            .await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        next: &NextRefreshToken,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
    ) -> StoreResult<Rotation> {
        self.guard(self.inner.rotate_refresh_token(
            presented,
            next,
            now,
            idle_expires_at,
            replay_since,
        ))
        .await
    }

    async fn list_active_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Session>> {
        self.guard(self.inner.list_active_sessions(user, now)).await
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.guard(self.inner.revoke_session(user, id, reason, now, audit))
            .await
    }

    async fn revoke_all_sessions(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<u64> {
        self.guard(self.inner.revoke_all_sessions(user, reason, now, audit))
            .await
    }
}

#[async_trait]
impl KeyRepository for FailFast {
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        self.guard(self.inner.list_signing_keys()).await
    }

    async fn add_signing_key(
        &self,
        key: &StoredKey,
        retire_others_at: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        self.guard(self.inner.add_signing_key(key, retire_others_at))
            .await
    }
}

#[async_trait]
impl AuditStore for FailFast {
    async fn record_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.guard(self.inner.record_audit(event)).await
    }

    async fn list_audit(&self, user: UserId, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        self.guard(self.inner.list_audit(user, limit)).await
    }
}

#[async_trait]
impl ThrottleStore for FailFast {
    async fn take_rate(
        &self,
        key: &str,
        now_ms: i64,
        interval_ms: i64,
        window_ms: i64,
    ) -> StoreResult<Option<i64>> {
        self.guard(self.inner.take_rate(key, now_ms, interval_ms, window_ms))
            .await
    }

    async fn give_back_rate(&self, key: &str, interval_ms: i64) -> StoreResult<()> {
        self.guard(self.inner.give_back_rate(key, interval_ms))
            .await
    }

    async fn count_login_failure(
        &self,
        account: &str,
        now_ms: i64,
        lockout: &Lockout,
    ) -> StoreResult<Counted> {
        self.guard(self.inner.count_login_failure(account, now_ms, lockout))
            .await
    }

    async fn uncount_login_failure(
        &self,
        account: &str,
        counted: &FailureRecord,
        previous: Option<&FailureRecord>,
    ) -> StoreResult<()> {
        self.guard(self.inner.uncount_login_failure(account, counted, previous))
            .await
    }

    async fn clear_login_failures(&self, account: &str) -> StoreResult<()> {
        self.guard(self.inner.clear_login_failures(account)).await
    }

    async fn prune_throttles(
        &self,
        now_ms: i64,
        forget_before_ms: i64,
        free_failures: u32,
    ) -> StoreResult<u64> {
        self.guard(
            self.inner
                .prune_throttles(now_ms, forget_before_ms, free_failures),
        )
        .await
    }
}

#[async_trait]
impl BrowserStore for FailFast {
    async fn create_browser_session(
        &self,
        session: &NewBrowserSession,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        self.guard(self.inner.create_browser_session(session, audit))
            .await
    }

    async fn find_browser_session(
        &self,
        secret: &TokenHash,
    ) -> StoreResult<Option<(Session, User)>> {
        self.guard(self.inner.find_browser_session(secret)).await
    }

    async fn touch_browser_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.guard(self.inner.touch_browser_session(id, now, idle_expires_at))
            .await
    }
}

#[async_trait]
impl crate::oidc::ClientStore for FailFast {
    async fn insert_client(&self, c: &crate::oidc::Client, ev: &AuditEvent) -> StoreResult<()> {
        self.guard(self.inner.insert_client(c, ev)).await
    }

    async fn update_client(&self, c: &crate::oidc::Client, ev: &AuditEvent) -> StoreResult<bool> {
        self.guard(self.inner.update_client(c, ev)).await
    }

    async fn find_client(&self, id: &str) -> StoreResult<Option<crate::oidc::Client>> {
        self.guard(self.inner.find_client(id)).await
    }

    async fn list_clients(&self) -> StoreResult<Vec<crate::oidc::Client>> {
        self.guard(self.inner.list_clients()).await
    }

    async fn delete_client(&self, id: &str, ev: &AuditEvent) -> StoreResult<bool> {
        self.guard(self.inner.delete_client(id, ev)).await
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret: Option<&TokenHash>,
        at: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<bool> {
        self.guard(self.inner.set_client_secret(id, secret, at, ev))
            .await
    }
}

#[async_trait]
impl crate::oidc::GrantStore for FailFast {
    async fn insert_code(&self, c: &crate::oidc::AuthCode) -> StoreResult<()> {
        self.guard(self.inner.insert_code(c)).await
    }

    async fn find_code(&self, h: &TokenHash) -> StoreResult<Option<crate::oidc::AuthCode>> {
        self.guard(self.inner.find_code(h)).await
    }

    async fn redeem_code(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
        grant: &Session,
        refresh: Option<&NewRefreshToken>,
        ev: &AuditEvent,
        replay_ev: &AuditEvent,
    ) -> StoreResult<crate::oidc::Redemption> {
        self.guard(
            self.inner
                .redeem_code(h, now, grant, refresh, ev, replay_ev),
        )
        .await
    }

    async fn prune_codes(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_codes(before)).await
    }

    async fn find_consent(&self, u: UserId, c: &str) -> StoreResult<Option<Vec<String>>> {
        self.guard(self.inner.find_consent(u, c)).await
    }

    async fn list_consents(
        &self,
        u: UserId,
    ) -> StoreResult<Vec<(String, Vec<String>, OffsetDateTime)>> {
        self.guard(self.inner.list_consents(u)).await
    }

    async fn withdraw_consent(
        &self,
        u: UserId,
        c: &str,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<bool> {
        self.guard(self.inner.withdraw_consent(u, c, now, ev)).await
    }

    async fn save_consent(
        &self,
        u: UserId,
        c: &str,
        scopes: &[String],
        at: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<()> {
        self.guard(self.inner.save_consent(u, c, scopes, at, ev))
            .await
    }
}

#[async_trait]
impl crate::mail::OutboxStore for FailFast {
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<crate::mail::PendingMail>> {
        self.guard(self.inner.claim_mail(now, lease_until, limit))
            .await
    }

    async fn mail_sent(
        &self,
        id: crate::ids::MailId,
        attempt: u32,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.guard(self.inner.mail_sent(id, attempt, now)).await
    }

    async fn mail_retry(
        &self,
        id: crate::ids::MailId,
        attempt: u32,
        next: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        self.guard(self.inner.mail_retry(id, attempt, next, error))
            .await
    }

    async fn mail_failed(
        &self,
        id: crate::ids::MailId,
        attempt: u32,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        self.guard(self.inner.mail_failed(id, attempt, now, error))
            .await
    }

    async fn prune_mail(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_mail(before)).await
    }

    async fn queue_mail(&self, mail: &crate::mail::PendingMail) -> StoreResult<()> {
        self.guard(self.inner.queue_mail(mail)).await
    }
}

#[async_trait]
impl crate::lifecycle::LifecycleStore for FailFast {
    async fn create_verification(
        &self,
        v: &crate::lifecycle::NewVerification,
        mail: &crate::mail::PendingMail,
    ) -> StoreResult<()> {
        self.guard(self.inner.create_verification(v, mail)).await
    }

    async fn last_verification_at(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>> {
        self.guard(self.inner.last_verification_at(user)).await
    }

    async fn prune_links(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_links(before)).await
    }

    async fn password_awaits_verification(&self, user: UserId) -> StoreResult<bool> {
        self.guard(self.inner.password_awaits_verification(user))
            .await
    }

    async fn create_unverified_account(
        &self,
        user: &User,
        hash: &str,
        link: &crate::lifecycle::NewVerification,
        mail: &crate::mail::PendingMail,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        self.guard(
            self.inner
                .create_unverified_account(user, hash, link, mail, audit),
        )
        .await
    }

    async fn create_password_reset(
        &self,
        r: &crate::lifecycle::NewPasswordReset,
        mail: &crate::mail::PendingMail,
        ev: &AuditEvent,
    ) -> StoreResult<()> {
        self.guard(self.inner.create_password_reset(r, mail, ev))
            .await
    }

    async fn find_password_reset(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<crate::lifecycle::ResetLink>> {
        self.guard(self.inner.find_password_reset(h, now)).await
    }

    async fn complete_password_reset(
        &self,
        r: &crate::lifecycle::CompletedReset<'_>,
    ) -> StoreResult<Option<crate::lifecycle::ResetDone>> {
        self.guard(self.inner.complete_password_reset(r)).await
    }

    async fn consume_verification(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<Option<crate::lifecycle::Verified>> {
        self.guard(self.inner.consume_verification(h, now, ev))
            .await
    }
}

#[async_trait]
impl crate::passkeys::PasskeyStore for FailFast {
    async fn list_passkeys(
        &self,
        user: UserId,
    ) -> StoreResult<Vec<crate::passkeys::StoredPasskey>> {
        self.guard(self.inner.list_passkeys(user)).await
    }

    async fn find_passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<crate::passkeys::StoredPasskey>> {
        self.guard(self.inner.find_passkey_by_credential(credential_id))
            .await
    }

    async fn add_passkey(
        &self,
        p: &crate::passkeys::StoredPasskey,
        ev: &AuditEvent,
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<bool> {
        self.guard(self.inner.add_passkey(p, ev, mail)).await
    }

    async fn rename_passkey(&self, user: UserId, id: uuid::Uuid, name: &str) -> StoreResult<bool> {
        self.guard(self.inner.rename_passkey(user, id, name)).await
    }

    async fn remove_passkey(
        &self,
        user: UserId,
        id: uuid::Uuid,
        ev: &AuditEvent,
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<bool> {
        self.guard(self.inner.remove_passkey(user, id, ev, mail))
            .await
    }

    async fn use_passkey(
        &self,
        id: uuid::Uuid,
        seen: i64,
        sign_count: i64,
        credential: &str,
        backup_eligible: bool,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.guard(
            self.inner
                .use_passkey(id, seen, sign_count, credential, backup_eligible, now),
        )
        .await
    }

    async fn put_ceremony(
        &self,
        c: &crate::passkeys::Ceremony,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.guard(self.inner.put_ceremony(c, now)).await
    }

    async fn take_ceremony(
        &self,
        h: &TokenHash,
        kind: crate::passkeys::CeremonyKind,
        now: OffsetDateTime,
    ) -> StoreResult<Option<crate::passkeys::Ceremony>> {
        self.guard(self.inner.take_ceremony(h, kind, now)).await
    }
}

#[async_trait]
impl crate::mfa::MfaStore for FailFast {
    async fn find_totp(&self, user: UserId) -> StoreResult<Option<crate::mfa::TotpFactor>> {
        self.guard(self.inner.find_totp(user)).await
    }

    async fn put_pending_totp(
        &self,
        user: UserId,
        sealed: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.guard(self.inner.put_pending_totp(user, sealed, now))
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn confirm_totp(
        &self,
        user: UserId,
        sealed: &[u8],
        step: i64,
        now: OffsetDateTime,
        codes: &[String],
        ev: &AuditEvent,
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<bool> {
        self.guard(
            self.inner
                .confirm_totp(user, sealed, step, now, codes, ev, mail),
        )
        .await
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        self.guard(self.inner.accept_totp_step(user, step)).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn remove_totp(
        &self,
        user: UserId,
        ev: &AuditEvent,
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<bool> {
        self.guard(self.inner.remove_totp(user, ev, mail)).await
    }

    async fn recovery_codes(&self, user: UserId) -> StoreResult<Vec<String>> {
        self.guard(self.inner.recovery_codes(user)).await
    }

    async fn count_second_factors(
        &self,
        user: UserId,
    ) -> StoreResult<crate::mfa::SecondFactorCounts> {
        self.guard(self.inner.count_second_factors(user)).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[String],
        now: OffsetDateTime,
        ev: &AuditEvent,
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<()> {
        self.guard(
            self.inner
                .replace_recovery_codes(user, codes, now, ev, mail),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: OffsetDateTime,
        ev: &AuditEvent,
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<bool> {
        self.guard(self.inner.use_recovery_code(user, hash, now, ev, mail))
            .await
    }

    async fn create_mfa_challenge(
        &self,
        c: &crate::mfa::MfaChallenge,
        ev: &AuditEvent,
    ) -> StoreResult<()> {
        self.guard(self.inner.create_mfa_challenge(c, ev)).await
    }

    async fn find_mfa_challenge(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<crate::mfa::MfaChallenge>> {
        self.guard(self.inner.find_mfa_challenge(h, now)).await
    }

    async fn fail_mfa_challenge(&self, h: &TokenHash, max: u32) -> StoreResult<()> {
        self.guard(self.inner.fail_mfa_challenge(h, max)).await
    }

    async fn spend_mfa_challenge(&self, h: &TokenHash, now: OffsetDateTime) -> StoreResult<bool> {
        self.guard(self.inner.spend_mfa_challenge(h, now)).await
    }
}

#[async_trait]
impl crate::lifecycle::EmailChangeStore for FailFast {
    async fn last_email_change_at(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>> {
        self.guard(self.inner.last_email_change_at(user)).await
    }

    async fn create_email_change(
        &self,
        c: &crate::lifecycle::NewEmailChange,
        mail: Option<&crate::mail::PendingMail>,
        ev: &AuditEvent,
    ) -> StoreResult<()> {
        self.guard(self.inner.create_email_change(c, mail, ev))
            .await
    }

    async fn find_email_change(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<crate::lifecycle::PendingChange>> {
        self.guard(self.inner.find_email_change(h, now)).await
    }

    async fn confirm_email_change(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
        undo: &crate::lifecycle::UndoLink,
        notice: Option<&crate::mail::PendingMail>,
        ev: &AuditEvent,
    ) -> StoreResult<Option<String>> {
        self.guard(self.inner.confirm_email_change(h, now, undo, notice, ev))
            .await
    }

    async fn find_email_undo(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserId>> {
        self.guard(self.inner.find_email_undo(h, now)).await
    }

    async fn undo_email_change(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<Option<u64>> {
        self.guard(self.inner.undo_email_change(h, now, ev)).await
    }

    async fn prune_email_changes(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_email_changes(before)).await
    }
}

#[async_trait]
impl crate::webhooks::WebhookStore for FailFast {
    async fn set_webhooks_enabled(&self, enabled: bool) -> StoreResult<()> {
        self.guard(self.inner.set_webhooks_enabled(enabled)).await
    }

    async fn webhooks_enabled(&self) -> StoreResult<bool> {
        self.guard(self.inner.webhooks_enabled()).await
    }

    async fn claim_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<crate::webhooks::ClaimedEvent>> {
        self.guard(self.inner.claim_webhooks(now, lease_until, limit))
            .await
    }

    async fn webhook_sent(
        &self,
        id: crate::ids::AuditId,
        attempt: u32,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.guard(self.inner.webhook_sent(id, attempt, now)).await
    }

    async fn webhook_retry(
        &self,
        id: crate::ids::AuditId,
        attempt: u32,
        next: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        self.guard(self.inner.webhook_retry(id, attempt, next, error))
            .await
    }

    async fn webhook_failed(
        &self,
        id: crate::ids::AuditId,
        attempt: u32,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        self.guard(self.inner.webhook_failed(id, attempt, now, error))
            .await
    }

    async fn prune_webhooks(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_webhooks(before)).await
    }
}

#[async_trait]
impl crate::admin::AccountAdminStore for FailFast {
    async fn disable_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        self.guard(self.inner.disable_user(id, now, ev)).await
    }

    async fn enable_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        self.guard(self.inner.enable_user(id, now, ev)).await
    }

    async fn list_events(&self, f: &crate::admin::EventFilter) -> StoreResult<Vec<AuditEvent>> {
        self.guard(self.inner.list_events(f)).await
    }

    async fn revoke_password(
        &self,
        id: UserId,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<Option<u64>> {
        self.guard(self.inner.revoke_password(id, now, ev)).await
    }
}

#[async_trait]
impl crate::devices::DeviceStore for FailFast {
    async fn insert_device_request(&self, r: &crate::devices::DeviceRequest) -> StoreResult<bool> {
        self.guard(self.inner.insert_device_request(r)).await
    }

    async fn find_device_request(
        &self,
        code: &str,
    ) -> StoreResult<Option<crate::devices::DeviceRequest>> {
        self.guard(self.inner.find_device_request(code)).await
    }

    async fn decide_device_request(
        &self,
        code: &str,
        d: &crate::devices::DeviceState,
        now: OffsetDateTime,
        ev: &AuditEvent,
    ) -> StoreResult<bool> {
        self.guard(self.inner.decide_device_request(code, d, now, ev))
            .await
    }

    async fn poll_device_request(
        &self,
        h: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<crate::devices::Polled>> {
        self.guard(self.inner.poll_device_request(h, now)).await
    }

    async fn redeem_device_request(
        &self,
        h: &TokenHash,
        grant: &Session,
        refresh: Option<&NewRefreshToken>,
        ev: &AuditEvent,
    ) -> StoreResult<bool> {
        self.guard(self.inner.redeem_device_request(h, grant, refresh, ev))
            .await
    }

    async fn prune_device_requests(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_device_requests(before)).await
    }
}

#[async_trait]
impl SocialStore for FailFast {
    async fn save_flow(&self, flow: &PendingFlow) -> StoreResult<()> {
        self.guard(self.inner.save_flow(flow)).await
    }

    async fn take_flow(&self, state_hash: &TokenHash) -> StoreResult<Option<PendingFlow>> {
        self.guard(self.inner.take_flow(state_hash)).await
    }

    async fn prune_flows(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.guard(self.inner.prune_flows(now)).await
    }

    async fn find_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<(Identity, User)>> {
        self.guard(self.inner.find_identity(issuer, subject)).await
    }

    async fn list_identities(&self, user: UserId) -> StoreResult<Vec<Identity>> {
        self.guard(self.inner.list_identities(user)).await
    }

    async fn create_social_account(
        &self,
        user: &User,
        identity: &Identity,
        session: &NewBrowserSession,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        self.guard(
            self.inner
                .create_social_account(user, identity, session, audit),
        )
        .await
    }

    async fn sign_in_identity(
        &self,
        identity: &Identity,
        session: Option<&NewBrowserSession>,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        self.guard(self.inner.sign_in_identity(identity, session, audit))
            .await
    }

    async fn link_identity(
        &self,
        identity: &Identity,
        session: Option<&NewBrowserSession>,
        audit: &[AuditEvent],
        mail: Option<&crate::mail::PendingMail>,
    ) -> StoreResult<()> {
        self.guard(self.inner.link_identity(identity, session, audit, mail))
            .await
    }

    async fn save_login_code(&self, code: &LoginCode) -> StoreResult<()> {
        self.guard(self.inner.save_login_code(code)).await
    }

    async fn take_login_code(&self, code_hash: &TokenHash) -> StoreResult<Option<LoginCode>> {
        self.guard(self.inner.take_login_code(code_hash)).await
    }

    async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        audit: &AuditEvent,
    ) -> StoreResult<Unlinked> {
        self.guard(self.inner.unlink_identity(user, id, audit))
            .await
    }
}

#[async_trait]
impl Store for FailFast {
    async fn ping(&self) -> StoreResult<()> {
        self.guard(self.inner.ping()).await
    }

    async fn migrate(&self) -> StoreResult<()> {
        self.inner.migrate().await
    }

    fn change_notices(&self) -> Option<tokio::sync::mpsc::Receiver<ChangeNotice>> {
        self.inner.change_notices()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A store whose database can be switched off; counts the calls that reach it.
    #[derive(Default)]
    struct Switch {
        off: AtomicBool,
        busy: AtomicBool,
        calls: AtomicUsize,
    }

    impl Switch {
        fn answer(&self) -> StoreResult<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.busy.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("database is locked".into()))
            } else if self.off.load(Ordering::SeqCst) {
                Err(StoreError::Unreachable("connection refused".into()))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl AuditStore for Switch {
        async fn record_audit(&self, _: &AuditEvent) -> StoreResult<()> {
            self.answer()
        }
        async fn list_audit(&self, _: UserId, _: u32) -> StoreResult<Vec<AuditEvent>> {
            self.answer().map(|_| Vec::new())
        }
    }

    // Only what the test calls answers; the rest is never reached.
    macro_rules! unreached {
        ($($t:tt)*) => {
            Err(StoreError::Other("not used by this test".into()))
        };
    }

    #[async_trait]
    impl AccountStore for Switch {
        async fn create_account(
            &self,
            _: &User,
            _: &str,
            _: &Session,
            _: &NewRefreshToken,
            _: Option<&BrowserSecret>,
            _: &[AuditEvent],
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn find_login(&self, _: &Email) -> StoreResult<Option<(User, Option<String>)>> {
            unreached!()
        }
        async fn find_user(&self, _: UserId) -> StoreResult<Option<User>> {
            unreached!()
        }
        async fn find_password_hash(&self, _: UserId) -> StoreResult<Option<String>> {
            unreached!()
        }
        async fn update_profile(
            &self,
            _: UserId,
            _: &ProfileUpdate,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<User>> {
            unreached!()
        }
        async fn upgrade_password_hash(
            &self,
            _: UserId,
            _: &str,
            _: &str,
            _: &AuditEvent,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn change_password(
            &self,
            _: UserId,
            _: &str,
            _: SessionId,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<u64>> {
            unreached!()
        }
    }

    #[async_trait]
    impl SessionStore for Switch {
        async fn create_session(
            &self,
            _: &Session,
            _: &NewRefreshToken,
            _: &[AuditEvent],
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn find_session_with_user(
            &self,
            _: SessionId,
        ) -> StoreResult<Option<(Session, User)>> {
            unreached!()
        }
        async fn find_session_by_refresh_token(
            &self,
            _: &TokenHash,
        ) -> StoreResult<Option<Session>> {
            unreached!()
        }
        async fn rotate_refresh_token(
            &self,
            _: &TokenHash,
            _: &NextRefreshToken,
            _: OffsetDateTime,
            _: OffsetDateTime,
            _: Option<OffsetDateTime>,
        ) -> StoreResult<Rotation> {
            unreached!()
        }
        async fn list_active_sessions(
            &self,
            _: UserId,
            _: OffsetDateTime,
        ) -> StoreResult<Vec<Session>> {
            unreached!()
        }
        async fn revoke_session(
            &self,
            _: UserId,
            _: SessionId,
            _: RevokeReason,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn revoke_all_sessions(
            &self,
            _: UserId,
            _: RevokeReason,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<u64> {
            unreached!()
        }
    }

    #[async_trait]
    impl KeyRepository for Switch {
        async fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
            unreached!()
        }
        async fn add_signing_key(
            &self,
            _: &StoredKey,
            _: Option<OffsetDateTime>,
        ) -> StoreResult<()> {
            unreached!()
        }
    }

    #[async_trait]
    impl ThrottleStore for Switch {
        async fn take_rate(&self, _: &str, _: i64, _: i64, _: i64) -> StoreResult<Option<i64>> {
            unreached!()
        }
        async fn give_back_rate(&self, _: &str, _: i64) -> StoreResult<()> {
            unreached!()
        }
        async fn count_login_failure(&self, _: &str, _: i64, _: &Lockout) -> StoreResult<Counted> {
            unreached!()
        }
        async fn uncount_login_failure(
            &self,
            _: &str,
            _: &FailureRecord,
            _: Option<&FailureRecord>,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn clear_login_failures(&self, _: &str) -> StoreResult<()> {
            unreached!()
        }
        async fn prune_throttles(&self, _: i64, _: i64, _: u32) -> StoreResult<u64> {
            unreached!()
        }
    }

    #[async_trait]
    impl BrowserStore for Switch {
        async fn create_browser_session(
            &self,
            _: &NewBrowserSession,
            _: &[AuditEvent],
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn find_browser_session(
            &self,
            _: &TokenHash,
        ) -> StoreResult<Option<(Session, User)>> {
            unreached!()
        }
        async fn touch_browser_session(
            &self,
            _: SessionId,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> StoreResult<()> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::oidc::ClientStore for Switch {
        async fn insert_client(&self, _: &crate::oidc::Client, _: &AuditEvent) -> StoreResult<()> {
            unreached!()
        }
        async fn update_client(
            &self,
            _: &crate::oidc::Client,
            _: &AuditEvent,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn find_client(&self, _: &str) -> StoreResult<Option<crate::oidc::Client>> {
            unreached!()
        }
        async fn list_clients(&self) -> StoreResult<Vec<crate::oidc::Client>> {
            unreached!()
        }
        async fn delete_client(&self, _: &str, _: &AuditEvent) -> StoreResult<bool> {
            unreached!()
        }
        async fn set_client_secret(
            &self,
            _: &str,
            _: Option<&TokenHash>,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<bool> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::oidc::GrantStore for Switch {
        async fn insert_code(&self, _: &crate::oidc::AuthCode) -> StoreResult<()> {
            unreached!()
        }
        async fn find_code(&self, _: &TokenHash) -> StoreResult<Option<crate::oidc::AuthCode>> {
            unreached!()
        }
        async fn redeem_code(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
            _: &Session,
            _: Option<&NewRefreshToken>,
            _: &AuditEvent,
            _: &AuditEvent,
        ) -> StoreResult<crate::oidc::Redemption> {
            unreached!()
        }
        async fn prune_codes(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
        async fn find_consent(&self, _: UserId, _: &str) -> StoreResult<Option<Vec<String>>> {
            unreached!()
        }
        async fn list_consents(
            &self,
            _: UserId,
        ) -> StoreResult<Vec<(String, Vec<String>, OffsetDateTime)>> {
            unreached!()
        }
        async fn withdraw_consent(
            &self,
            _: UserId,
            _: &str,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn save_consent(
            &self,
            _: UserId,
            _: &str,
            _: &[String],
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<()> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::devices::DeviceStore for Switch {
        async fn insert_device_request(
            &self,
            _: &crate::devices::DeviceRequest,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn find_device_request(
            &self,
            _: &str,
        ) -> StoreResult<Option<crate::devices::DeviceRequest>> {
            unreached!()
        }
        async fn decide_device_request(
            &self,
            _: &str,
            _: &crate::devices::DeviceState,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn poll_device_request(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
        ) -> StoreResult<Option<crate::devices::Polled>> {
            unreached!()
        }
        async fn redeem_device_request(
            &self,
            _: &TokenHash,
            _: &Session,
            _: Option<&NewRefreshToken>,
            _: &AuditEvent,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn prune_device_requests(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
    }

    #[async_trait]
    impl SocialStore for Switch {
        async fn save_flow(&self, _: &PendingFlow) -> StoreResult<()> {
            unreached!()
        }
        async fn take_flow(&self, _: &TokenHash) -> StoreResult<Option<PendingFlow>> {
            unreached!()
        }
        async fn prune_flows(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
        async fn find_identity(&self, _: &str, _: &str) -> StoreResult<Option<(Identity, User)>> {
            unreached!()
        }
        async fn list_identities(&self, _: UserId) -> StoreResult<Vec<Identity>> {
            unreached!()
        }
        async fn create_social_account(
            &self,
            _: &User,
            _: &Identity,
            _: &NewBrowserSession,
            _: &[AuditEvent],
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn sign_in_identity(
            &self,
            _: &Identity,
            _: Option<&NewBrowserSession>,
            _: &[AuditEvent],
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn link_identity(
            &self,
            _: &Identity,
            _: Option<&NewBrowserSession>,
            _: &[AuditEvent],
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn save_login_code(&self, _: &LoginCode) -> StoreResult<()> {
            unreached!()
        }
        async fn take_login_code(&self, _: &TokenHash) -> StoreResult<Option<LoginCode>> {
            unreached!()
        }
        async fn unlink_identity(
            &self,
            _: UserId,
            _: IdentityId,
            _: &AuditEvent,
        ) -> StoreResult<Unlinked> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::mail::OutboxStore for Switch {
        async fn claim_mail(
            &self,
            _: OffsetDateTime,
            _: OffsetDateTime,
            _: u32,
        ) -> StoreResult<Vec<crate::mail::PendingMail>> {
            unreached!()
        }
        async fn mail_sent(
            &self,
            _: crate::ids::MailId,
            _: u32,
            _: OffsetDateTime,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn mail_retry(
            &self,
            _: crate::ids::MailId,
            _: u32,
            _: OffsetDateTime,
            _: &str,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn mail_failed(
            &self,
            _: crate::ids::MailId,
            _: u32,
            _: OffsetDateTime,
            _: &str,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn prune_mail(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
        async fn queue_mail(&self, _: &crate::mail::PendingMail) -> StoreResult<()> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::lifecycle::LifecycleStore for Switch {
        async fn create_verification(
            &self,
            _: &crate::lifecycle::NewVerification,
            _: &crate::mail::PendingMail,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn last_verification_at(&self, _: UserId) -> StoreResult<Option<OffsetDateTime>> {
            unreached!()
        }
        async fn prune_links(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
        async fn password_awaits_verification(&self, _: UserId) -> StoreResult<bool> {
            unreached!()
        }
        async fn create_unverified_account(
            &self,
            _: &User,
            _: &str,
            _: &crate::lifecycle::NewVerification,
            _: &crate::mail::PendingMail,
            _: &[AuditEvent],
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn create_password_reset(
            &self,
            _: &crate::lifecycle::NewPasswordReset,
            _: &crate::mail::PendingMail,
            _: &AuditEvent,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn find_password_reset(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
        ) -> StoreResult<Option<crate::lifecycle::ResetLink>> {
            unreached!()
        }
        async fn complete_password_reset(
            &self,
            _: &crate::lifecycle::CompletedReset<'_>,
        ) -> StoreResult<Option<crate::lifecycle::ResetDone>> {
            unreached!()
        }
        async fn consume_verification(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<crate::lifecycle::Verified>> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::passkeys::PasskeyStore for Switch {
        async fn list_passkeys(
            &self,
            _: UserId,
        ) -> StoreResult<Vec<crate::passkeys::StoredPasskey>> {
            unreached!()
        }
        async fn find_passkey_by_credential(
            &self,
            _: &[u8],
        ) -> StoreResult<Option<crate::passkeys::StoredPasskey>> {
            unreached!()
        }
        async fn add_passkey(
            &self,
            _: &crate::passkeys::StoredPasskey,
            _: &AuditEvent,
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn rename_passkey(&self, _: UserId, _: uuid::Uuid, _: &str) -> StoreResult<bool> {
            unreached!()
        }
        async fn remove_passkey(
            &self,
            _: UserId,
            _: uuid::Uuid,
            _: &AuditEvent,
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn use_passkey(
            &self,
            _: uuid::Uuid,
            _: i64,
            _: i64,
            _: &str,
            _: bool,
            _: OffsetDateTime,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn put_ceremony(
            &self,
            _: &crate::passkeys::Ceremony,
            _: OffsetDateTime,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn take_ceremony(
            &self,
            _: &TokenHash,
            _: crate::passkeys::CeremonyKind,
            _: OffsetDateTime,
        ) -> StoreResult<Option<crate::passkeys::Ceremony>> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::mfa::MfaStore for Switch {
        async fn find_totp(&self, _: UserId) -> StoreResult<Option<crate::mfa::TotpFactor>> {
            unreached!()
        }
        async fn put_pending_totp(
            &self,
            _: UserId,
            _: &[u8],
            _: OffsetDateTime,
        ) -> StoreResult<bool> {
            unreached!()
        }
        #[allow(clippy::too_many_arguments)]
        async fn confirm_totp(
            &self,
            _: UserId,
            _: &[u8],
            _: i64,
            _: OffsetDateTime,
            _: &[String],
            _: &AuditEvent,
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn accept_totp_step(&self, _: UserId, _: i64) -> StoreResult<bool> {
            unreached!()
        }
        #[allow(clippy::too_many_arguments)]
        async fn remove_totp(
            &self,
            _: UserId,
            _: &AuditEvent,
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn recovery_codes(&self, _: UserId) -> StoreResult<Vec<String>> {
            unreached!()
        }
        async fn count_second_factors(
            &self,
            _: UserId,
        ) -> StoreResult<crate::mfa::SecondFactorCounts> {
            unreached!()
        }
        #[allow(clippy::too_many_arguments)]
        async fn replace_recovery_codes(
            &self,
            _: UserId,
            _: &[String],
            _: OffsetDateTime,
            _: &AuditEvent,
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<()> {
            unreached!()
        }
        #[allow(clippy::too_many_arguments)]
        async fn use_recovery_code(
            &self,
            _: UserId,
            _: &str,
            _: OffsetDateTime,
            _: &AuditEvent,
            _: Option<&crate::mail::PendingMail>,
        ) -> StoreResult<bool> {
            unreached!()
        }
        async fn create_mfa_challenge(
            &self,
            _: &crate::mfa::MfaChallenge,
            _: &AuditEvent,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn find_mfa_challenge(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
        ) -> StoreResult<Option<crate::mfa::MfaChallenge>> {
            unreached!()
        }
        async fn fail_mfa_challenge(&self, _: &TokenHash, _: u32) -> StoreResult<()> {
            unreached!()
        }
        async fn spend_mfa_challenge(&self, _: &TokenHash, _: OffsetDateTime) -> StoreResult<bool> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::lifecycle::EmailChangeStore for Switch {
        async fn last_email_change_at(&self, _: UserId) -> StoreResult<Option<OffsetDateTime>> {
            unreached!()
        }
        async fn create_email_change(
            &self,
            _: &crate::lifecycle::NewEmailChange,
            _: Option<&crate::mail::PendingMail>,
            _: &AuditEvent,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn find_email_change(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
        ) -> StoreResult<Option<crate::lifecycle::PendingChange>> {
            unreached!()
        }
        async fn confirm_email_change(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
            _: &crate::lifecycle::UndoLink,
            _: Option<&crate::mail::PendingMail>,
            _: &AuditEvent,
        ) -> StoreResult<Option<String>> {
            unreached!()
        }
        async fn find_email_undo(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
        ) -> StoreResult<Option<UserId>> {
            unreached!()
        }
        async fn undo_email_change(
            &self,
            _: &TokenHash,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<u64>> {
            unreached!()
        }
        async fn prune_email_changes(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::webhooks::WebhookStore for Switch {
        async fn set_webhooks_enabled(&self, _: bool) -> StoreResult<()> {
            unreached!()
        }
        async fn webhooks_enabled(&self) -> StoreResult<bool> {
            unreached!()
        }
        async fn claim_webhooks(
            &self,
            _: OffsetDateTime,
            _: OffsetDateTime,
            _: u32,
        ) -> StoreResult<Vec<crate::webhooks::ClaimedEvent>> {
            unreached!()
        }
        async fn webhook_sent(
            &self,
            _: crate::ids::AuditId,
            _: u32,
            _: OffsetDateTime,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn webhook_retry(
            &self,
            _: crate::ids::AuditId,
            _: u32,
            _: OffsetDateTime,
            _: &str,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn webhook_failed(
            &self,
            _: crate::ids::AuditId,
            _: u32,
            _: OffsetDateTime,
            _: &str,
        ) -> StoreResult<()> {
            unreached!()
        }
        async fn prune_webhooks(&self, _: OffsetDateTime) -> StoreResult<u64> {
            unreached!()
        }
    }

    #[async_trait]
    impl crate::admin::AccountAdminStore for Switch {
        async fn disable_user(
            &self,
            _: UserId,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<User>> {
            unreached!()
        }
        async fn enable_user(
            &self,
            _: UserId,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<User>> {
            unreached!()
        }
        async fn list_events(&self, _: &crate::admin::EventFilter) -> StoreResult<Vec<AuditEvent>> {
            unreached!()
        }
        async fn revoke_password(
            &self,
            _: UserId,
            _: OffsetDateTime,
            _: &AuditEvent,
        ) -> StoreResult<Option<u64>> {
            unreached!()
        }
    }

    #[async_trait]
    impl Store for Switch {
        async fn ping(&self) -> StoreResult<()> {
            self.answer()
        }
        async fn migrate(&self) -> StoreResult<()> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_at_once_while_down_and_recovers_on_the_first_ping_that_answers() {
        let db = Arc::new(Switch::default());
        let store = FailFast::new(db.clone());
        let user = UserId::new();
        assert!(store.list_audit(user, 1).await.is_ok());

        db.off.store(true, Ordering::SeqCst);
        // The first call finds out, and reports the outage itself.
        assert!(matches!(
            store.list_audit(user, 1).await,
            Err(StoreError::Unreachable(_))
        ));
        assert!(store.health().is_down());
        let reached = db.calls.load(Ordering::SeqCst);
        for _ in 0..100 {
            assert!(matches!(
                store.list_audit(user, 1).await,
                Err(StoreError::Unreachable(_))
            ));
        }
        assert_eq!(
            db.calls.load(Ordering::SeqCst),
            reached,
            "no call may reach a database known to be down"
        );

        // The prober keeps pinging; the first answer after the return lets calls through.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(store.health().is_down());
        db.off.store(false, Ordering::SeqCst);
        tokio::time::sleep(PROBE_EVERY * 2).await;
        assert!(!store.health().is_down());
        assert!(store.list_audit(user, 1).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspicion_is_checked_and_busy_errors_trip_nothing() {
        let db = Arc::new(Switch::default());
        let store = FailFast::new(db.clone());
        db.busy.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            assert!(matches!(
                store.list_audit(UserId::new(), 1).await,
                Err(StoreError::Unavailable(_))
            ));
        }
        assert!(!store.health().is_down(), "busy is not down");
        db.busy.store(false, Ordering::SeqCst);
        store.health().suspect();
        tokio::time::sleep(PROBE_EVERY).await;
        assert!(
            !store.health().is_down(),
            "a ping that answers clears the suspicion"
        );
        db.off.store(true, Ordering::SeqCst);
        store.health().suspect();
        tokio::time::sleep(PROBE_EVERY).await;
        assert!(store.health().is_down(), "a ping that fails confirms it");
    }
}
