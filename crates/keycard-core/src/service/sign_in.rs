//! Sign-up and password sign-in: each attempt passes the throttle first (before any hash), is
//! judged, and is recorded with what it did to the account's count.

use super::{ClientInfo, Keycard, LoginOutcome, SignedIn, detached};
use crate::accounts::{Email, User};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::passwords::Verification;
use crate::sessions::{BrowserSecret, NewBrowserSession, Session, SessionKind};
use crate::store::NewRefreshToken;
use crate::throttle::{Gate, LoginAttempt, Refusal};
use crate::tokens::TokenPair;
use std::sync::Arc;

/// A session about to be stored: its row, first refresh token and tokens, and for a browser
/// session the cookie secret (to hand out) with what is stored of it.
struct Opening {
    session: Session,
    refresh: NewRefreshToken,
    tokens: TokenPair,
    browser: Option<(String, BrowserSecret)>,
}

impl Keycard {
    /// Turns a limit's refusal into the error the client sees; refusals worth reporting are
    /// audited (the rest of a flood is only counted, so a flood cannot flood the trail).
    pub(crate) async fn refused(&self, r: Refusal, client: &ClientInfo) -> Error {
        if r.report {
            tracing::warn!(
                limit = r.limit.as_str(),
                client.ip = client.ip.as_deref().unwrap_or("-"),
                retry_after_secs = r.retry_after_secs,
                "attempts throttled"
            );
            let mut ev = self.audit(AuditKind::Throttled, None, None, client);
            ev.detail = serde_json::json!({
                "limit": r.limit.as_str(),
                "retry_after_secs": r.retry_after_secs,
            });
            if let Err(e) = self.store.record_audit(&ev).await {
                tracing::warn!(error = %e, "could not record a throttling audit event");
            }
        }
        Error::Throttled {
            limit: r.limit,
            retry_after_secs: r.retry_after_secs,
        }
    }

    /// Creates an account with a password and signs it in. Runs to its end even if the caller
    /// goes away (see [`detached`]).
    pub async fn register(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        self.register_as(email, password, name, client, SessionKind::Api)
            .await
    }

    /// Sign-up into a session of `kind` (a browser session from the hosted pages).
    pub(crate) async fn register_as(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        name: Option<&str>,
        client: &ClientInfo,
        kind: SessionKind,
    ) -> Result<SignedIn> {
        let (this, email, password) = (self.clone(), email.to_owned(), password.to_owned());
        let (name, client) = (name.map(str::to_owned), client.clone());
        detached(async move {
            let signed_in = this
                .register_inner(&email, &password, name.as_deref(), &client, kind)
                .await?;
            // In the same task as the sign-up, so a caller that goes away cannot leave the
            // account without its link. The account stands whatever happens here; its owner
            // can ask for a new link.
            let locale = client.locale.as_deref().unwrap_or("en");
            if let Err(e) = this.verification().send(&signed_in.user, locale).await {
                tracing::error!(error = %e, user.id = %signed_in.user.id, "could not queue the verification mail of a new account");
            }
            Ok(signed_in)
        })
        .await
    }

    async fn register_inner(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        client: &ClientInfo,
        kind: SessionKind,
    ) -> Result<SignedIn> {
        let email = Email::parse(email)?;
        let password = self
            .policy
            .password
            .check(password, Some(&email), "password")?;
        let name = name.map(crate::accounts::parse_name).transpose()?.flatten();
        if let Gate::Closed(r) = self
            .throttle
            .begin_register(&email, client.ip.as_deref())
            .await?
        {
            return Err(self.refused(r, client).await);
        }
        self.screen_password(&password, "password").await?;
        let hash = self.hasher.hash(&password).await?;
        let now = self.now();
        let user = User {
            id: UserId::new(),
            email: Some(email),
            email_verified: false,
            name,
            picture_url: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        let opened = self.opening(user.id, kind, client, vec!["pwd".to_owned()])?;
        let audit = [
            self.audit(AuditKind::Registered, Some(user.id), None, client),
            self.audit(
                AuditKind::LoginSucceeded,
                Some(user.id),
                Some(opened.session.id),
                client,
            ),
        ];
        self.store
            .create_account(
                &user,
                &hash,
                &opened.session,
                &opened.refresh,
                opened.browser.as_ref().map(|(_, s)| s),
                &audit,
            )
            .await?;
        metrics::counter!("keycard_registrations_total").increment(1);
        Ok(SignedIn {
            user,
            session_id: opened.session.id,
            tokens: opened.tokens,
            browser_secret: opened.browser.map(|(secret, _)| secret),
        })
    }

    /// A session of `kind` for `user`, ready to store, with its tokens.
    fn opening(
        &self,
        user: UserId,
        kind: SessionKind,
        client: &ClientInfo,
        amr: Vec<String>,
    ) -> Result<Opening> {
        if kind == SessionKind::Browser {
            let (secret, b, tokens) = self.open_browser_session(user, client, amr)?;
            return Ok(Opening {
                session: b.session,
                refresh: b.refresh,
                tokens,
                browser: Some((secret, b.secret)),
            });
        }
        let session = self.new_session(user, client, amr);
        let (secret, refresh) = self.new_refresh(session.id)?;
        let tokens = self.tokens_for(&session, secret)?;
        Ok(Opening {
            session,
            refresh,
            tokens,
            browser: None,
        })
    }

    /// Password login. Unknown email and wrong password are indistinguishable, in answer and in
    /// cost (a dummy hash is verified for unknown emails). Runs to its end even if the caller
    /// goes away, so an attempt is never left counted as a failure half-way. An account with a
    /// second factor gets a challenge instead of a session (see [`crate::mfa`]).
    pub async fn login(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<LoginOutcome> {
        self.login_as(email, password, client, SessionKind::Api)
            .await
    }

    /// Password sign-in into a session of `kind` (a browser session from the hosted pages).
    pub(crate) async fn login_as(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        client: &ClientInfo,
        kind: SessionKind,
    ) -> Result<LoginOutcome> {
        let (this, email, password) = (self.clone(), email.to_owned(), password.to_owned());
        let client = client.clone();
        let outcome =
            detached(async move { this.login_inner(&email, &password, &client, kind).await }).await;
        let label = match &outcome {
            Ok(_) => "success",
            Err(Error::InvalidCredentials) => "invalid_credentials",
            Err(Error::Overloaded { .. }) => "overloaded",
            Err(Error::Throttled { .. }) => "throttled",
            Err(Error::AccountDisabled) => "account_disabled",
            Err(_) => "error",
        };
        metrics::counter!("keycard_logins_total", "outcome" => label).increment(1);
        outcome
    }

    async fn login_inner(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
        kind: SessionKind,
    ) -> Result<LoginOutcome> {
        let attempt = match self
            .throttle
            .begin_login(email, client.ip.as_deref())
            .await?
        {
            Gate::Open(a) => a,
            Gate::Closed(r) => return Err(self.refused(r, client).await),
        };
        match self
            .check_login(email, password, &attempt, client, kind)
            .await
        {
            Ok(Some(signed_in)) => {
                self.throttle.login_succeeded(attempt).await;
                Ok(signed_in)
            }
            Ok(None) => Err(Error::InvalidCredentials),
            // A verdict, and one a credential-stuffing list should pay for: the attempt stays
            // counted against the account and the network, as a wrong password is.
            Err(Error::AccountDisabled) => Err(Error::AccountDisabled),
            Err(e) => {
                self.throttle.login_abandoned(attempt).await;
                Err(e)
            }
        }
    }

    /// The password check and, when it holds, the new session. `None`: wrong email or
    /// password (recorded, with the lock it caused); `Err`: no verdict could be reached.
    async fn check_login(
        &self,
        email: &str,
        password: &str,
        attempt: &LoginAttempt,
        client: &ClientInfo,
        kind: SessionKind,
    ) -> Result<Option<LoginOutcome>> {
        let found = match Email::parse(email) {
            Ok(e) => self.store.find_login(&e).await?,
            Err(_) => None,
        };
        let (user, stored) = match &found {
            Some((u, h)) => (Some(u), h.as_deref()),
            None => (None, None),
        };
        let attempt_ok = self.policy.password.is_plausible(password);
        let verdict = if attempt_ok {
            self.hasher.verify(password, stored).await?
        } else {
            // Still spend a hash so an oversized or empty attempt is not a timing oracle.
            self.hasher.verify("", None).await?;
            Verification::Invalid
        };
        let (user, rehash) = match (user, verdict) {
            (Some(u), Verification::Valid { rehash }) => (u.clone(), rehash),
            (u, _) => {
                self.record_failure(u.map(|u| u.id), attempt, client, "invalid_credentials")
                    .await?;
                return Ok(None);
            }
        };
        if user.disabled_at.is_some() {
            // Said only now that the password proved who is asking: to anyone else a disabled
            // account answers like any wrong password.
            let mut ev = self.audit(AuditKind::LoginFailed, Some(user.id), None, client);
            ev.detail = serde_json::json!({ "reason": "account_disabled" });
            self.store.record_audit(&ev).await?;
            return Err(Error::AccountDisabled);
        }
        if !user.email_verified && self.store.password_awaits_verification(user.id).await? {
            // A hidden-mode sign-up: the answer of a wrong password until the address is
            // proved, so that signing up and then signing in cannot tell whether the address
            // was free (see `lifecycle::hidden_signup`).
            self.record_failure(Some(user.id), attempt, client, "email_unverified")
                .await?;
            return Ok(None);
        }
        if let (Some(h), Some(old)) = (rehash, stored) {
            let ev = self.audit(AuditKind::PasswordRehashed, Some(user.id), None, client);
            self.store
                .upgrade_password_hash(user.id, old, &h, &ev)
                .await?;
        }
        if let Some(challenge) = self
            .mfa_challenge(&user, kind, client, vec!["pwd".to_owned()])
            .await?
        {
            return Ok(Some(LoginOutcome::SecondFactor(challenge)));
        }
        let signed_in = self
            .open_signed_in(user, kind, client, vec!["pwd".to_owned()], None)
            .await?;
        Ok(Some(LoginOutcome::SignedIn(signed_in)))
    }

    /// Opens and stores a session of `kind` for `user`, who proved who they are by `amr`; the
    /// sign-in is audited (with `detail`, when given).
    pub(crate) async fn open_signed_in(
        &self,
        user: User,
        kind: SessionKind,
        client: &ClientInfo,
        amr: Vec<String>,
        detail: Option<serde_json::Value>,
    ) -> Result<SignedIn> {
        let opened = self.opening(user.id, kind, client, amr)?;
        let mut ev = self.audit(
            AuditKind::LoginSucceeded,
            Some(user.id),
            Some(opened.session.id),
            client,
        );
        if let Some(d) = detail {
            ev.detail = d;
        }
        match &opened.browser {
            None => {
                self.store
                    .create_session(&opened.session, &opened.refresh, &[ev])
                    .await?
            }
            Some((_, secret)) => {
                let stored = NewBrowserSession {
                    session: opened.session.clone(),
                    secret: *secret,
                    refresh: opened.refresh.clone(),
                };
                self.store.create_browser_session(&stored, &[ev]).await?
            }
        }
        Ok(SignedIn {
            user,
            session_id: opened.session.id,
            tokens: opened.tokens,
            browser_secret: opened.browser.map(|(secret, _)| secret),
        })
    }

    /// Audits a failed sign-in and, when it made the account wait, the lock.
    async fn record_failure(
        &self,
        user: Option<UserId>,
        attempt: &LoginAttempt,
        client: &ClientInfo,
        reason: &str,
    ) -> Result<()> {
        let mut ev = self.audit(AuditKind::LoginFailed, user, None, client);
        ev.detail = serde_json::json!({
            "reason": reason,
            "consecutive_failures": attempt.failures(),
        });
        self.store.record_audit(&ev).await?;
        let locked = attempt.locks_for();
        if !locked.is_zero() {
            metrics::counter!("keycard_account_locks_total").increment(1);
            let mut ev = self.audit(AuditKind::AccountLocked, user, None, client);
            ev.detail = serde_json::json!({
                "consecutive_failures": attempt.failures(),
                "locked_secs": u64::try_from(locked.as_millis().div_ceil(1000)).unwrap_or(u64::MAX),
            });
            self.store.record_audit(&ev).await?;
        }
        Ok(())
    }
}
