//! The authorization endpoint's use case: `keycard.provider()`. Given a checked request and the
//! browser session (if any), it decides what happens next — sign in (again), ask for consent,
//! or answer the client with a one-time code — and records consent.

use super::authorize::{self, AuthRequest, AuthorizeParams, Rejection};
use super::grants::AuthCode;
use super::oauth_error::{OAuthCode, OAuthError};
use crate::accounts::User;
use crate::audit::AuditKind;
use crate::error::Result;
use crate::service::{ClientInfo, Keycard};
use crate::sessions::Session;
use crate::tokens::{TokenHash, random_secret};
use std::sync::Arc;
use time::Duration;

/// How long an authorization code may wait for its redemption (RFC 6749 §4.1.2 asks ≤ 10 min;
/// a client redeems within a second, so one minute is plenty).
pub const CODE_TTL: Duration = Duration::seconds(60);

/// How long the person has to complete a sign-in an authorization request sent them to.
pub const MARK_TTL: Duration = Duration::minutes(10);

/// Codes are recognisable in logs and secret scanners by this prefix.
const CODE_PREFIX: &str = "kcac_";

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum Next {
    /// The person must sign in; `again` when a session exists but is not fresh enough.
    Login { again: bool },
    /// The person must allow the app these scopes.
    Consent,
    /// Done: send the browser to this URL (the code, or an error, at the client's redirect URI).
    Redirect(String),
}

pub struct Provider<'a> {
    pub(super) kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn provider(self: &Arc<Self>) -> Provider<'_> {
        Provider { kc: self }
    }
}

/// The URL of an answer at the client's redirect URI: its parameters added to the query
/// already there, with `iss` (RFC 9207) so a client talking to several providers cannot be
/// confused about which one answered.
pub fn answer_url(redirect_uri: &str, issuer: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
                q.append_pair("iss", issuer);
            }
            u.into()
        }
        // Registered URIs were parsed when registered; this cannot happen.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// `uri` with `params` added to its query (no `iss`: a logout answer).
pub fn answer_url_plain(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            if !params.is_empty() {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.into()
        }
        Err(_) => uri.to_owned(),
    }
}

/// The redirect that carries `rejection` to the client, or the rejection itself when it is for
/// a page.
pub fn error_url(issuer: &str, rejection: Rejection) -> std::result::Result<String, crate::Error> {
    match rejection {
        Rejection::Page(e) => Err(e),
        Rejection::Redirect {
            redirect_uri,
            state,
            error,
        } => {
            let mut params = vec![
                ("error", error.code.as_str()),
                ("error_description", error.description.as_str()),
            ];
            if let Some(s) = state.as_deref() {
                params.push(("state", s));
            }
            Ok(answer_url(&redirect_uri, issuer, &params))
        }
    }
}

impl Provider<'_> {
    pub fn issuer(&self) -> &str {
        &self.kc.policy().issuer
    }

    /// Checks a request against the registry.
    pub async fn check(&self, params: &AuthorizeParams) -> Result<AuthRequest, Rejection> {
        let client = match params.client_id.as_deref().filter(|c| !c.is_empty()) {
            Some(id) => self
                .kc
                .store()
                .find_client(id)
                .await
                .map_err(|e| Rejection::Page(e.into()))?,
            None => None,
        };
        authorize::check(params, client)
    }

    /// What comes next for `req` in a browser signed in as `browser` (if at all).
    /// `signed_in_after` is when a sign-in this request asked for began: a session older than
    /// that does not count as that sign-in.
    pub async fn next(
        &self,
        req: &AuthRequest,
        browser: Option<&(Session, User)>,
        signed_in_after: Option<time::OffsetDateTime>,
    ) -> Result<Next, Rejection> {
        let refuse = |code, why: &str| Rejection::Redirect {
            redirect_uri: req.redirect_uri.clone(),
            state: req.state.clone(),
            error: OAuthError::new(code, why),
        };
        let Some((session, user)) = browser else {
            if req.prompt.none {
                return Err(refuse(OAuthCode::LoginRequired, "nobody is signed in"));
            }
            return Ok(Next::Login { again: false });
        };
        let now = self.kc.now();
        // A sign-in this request sent the person to satisfies it, however quick.
        let signed_in_since = signed_in_after.is_some_and(|t| session.auth_time >= t);
        let stale = req
            .max_age
            .is_some_and(|m| (now - session.auth_time).whole_seconds() > m);
        let wants_fresh = req.prompt.login || req.prompt.select_account;
        if (stale || wants_fresh) && !signed_in_since {
            if req.prompt.none {
                return Err(refuse(
                    OAuthCode::LoginRequired,
                    "the sign-in is older than max_age allows",
                ));
            }
            return Ok(Next::Login { again: true });
        }
        // Step-up: the app asks for two factors, the session has one, and the account has a
        // second to ask for. (Without one, the app gets the one-factor class and decides.)
        if req.wants_multi_factor()
            && session.acr() != crate::sessions::ACR_MULTI_FACTOR
            && !signed_in_since
            && self
                .kc
                .mfa_status(user.id)
                .await
                .map_err(Rejection::Page)?
                .enabled()
        {
            if req.prompt.none {
                return Err(refuse(
                    OAuthCode::LoginRequired,
                    "a sign-in with the second factor is needed",
                ));
            }
            return Ok(Next::Login { again: true });
        }
        if !req.client.first_party {
            let given = self
                .kc
                .store()
                .find_consent(user.id, &req.client.id)
                .await
                .map_err(|e| Rejection::Page(e.into()))?
                .unwrap_or_default();
            // RFC 8252 §8.6: any app on a device can claim a loopback port or a private-use
            // scheme, so a native app's request is asked about every time.
            let may_remember = req.client.kind == super::ClientKind::Confidential
                || super::redirect::is_https(&req.redirect_uri);
            let covered = may_remember && req.scopes.iter().all(|s| given.contains(s));
            if !covered || req.prompt.consent {
                if req.prompt.none {
                    return Err(refuse(
                        OAuthCode::ConsentRequired,
                        "the person has not allowed this application these scopes",
                    ));
                }
                return Ok(Next::Consent);
            }
        }
        self.issue(req, session, user).await.map(Next::Redirect)
    }

    /// The person's answer on the consent page. Allowing records the consent (widening any
    /// given before) and answers with a code; denying answers `access_denied`.
    pub async fn decide(
        &self,
        req: &AuthRequest,
        browser: &(Session, User),
        signed_in_after: Option<time::OffsetDateTime>,
        allow: bool,
        client: &ClientInfo,
    ) -> Result<Next, Rejection> {
        // The answer counts only where the page would have been shown for this very request
        // now: a stale sign-in signs in again, a request already allowed is answered.
        match self.next(req, Some(browser), signed_in_after).await? {
            Next::Consent => {}
            other => return Ok(other),
        }
        let (session, user) = browser;
        if !allow {
            let rejection = Rejection::Redirect {
                redirect_uri: req.redirect_uri.clone(),
                state: req.state.clone(),
                error: OAuthError::new(OAuthCode::AccessDenied, "the person denied the request"),
            };
            return error_url(self.issuer(), rejection)
                .map(Next::Redirect)
                .map_err(Rejection::Page);
        }
        let store = self.kc.store();
        let page = |e: crate::store::StoreError| Rejection::Page(e.into());
        let mut scopes = store
            .find_consent(user.id, &req.client.id)
            .await
            .map_err(page)?
            .unwrap_or_default();
        for s in &req.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let mut ev = self.kc.audit_event(
            AuditKind::ConsentGranted,
            Some(user.id),
            Some(session.id),
            client,
        );
        ev.detail = serde_json::json!({ "client_id": req.client.id, "scope": scopes.join(" ") });
        store
            .save_consent(user.id, &req.client.id, &scopes, self.kc.now(), &ev)
            .await
            .map_err(page)?;
        self.issue(req, session, user).await.map(Next::Redirect)
    }

    /// Deletes codes expired for a day: long enough that a late replay still finds the code
    /// and revokes its grant.
    pub async fn prune_codes(&self) -> Result<u64> {
        let before = self.kc.now() - Duration::days(1);
        Ok(self.kc.store().prune_codes(before).await?)
    }

    /// A mark that Keycard sent the person to sign in for the request `request_key` at `at`
    /// (`prompt=login`, `max_age`): a sign-in at or after it is fresh enough for that request.
    pub fn sign_in_mark(&self, request_key: &str, at: time::OffsetDateTime) -> String {
        let ts = at.unix_timestamp();
        let tag = self
            .kc
            .form_tokens()
            .issue(request_key, &format!("signed-in-after {ts}"));
        format!("{ts}.{tag}")
    }

    /// The time of a mark made for `request_key` in the last [`MARK_TTL`], if it is one.
    pub fn read_mark(&self, request_key: &str, mark: &str) -> Option<time::OffsetDateTime> {
        let (ts, tag) = mark.split_once('.')?;
        let ts: i64 = ts.parse().ok()?;
        if !self
            .kc
            .form_tokens()
            .verify(request_key, &format!("signed-in-after {ts}"), tag)
        {
            return None;
        }
        let at = time::OffsetDateTime::from_unix_timestamp(ts).ok()?;
        let now = self.kc.now();
        (at <= now && now - at <= MARK_TTL).then_some(at)
    }

    /// Stores a fresh code for `req` and returns the answer that carries it.
    async fn issue(
        &self,
        req: &AuthRequest,
        session: &Session,
        user: &User,
    ) -> Result<String, Rejection> {
        let page = |e: crate::Error| Rejection::Page(e);
        let code = random_secret(CODE_PREFIX).map_err(page)?;
        let now = self.kc.now();
        let row = AuthCode {
            hash: TokenHash::of(&code),
            client_id: req.client.id.clone(),
            user_id: user.id,
            browser_session_id: session.id,
            redirect_uri: req.redirect_uri.clone(),
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            amr: session.amr.clone(),
            auth_time: session.auth_time,
            created_at: now,
            expires_at: now + self.kc.policy().authorization_code_ttl,
            used_at: None,
        };
        self.kc
            .store()
            .insert_code(&row)
            .await
            .map_err(|e| page(e.into()))?;
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = req.state.as_deref() {
            params.push(("state", s));
        }
        Ok(answer_url(&req.redirect_uri, self.issuer(), &params))
    }
}
