//! Signing in on Keycard's hosted pages: password sign-up and sign-in into a browser session,
//! the person behind a session cookie, and signing out. A browser session is what single
//! sign-on builds on: an authorization request finds the person here without a second login.

mod forms;

pub use forms::FormTokens;

use crate::accounts::User;
use crate::error::Result;
use crate::ids::{SessionId, UserId};
use crate::service::{ClientInfo, Keycard, Principal, SignedIn};
use crate::sessions::{BrowserSecret, NewBrowserSession, Session, SessionKind};
use crate::tokens::{TokenHash, TokenPair, random_secret};
use std::sync::Arc;
use time::Duration;

/// Prefix of browser-session cookie values, so a leaked one is recognisable to secret scanners.
const SESSION_PREFIX: &str = "kcss_";
/// A page visit moves the idle deadline forward at most this often (one write per session per
/// interval, not one per page).
const TOUCH_EVERY: Duration = Duration::minutes(5);

/// The use case, borrowed from the service: `keycard.browser().login(…)`.
pub struct BrowserSignIn<'a> {
    kc: &'a Arc<Keycard>,
}

/// What the login page's password led to.
#[derive(Debug)]
pub enum BrowserLogin {
    SignedIn(BrowserSignedIn),
    /// The account has a second factor: the page asks for it next.
    SecondFactor(crate::mfa::MfaRequired),
}

/// A browser signed in: the account, the session, its cookie secret and its tokens.
#[derive(Debug)]
pub struct BrowserSignedIn {
    pub user: User,
    pub session_id: SessionId,
    /// The `__Host-keycard_session` cookie value; stored only hashed.
    pub session_secret: String,
    pub tokens: TokenPair,
}

impl Keycard {
    pub fn browser(self: &Arc<Self>) -> BrowserSignIn<'_> {
        BrowserSignIn { kc: self }
    }

    /// A new browser session for `user`: the cookie secret, the rows to store, and its tokens.
    pub(crate) fn open_browser_session(
        &self,
        user: UserId,
        client: &ClientInfo,
        amr: Vec<String>,
    ) -> Result<(String, NewBrowserSession, TokenPair)> {
        let policy = self.policy();
        let mut session = self.new_session(user, client, amr);
        let now = session.created_at;
        session.kind = SessionKind::Browser;
        session.expires_at = now + policy.browser_absolute_lifetime;
        session.idle_expires_at = (now + policy.browser_idle_timeout).min(session.expires_at);
        let secret = random_secret(SESSION_PREFIX)?;
        let (refresh_secret, refresh) = self.new_refresh(session.id)?;
        let tokens = self.tokens_for(&session, refresh_secret)?;
        let stored = NewBrowserSession {
            session,
            secret: BrowserSecret {
                hash: TokenHash::of(&secret),
                idle_timeout: policy.browser_idle_timeout,
            },
            refresh,
        };
        Ok((secret, stored, tokens))
    }
}

impl BrowserSignIn<'_> {
    /// Password sign-in from the login page: the same checks and throttling as the API.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<BrowserLogin> {
        match self
            .kc
            .login_as(email, password, client, SessionKind::Browser)
            .await?
        {
            crate::service::LoginOutcome::SignedIn(s) => {
                Ok(BrowserLogin::SignedIn(Self::signed_in(s)?))
            }
            crate::service::LoginOutcome::SecondFactor(m) => Ok(BrowserLogin::SecondFactor(m)),
        }
    }

    /// A passkey sign-in from the login page (see [`crate::passkeys`]).
    pub async fn passkey(
        &self,
        ceremony_id: &str,
        credential: &serde_json::Value,
        client: &ClientInfo,
    ) -> Result<BrowserSignedIn> {
        let s = self
            .kc
            .passkeys()
            .finish_sign_in(ceremony_id, credential, SessionKind::Browser, client)
            .await?;
        Self::signed_in(s)
    }

    /// The second step of a sign-in from the login page (see [`crate::mfa`]).
    pub async fn complete_second_factor(
        &self,
        challenge_id: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<BrowserSignedIn> {
        let s = self
            .kc
            .mfa()
            .complete(
                challenge_id,
                crate::mfa::SecondStep::Code(code.to_owned()),
                SessionKind::Browser,
                client,
            )
            .await?;
        Self::signed_in(s)
    }

    /// Sign-up from the registration page.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<BrowserSignedIn> {
        let s = self
            .kc
            .register_as(email, password, name, client, SessionKind::Browser)
            .await?;
        Self::signed_in(s)
    }

    fn signed_in(s: SignedIn) -> Result<BrowserSignedIn> {
        let session_secret = s.browser_secret.ok_or_else(|| {
            crate::Error::Internal("a browser sign-in opened no browser session".into())
        })?;
        Ok(BrowserSignedIn {
            user: s.user,
            session_id: s.session_id,
            session_secret,
            tokens: s.tokens,
        })
    }

    /// The person behind a session cookie, while the session is active. A visit keeps the
    /// session alive (its idle deadline moves, at most once every few minutes).
    pub async fn session(&self, cookie: &str) -> Result<Option<Principal>> {
        Ok(self
            .current(cookie)
            .await?
            .map(|(session, user)| Principal {
                user_id: user.id,
                session_id: session.id,
                user,
            }))
    }

    /// Like [`Self::session`], with the whole session (how and when the person signed in).
    pub async fn current(&self, cookie: &str) -> Result<Option<(Session, User)>> {
        if !cookie.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let store = self.kc.store();
        let Some((session, user)) = store.find_browser_session(&TokenHash::of(cookie)).await?
        else {
            return Ok(None);
        };
        let now = self.kc.now();
        if session.kind != SessionKind::Browser || !session.is_active(now) {
            return Ok(None);
        }
        if now - session.last_used_at >= TOUCH_EVERY {
            let idle = (now + self.kc.policy().browser_idle_timeout).min(session.expires_at);
            if let Err(e) = store.touch_browser_session(session.id, now, idle).await {
                tracing::warn!(error = %e, "could not extend a browser session");
            }
        }
        Ok(Some((session, user)))
    }

    /// A form token for `form` in the browser bound by `binding` (see [`FormTokens`]).
    pub fn form_token(&self, binding: &str, form: &str) -> String {
        self.kc.form_tokens().issue(binding, form)
    }

    pub fn form_token_holds(&self, binding: &str, form: &str, token: &str) -> bool {
        !binding.is_empty() && self.kc.form_tokens().verify(binding, form, token)
    }

    /// Ends the browser session (the hosted logout).
    pub async fn logout(&self, who: &Principal, client: &ClientInfo) -> Result<()> {
        self.kc.logout(who, client).await
    }
}
