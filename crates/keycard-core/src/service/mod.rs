//! The flows: sign-up and sign-in (`sign_in`), refresh (`refresh`), logout, profile, password
//! change and the session list. Each public method is one use case the HTTP layer calls once.

use crate::accounts::{ProfileUpdate, User};
use crate::audit::{AuditEvent, AuditKind};
use crate::clock::{Clock, whole_seconds};
use crate::config::Policy;
use crate::error::{AuthFailure, Error, Result};
use crate::ids::{AuditId, RefreshTokenId, SessionId, UserId};
use crate::passwords::PasswordHasher;
use crate::sessions::{RevokeReason, Session, SessionCache, SessionKind, device_label};
use crate::store::fail_fast::{FailFast, Health};
use crate::store::{ChangeNotice, NewRefreshToken, Store};
use crate::throttle::Throttle;
use crate::tokens::{
    AccessClaims, KeyStore, RefreshToken, SecretKey, SigningAlg, Successors, TokenKind, TokenPair,
};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

mod refresh;
mod security;
mod sign_in;

/// Who is calling, as far as the network can tell. Recorded on sessions and audit events.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The language the caller reads (a page language such as `en`), for the mail Keycard sends
    /// them; English when unknown.
    pub locale: Option<String>,
}

/// What a password sign-in led to: a session, or the second step it still needs.
#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn(SignedIn),
    SecondFactor(crate::mfa::MfaRequired),
}

/// An authenticated caller of Keycard's own API.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    /// The account as read while authenticating, so profile reads cost no second query.
    pub user: User,
}

/// The outcome of a sign-in: who, and their new tokens.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub session_id: SessionId,
    pub tokens: TokenPair,
    /// The session cookie's secret, when the sign-in opened a browser session.
    pub browser_secret: Option<String>,
}

pub struct Keycard {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    keys: Arc<KeyStore>,
    successors: Successors,
    policy: Policy,
    sessions: Arc<SessionCache>,
    throttle: Throttle,
    providers: crate::social::Providers,
    forms: crate::browser::FormTokens,
    client_secrets: crate::oidc::ClientSecrets,
    logouts: Option<Arc<dyn crate::oidc::LogoutChannel>>,
    /// Screens new passwords against a breach corpus, when configured.
    breaches: Option<crate::passwords::BreachScreen>,
    /// Seals the secrets of authenticator apps (TOTP).
    mfa_key: SecretKey,
    /// The passkeys' relying party; `None` when passkeys are off.
    passkey_rp: Option<Arc<webauthn_rs::Webauthn>>,
    /// Whether the public URL's origin is one the relying party allows (see
    /// [`Self::passkeys_on_pages`]); decided once, at start.
    passkeys_on_pages: bool,
    /// Seals what waits in the mail outbox.
    mail_key: SecretKey,
    /// Wakes the mail delivery task when a message is queued.
    mail_queued: Arc<tokio::sync::Notify>,
    /// Applies the store's change notices to `sessions`; ends with the service.
    _notices: Option<AbortOnDropHandle<()>>,
}

impl std::fmt::Debug for Keycard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keycard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Keycard {
    pub(crate) fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub(crate) fn password_hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub(crate) fn client_secrets(&self) -> &crate::oidc::ClientSecrets {
        &self.client_secrets
    }

    pub(crate) fn passkey_rp(&self) -> Option<&webauthn_rs::Webauthn> {
        self.passkey_rp.as_deref()
    }

    /// Whether passkeys can be used here.
    pub fn passkeys_enabled(&self) -> bool {
        self.passkey_rp.is_some()
    }

    /// Whether Keycard's own pages can run passkey ceremonies: their origin (the public URL's)
    /// is one the relying party allows. (Apps on other origins may still use the API.)
    pub fn passkeys_on_pages(&self) -> bool {
        self.passkeys_on_pages
    }

    pub(crate) fn mfa_key(&self) -> &SecretKey {
        &self.mfa_key
    }

    pub(crate) fn mail_key(&self) -> &SecretKey {
        &self.mail_key
    }

    /// Tells the delivery task a message is waiting.
    pub(crate) fn mail_queued(&self) {
        self.mail_queued.notify_one();
    }

    /// Resolves when a message was queued since the last call (or at once if one was): the
    /// delivery task waits on this or its polling pause, whichever comes first.
    pub async fn mail_waiting(&self) {
        self.mail_queued.notified().await;
    }

    /// Loads the signing keys, creating the first one on a fresh database.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        kek: SecretKey,
        policy: Policy,
    ) -> Result<Self> {
        let guarded = FailFast::new(store);
        let health = guarded.health().clone();
        let store: Arc<dyn Store> = Arc::new(guarded);
        let feed = store.change_notices();
        let sessions = Arc::new(SessionCache::new(policy.session_cache_ttl, feed.is_none()));
        let notices = feed.map(|rx| {
            AbortOnDropHandle::new(tokio::spawn(apply_notices(rx, sessions.clone(), health)))
        });
        let throttle = Throttle::new(
            store.clone(),
            clock.clone(),
            policy.throttle,
            kek.derive("keycard throttle keys v1"),
        );
        let kc = Self {
            store,
            clock,
            throttle,
            hasher,
            successors: Successors::new(&kek),
            forms: crate::browser::FormTokens::new(&kek),
            client_secrets: crate::oidc::ClientSecrets::new(&kek),
            mail_key: kek.derived("keycard mail outbox v1"),
            mfa_key: kek.derived("keycard totp secrets v1"),
            passkey_rp: crate::passkeys::relying_party(&policy).map(Arc::new),
            passkeys_on_pages: false,
            mail_queued: Arc::new(tokio::sync::Notify::new()),
            keys: Arc::new(KeyStore::new(kek)),
            policy,
            sessions,
            providers: crate::social::Providers::default(),
            logouts: None,
            breaches: None,

            _notices: notices,
        };
        let public = webauthn_rs::prelude::Url::parse(&kc.policy.issuer).ok();
        let kc = Self {
            passkeys_on_pages: kc.passkey_rp.as_ref().is_some_and(|rp| {
                public.is_some_and(|p| {
                    rp.get_allowed_origins()
                        .iter()
                        .any(|o| o.origin() == p.origin())
                })
            }),
            ..kc
        };
        kc.reload_keys().await?;
        let missing = kc.keys.missing_signers();
        if !missing.is_empty() {
            // A fresh database, or one from before an algorithm was added: the keys that are
            // there keep signing.
            tracing::info!(
                ?missing,
                "generating the first signing key of each missing algorithm"
            );
            kc.add_keys(&missing, None).await?;
        }
        Ok(kc)
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Enables sign-in through these providers (none by default).
    pub fn with_providers(mut self, providers: crate::social::Providers) -> Self {
        self.providers = providers;
        self
    }

    /// Sends back-channel logout tokens to the apps that registered for them.
    pub fn with_logout_channel(mut self, channel: Arc<dyn crate::oidc::LogoutChannel>) -> Self {
        self.logouts = Some(channel);
        self
    }

    /// Screens every new password (sign-up, change, reset) against a breach corpus.
    pub fn with_breach_screen(mut self, screen: crate::passwords::BreachScreen) -> Self {
        self.breaches = Some(screen);
        self
    }

    /// Refuses a new password the breach corpus lists (`field` names it in the error). Without
    /// a screen, or without an answer in time, the password passes.
    pub(crate) async fn screen_password(
        &self,
        password: &crate::passwords::Password,
        field: &'static str,
    ) -> Result<()> {
        let Some(screen) = &self.breaches else {
            return Ok(());
        };
        if screen.is_breached(password.as_bytes()).await == Some(true) {
            return Err(Error::invalid(
                field,
                "password_breached",
                "this password appears in known data breaches; choose another",
            ));
        }
        Ok(())
    }

    pub(crate) fn logout_channel(&self) -> Option<&Arc<dyn crate::oidc::LogoutChannel>> {
        self.logouts.as_ref()
    }

    pub fn providers(&self) -> &crate::social::Providers {
        &self.providers
    }

    pub fn now(&self) -> OffsetDateTime {
        whole_seconds(self.clock.now())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    pub(crate) fn form_tokens(&self) -> &crate::browser::FormTokens {
        &self.forms
    }

    pub(crate) fn session_cache(&self) -> &SessionCache {
        &self.sessions
    }

    /// See [`SessionCache::state`].
    pub fn session_cache_state(&self) -> &'static str {
        self.sessions.state()
    }

    pub fn session_cache_entries(&self) -> usize {
        self.sessions.len()
    }

    /// Re-reads the signing keys (picks up `keycard keys rotate` run elsewhere).
    pub async fn reload_keys(&self) -> Result<()> {
        let stored = self.store.list_signing_keys().await?;
        self.keys.load(&stored, self.now())
    }

    /// Adds a new signing key for every algorithm; the previous ones stay published until their
    /// tokens expired. Returns the new key ids.
    pub async fn rotate_keys(&self) -> Result<Vec<(SigningAlg, String)>> {
        let retire = self.now() + self.policy.key_retirement_grace;
        self.add_keys(&SigningAlg::ALL, Some(retire)).await
    }

    async fn add_keys(
        &self,
        algs: &[SigningAlg],
        retire_others_at: Option<OffsetDateTime>,
    ) -> Result<Vec<(SigningAlg, String)>> {
        let now = self.now();
        let mut kids = Vec::new();
        for &alg in algs {
            // RSA key generation takes tens of milliseconds: off the async workers.
            let keys = self.keys.clone();
            let key = tokio::task::spawn_blocking(move || keys.generate(alg, now))
                .await
                .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))??;
            self.store.add_signing_key(&key, retire_others_at).await?;
            kids.push((alg, key.kid));
        }
        self.reload_keys().await?;
        Ok(kids)
    }

    /// Deletes throttling counters that no longer hold anything back.
    pub async fn prune_throttles(&self) -> Result<u64> {
        self.throttle.prune().await
    }

    pub fn jwks_json(&self) -> Arc<str> {
        self.keys.jwks_json()
    }

    pub(crate) fn audit_event(
        &self,
        kind: AuditKind,
        user: Option<UserId>,
        session: Option<SessionId>,
        client: &ClientInfo,
    ) -> AuditEvent {
        self.audit(kind, user, session, client)
    }

    fn audit(
        &self,
        kind: AuditKind,
        user: Option<UserId>,
        session: Option<SessionId>,
        client: &ClientInfo,
    ) -> AuditEvent {
        AuditEvent {
            id: AuditId::new(),
            at: self.now(),
            kind,
            user_id: user,
            session_id: session,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    /// Runs a write that changes `user` or ends one of their sessions, then forgets what the
    /// session cache holds of them. The write is a task of its own, so it completes — and the
    /// forgetting follows its commit — even when the request that asked for it is dropped
    /// half-way by a client that hung up. (Forgetting before a commit that still lands would let
    /// a concurrent read cache the old state again.)
    pub(crate) async fn changing_user<T, F, Fut>(&self, user: UserId, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Store>) -> Fut,
        Fut: Future<Output = crate::store::StoreResult<T>> + Send + 'static,
    {
        let pending = write(self.store.clone());
        let sessions = self.sessions.clone();
        let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
            let written = pending.await;
            sessions.forget_user(user);
            written
        }));
        match task.await {
            Ok(written) => Ok(written?),
            Err(e) => {
                self.sessions.forget_user(user);
                Err(Error::Internal(format!("store write task failed: {e}")))
            }
        }
    }

    /// A session of `user`, who just signed in by `amr` (`pwd` or a provider's id).
    pub(crate) fn new_session(
        &self,
        user: UserId,
        client: &ClientInfo,
        amr: Vec<String>,
    ) -> Session {
        let now = self.now();
        let expires_at = now + self.policy.session_absolute_lifetime;
        Session {
            id: SessionId::new(),
            user_id: user,
            kind: SessionKind::Api,
            client_id: None,
            device: device_label(client.user_agent.as_deref()),
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
            created_at: now,
            last_used_at: now,
            idle_expires_at: (now + self.policy.session_idle_timeout).min(expires_at),
            expires_at,
            revoked_at: None,
            amr,
            auth_time: now,
            scopes: Vec::new(),
            origin: None,
        }
    }

    /// An app's grant for `user`: a session of its own, carrying how and when the person signed
    /// in and what the app may do. The caller says where it came from (`origin`, `device`).
    pub(crate) fn new_grant(
        &self,
        user: UserId,
        client_id: &str,
        by: &ClientInfo,
        amr: Vec<String>,
        auth_time: OffsetDateTime,
        scopes: Vec<String>,
    ) -> Session {
        let mut grant = self.new_session(user, by, Vec::new());
        grant.kind = SessionKind::Grant;
        grant.client_id = Some(client_id.to_owned());
        grant.amr = amr;
        grant.auth_time = auth_time;
        grant.scopes = scopes;
        grant
    }

    pub(crate) fn new_refresh(
        &self,
        session: SessionId,
    ) -> Result<(RefreshToken, NewRefreshToken)> {
        let secret = RefreshToken::generate()?;
        let row = NewRefreshToken {
            id: RefreshTokenId::new(),
            session_id: session,
            hash: secret.hash(),
            issued_at: self.now(),
        };
        Ok((secret, row))
    }

    pub(crate) fn tokens_for(&self, session: &Session, refresh: RefreshToken) -> Result<TokenPair> {
        let now = self.now();
        let exp = (now + self.policy.access_token_ttl).min(session.expires_at);
        let claims = AccessClaims {
            iss: self.policy.issuer.clone(),
            sub: session.user_id.to_string(),
            aud: self.policy.audience.clone(),
            exp: exp.unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            jti: Uuid::new_v4().to_string(),
            sid: session.id.to_string(),
            client_id: "keycard".into(),
            amr: session.amr.clone(),
            auth_time: Some(session.auth_time.unix_timestamp()),
            acr: Some(session.acr().to_owned()),
        };
        let access_token = self.keys.sign(TokenKind::Access.typ(), &claims)?;
        Ok(TokenPair {
            access_token,
            expires_in: (exp - now).whole_seconds(),
            refresh_token: refresh,
            refresh_expires_in: (session.idle_expires_at.min(session.expires_at) - now)
                .whole_seconds(),
        })
    }

    /// Verifies a bearer token and that its session is still active.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        let now = self.now();
        let claims = self.keys.verify_access(
            access_token,
            &self.policy.issuer,
            &self.policy.audience,
            now,
        )?;
        let bad = || Error::Unauthenticated(AuthFailure::InvalidToken);
        let user_id: UserId = claims.sub.parse().map_err(|_| bad())?;
        let session_id: SessionId = claims.sid.parse().map_err(|_| bad())?;
        let principal = |user| Principal {
            user_id,
            session_id,
            user,
        };
        if let Some(user) = self.sessions.get(session_id, user_id, now) {
            return Ok(principal(user));
        }
        let ticket = self.sessions.ticket();
        match self.store.find_session_with_user(session_id).await? {
            // An app's grant is no key to Keycard's own API, whatever token names it.
            Some((s, user))
                if s.user_id == user_id
                    && s.is_active(now)
                    && s.kind != SessionKind::Grant
                    && user.disabled_at.is_none() =>
            {
                self.sessions.put(ticket, s, user.clone());
                Ok(principal(user))
            }
            _ => Err(Error::Unauthenticated(AuthFailure::SessionEnded)),
        }
    }

    /// Ends the session a refresh token belongs to (logout without an access token, e.g. a
    /// browser holding only the refresh cookie). Unknown tokens are not an error: logging out
    /// must always leave the client logged out.
    pub async fn logout_refresh(
        &self,
        presented: &RefreshToken,
        client: &ClientInfo,
    ) -> Result<()> {
        if let Some(s) = self
            .store
            .find_session_by_refresh_token(&presented.hash())
            .await?
        {
            self.end_session(s.user_id, s.id, client).await?;
        }
        Ok(())
    }

    pub async fn logout(&self, who: &Principal, client: &ClientInfo) -> Result<()> {
        self.end_session(who.user_id, who.session_id, client).await
    }

    async fn end_session(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<()> {
        let ev = self.audit(AuditKind::Logout, Some(user), Some(session), client);
        let now = self.now();
        self.ending_sessions(user, move |store| async move {
            store
                .revoke_session(user, session, RevokeReason::Logout, now, &ev)
                .await
        })
        .await?;
        Ok(())
    }

    pub async fn logout_all(&self, who: &Principal, client: &ClientInfo) -> Result<u64> {
        let ev = self.audit(
            AuditKind::LogoutAll,
            Some(who.user_id),
            Some(who.session_id),
            client,
        );
        let (user, now) = (who.user_id, self.now());
        self.ending_sessions(user, move |store| async move {
            store
                .revoke_all_sessions(user, RevokeReason::LogoutAll, now, &ev)
                .await
        })
        .await
    }

    /// The caller's profile, as read while authenticating.
    pub fn me(&self, who: &Principal) -> User {
        who.user.clone()
    }

    pub async fn update_profile(
        &self,
        who: &Principal,
        update: ProfileUpdate,
        client: &ClientInfo,
    ) -> Result<User> {
        let ev = self.audit(
            AuditKind::ProfileUpdated,
            Some(who.user_id),
            Some(who.session_id),
            client,
        );
        let (user, now) = (who.user_id, self.now());
        self.changing_user(user, move |store| async move {
            store.update_profile(user, &update, now, &ev).await
        })
        .await?
        .ok_or(Error::NotFound)
    }

    /// Changes the password after checking the current one (and, with a second factor on, a
    /// recent sign-in through it); ends every other session.
    pub async fn change_password(
        &self,
        who: &Principal,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<u64> {
        let user = &who.user;
        // The current password; with a second factor on, also a sign-in through it within the
        // recent window (the password alone is then not a full sign-in).
        self.reauthenticate(who, Some(current), client).await?;
        let password = self
            .policy
            .password
            .check(new, user.email.as_ref(), "new_password")?;
        self.screen_password(&password, "new_password").await?;
        let hash = self.hasher.hash(&password).await?;
        let ev = self.audit(
            AuditKind::PasswordChanged,
            Some(who.user_id),
            Some(who.session_id),
            client,
        );
        let (user, keep, now) = (who.user_id, who.session_id, self.now());
        let ended = self
            .ending_sessions(user, move |store| async move {
                store.change_password(user, &hash, keep, now, &ev).await
            })
            .await?
            .ok_or(Error::Unauthenticated(AuthFailure::SessionEnded))?;
        if let Some(email) = &who.user.email {
            if let Err(e) = self.throttle.forget_failures(email).await {
                tracing::warn!(error = %e, "could not clear sign-in failures after a password change");
            }
            // After the change, not in its transaction: a notice lost to a crash in between
            // costs less than a password change refused for a mail.
            if let Err(e) = self.queue_password_notice(email, "changed", client).await {
                tracing::error!(error = %e, "could not queue the password-change notice");
            }
        }
        Ok(ended)
    }

    /// The mail that tells an address its account's password changed (`reason`: `changed`,
    /// `reset`), with the way back if it was not them.
    pub(crate) fn password_notice(
        &self,
        email: &crate::accounts::Email,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<crate::mail::PendingMail> {
        let mut fields = serde_json::Map::new();
        fields.insert(
            "link".into(),
            format!("{}/password/forgot", self.policy.issuer).into(),
        );
        fields.insert("reason".into(), reason.into());
        let locale = client.locale.as_deref().unwrap_or("en");
        let mail = crate::mail::Mail::new(
            crate::mail::MailKind::PasswordChanged,
            email.clone(),
            locale,
            fields,
            self.now(),
        );
        self.seal_mail(&mail)
    }

    async fn queue_password_notice(
        &self,
        email: &crate::accounts::Email,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let pending = self.password_notice(email, reason, client)?;
        self.store.queue_mail(&pending).await?;
        self.mail_queued();
        Ok(())
    }

    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<Session>> {
        Ok(self
            .store
            .list_active_sessions(who.user_id, self.now())
            .await?)
    }

    pub async fn revoke_session(
        &self,
        who: &Principal,
        id: SessionId,
        client: &ClientInfo,
    ) -> Result<()> {
        let ev = self.audit(
            AuditKind::SessionRevoked,
            Some(who.user_id),
            Some(id),
            client,
        );
        let (user, now) = (who.user_id, self.now());
        if self
            .ending_sessions(user, move |store| async move {
                store
                    .revoke_session(user, id, RevokeReason::RevokedByUser, now, &ev)
                    .await
            })
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    pub async fn recent_events(&self, who: &Principal, limit: u32) -> Result<Vec<AuditEvent>> {
        Ok(self
            .store
            .list_audit(who.user_id, limit.clamp(1, 200))
            .await?)
    }
}

/// Keeps the session cache true to changes other processes make. A lost notice connection is
/// also the earliest sign of a database outage: it sends the fail-fast prober to look.
async fn apply_notices(
    mut notices: tokio::sync::mpsc::Receiver<ChangeNotice>,
    sessions: Arc<SessionCache>,
    health: Arc<Health>,
) {
    while let Some(notice) = notices.recv().await {
        match notice {
            ChangeNotice::UserChanged(user) => sessions.forget_user(user),
            ChangeNotice::AllChanged => sessions.forget_all(),
            ChangeNotice::Deaf => {
                sessions.deafened();
                health.suspect();
            }
            ChangeNotice::Listening => sessions.listening(),
        }
    }
    // The store stopped listening for good: stay correct without the cache.
    sessions.deafened();
}

/// Runs a use case as a task of its own and waits for it. A request future is dropped when its
/// client hangs up; a use case cut there could leave a sign-in attempt counted but not judged,
/// or (PostgreSQL) a transaction whose COMMIT was sent but never acknowledged, rolled back by
/// the dropped handle after the fact. As a task it completes as a unit, and the client that
/// retries finds its result (for a refresh, the same successor within the grace window).
pub(crate) async fn detached<T, Fut>(use_case: Fut) -> Result<T>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    // In the caller's span, so what it logs carries the request's id.
    tokio::spawn(tracing::Instrument::in_current_span(use_case))
        .await
        .map_err(|e| Error::Internal(format!("use-case task failed: {e}")))?
}
