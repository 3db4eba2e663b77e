//! The social sign-in use case: `start` sends the browser to the provider with a one-time state,
//! a nonce and a PKCE challenge, kept server-side and bound to the browser; `callback` takes that
//! flow back exactly once, has the provider verify the person, then finds, links or creates the
//! account and opens a browser session.

use super::{
    Authorization, Callback, Identity, IdentityProvider, LOGIN_CODE_TTL, LoginCode, PendingFlow,
    ProviderError, ProviderInfo, ProviderProfile, SocialFailure, Unlinked,
};
use crate::accounts::{Email, User};
use crate::audit::{AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::ids::{IdentityId, SessionId, UserId};
use crate::service::{ClientInfo, Keycard, LoginOutcome, Principal, SignedIn};
use crate::sessions::SessionKind;
use crate::store::StoreError;
use crate::throttle::Gate;
use crate::tokens::{TokenHash, TokenPair, pkce_challenge, random_secret};
use std::sync::Arc;

/// A flow cookie is a browser's binding to the flows it started; reused across flows so two
/// tabs signing in at once do not undo each other.
const FLOW_PREFIX: &str = "kcfl_";
/// Native apps' one-time login codes.
const LOGIN_CODE_PREFIX: &str = "kclc_";

/// The use case, borrowed from the service: `keycard.social().start(…)`.
pub struct SocialLogin<'a> {
    kc: &'a Arc<Keycard>,
}

/// Where to send the browser, and the flow cookie to set (the one it had, or a new one).
#[derive(Debug)]
pub struct Started {
    pub location: String,
    pub flow_cookie: String,
}

/// The query (or, for `form_post`, the form) the provider sent back.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the issuer that answered, when the provider says.
    pub iss: Option<String>,
    /// Sign in with Apple's `user` form field: the person's name, sent on their first sign-in
    /// only and not signed (a profile hint, never an identity).
    pub user: Option<String>,
}

/// A completed social sign-in.
#[derive(Debug)]
pub struct SocialSignedIn {
    pub user: User,
    pub session: SocialSession,
    pub return_to: String,
    /// The account was created by this sign-in.
    pub created: bool,
    /// For a native app's sign-in: the one-time code to hand the app at `return_to`.
    pub login_code: Option<String>,
}

/// What the browser gets at the end of a social sign-in.
#[derive(Debug)]
pub enum SocialSession {
    /// A browser session.
    Open {
        session_id: SessionId,
        /// The `__Host-keycard_session` cookie value; stored only hashed.
        session_secret: String,
        /// For a single-page app's cookie refresh.
        tokens: TokenPair,
    },
    /// The account has a second factor: the browser is asked for it next (the provider counts
    /// as the first).
    SecondStep(crate::mfa::MfaRequired),
    /// The account has a second factor and a native app started the sign-in: the browser gets
    /// no session, and the app is asked for the second step after its code exchange.
    AppContinues,
}

impl Keycard {
    pub fn social(self: &Arc<Self>) -> SocialLogin<'_> {
        SocialLogin { kc: self }
    }
}

impl SocialLogin<'_> {
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.kc.providers().list().cloned().collect()
    }

    /// Whether the provider answers with a POST (`form_post`); `None` for no such provider.
    pub fn answers_by_post(&self, provider: &str) -> Option<bool> {
        self.kc
            .providers()
            .get(provider)
            .map(|p| p.answers_by_post())
    }

    /// The signed-in person's identities, oldest first; remembered with their session like the
    /// account itself, so `GET /v1/me` costs no query when the session is remembered.
    pub async fn identities(&self, who: &Principal) -> Result<Arc<Vec<Identity>>> {
        let cache = self.kc.session_cache();
        if let Some(known) = cache.identities(who.session_id, who.user_id) {
            return Ok(known);
        }
        let ticket = cache.ticket();
        let found = Arc::new(self.kc.store().list_identities(who.user_id).await?);
        cache.put_identities(ticket, who.session_id, found.clone());
        Ok(found)
    }

    /// The identities of an account, read now (after a sign-in, say).
    pub async fn identities_of(&self, user: UserId) -> Result<Vec<Identity>> {
        Ok(self.kc.store().list_identities(user).await?)
    }

    /// Begins linking another provider to the signed-in person's account: the same flow as a
    /// sign-in, which comes back to this account only. A new way into the account, so it needs
    /// a recent sign-in, as adding a passkey does: an old session left open must not add one
    /// (and the link's return, a fresh sign-in, must not become its way past that check).
    pub async fn start_link(
        &self,
        who: &Principal,
        provider: &str,
        return_to: &str,
        flow_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Started> {
        self.kc.reauthenticate(who, None, client).await?;
        self.begin(
            provider,
            return_to,
            Some(who.user_id),
            None,
            flow_cookie,
            client,
        )
        .await
    }

    /// Removes one of the person's identities, unless it is their last way to sign in.
    pub async fn unlink(&self, who: &Principal, id: IdentityId, client: &ClientInfo) -> Result<()> {
        let ev = self.kc.audit_event(
            AuditKind::IdentityUnlinked,
            Some(who.user_id),
            Some(who.session_id),
            client,
        );
        let user = who.user_id;
        let outcome = self
            .kc
            .changing_user(user, move |store| async move {
                store.unlink_identity(user, id, &ev).await
            })
            .await?;
        match outcome {
            Unlinked::Removed => Ok(()),
            Unlinked::NotFound => Err(Error::NotFound),
            Unlinked::LastWay => Err(Error::Social(SocialFailure::LastSignInMethod)),
        }
    }

    /// The network's allowance of social sign-ins (see `Throttle::begin_social`).
    async fn admit(&self, client: &ClientInfo) -> Result<()> {
        match self
            .kc
            .throttle()
            .begin_social(client.ip.as_deref())
            .await?
        {
            Gate::Open(()) => Ok(()),
            Gate::Closed(r) => Err(self.kc.refused(r, client).await),
        }
    }

    /// Deletes sign-ins that never came back from their provider.
    pub async fn prune(&self) -> Result<u64> {
        Ok(self.kc.store().prune_flows(self.kc.now()).await?)
    }

    fn provider(&self, id: &str) -> Result<Arc<dyn IdentityProvider>> {
        self.kc
            .providers()
            .get(id)
            .cloned()
            .ok_or(Error::Social(SocialFailure::UnknownProvider))
    }

    /// Begins a sign-in. `return_to` must already be one of the allowed destinations.
    pub async fn start(
        &self,
        provider: &str,
        return_to: &str,
        flow_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Started> {
        self.begin(provider, return_to, None, None, flow_cookie, client)
            .await
    }

    /// Begins a native app's sign-in in the system browser (RFC 8252): `return_to` is the app's
    /// registered redirect URI, and the callback sends it a one-time login code bound to the
    /// app's PKCE `challenge` (S256) instead of leaving the tokens in the browser.
    pub async fn start_native(
        &self,
        provider: &str,
        return_to: &str,
        challenge: &str,
        flow_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Started> {
        let well_formed = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(Error::invalid(
                "code_challenge",
                "invalid_code_challenge",
                "code_challenge must be the base64url SHA-256 of a verifier (S256, 43 characters)",
            ));
        }
        self.begin(
            provider,
            return_to,
            None,
            Some(challenge),
            flow_cookie,
            client,
        )
        .await
    }

    async fn begin(
        &self,
        provider: &str,
        return_to: &str,
        link_user: Option<UserId>,
        app_challenge: Option<&str>,
        flow_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Started> {
        let p = self.provider(provider)?;
        self.admit(client).await?;
        let flow_cookie = match flow_cookie {
            Some(c) if c.starts_with(FLOW_PREFIX) && c.len() == FLOW_PREFIX.len() + 43 => {
                c.to_owned()
            }
            _ => random_secret(FLOW_PREFIX)?,
        };
        let state = random_secret("")?;
        let nonce = random_secret("")?;
        let verifier = random_secret("")?;
        let redirect_uri = self.kc.social_redirect_uri(provider);
        let location = p
            .authorization_url(&Authorization {
                state: &state,
                nonce: &nonce,
                pkce_challenge: &pkce_challenge(&verifier),
                redirect_uri: &redirect_uri,
            })
            .await
            .map_err(|e| self.provider_error(provider, &e))?;
        let now = self.kc.now();
        self.kc
            .store()
            .save_flow(&PendingFlow {
                state_hash: TokenHash::of(&state),
                provider: provider.to_owned(),
                issuer: p.issuer().to_owned(),
                browser_hash: TokenHash::of(&flow_cookie),
                nonce,
                pkce_verifier: verifier,
                return_to: return_to.to_owned(),
                link_user,
                app_challenge: app_challenge.map(str::to_owned),
                created_at: now,
                expires_at: now + self.kc.policy().social_flow_ttl,
            })
            .await?;
        Ok(Started {
            location,
            flow_cookie,
        })
    }

    /// Completes a sign-in the provider sent back. Runs to its end even if the browser goes
    /// away, so a flow taken is never left half-done.
    pub async fn callback(
        &self,
        provider: &str,
        params: CallbackParams,
        flow_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SocialSignedIn> {
        // Callbacks count against the network's allowance as starts do: a flood of forged
        // callbacks costs a flow lookup each (and, with a stolen state, a provider call).
        self.admit(client).await?;
        let (kc, provider) = (self.kc.clone(), provider.to_owned());
        let (flow_cookie, client) = (flow_cookie.map(str::to_owned), client.clone());
        crate::service::detached(async move {
            let social = SocialLogin { kc: &kc };
            let outcome = social
                .callback_inner(&provider, &params, flow_cookie.as_deref(), &client)
                .await;
            social.record_outcome(&provider, &outcome, &client).await;
            outcome
        })
        .await
    }

    async fn callback_inner(
        &self,
        provider: &str,
        params: &CallbackParams,
        flow_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SocialSignedIn> {
        let p = self.provider(provider)?;
        let refuse = || Error::Social(SocialFailure::InvalidState);
        let state = params
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(refuse)?;
        // Taken before anything else is checked: whatever happens next, this state is spent.
        let flow = self
            .kc
            .store()
            .take_flow(&TokenHash::of(state))
            .await?
            .ok_or_else(refuse)?;
        let bound = flow_cookie.is_some_and(|c| TokenHash::of(c) == flow.browser_hash);
        if flow.provider != provider || !bound || self.kc.now() >= flow.expires_at {
            return Err(refuse());
        }
        if let Some(error) = params.error.as_deref() {
            tracing::info!(provider, error, "the provider returned an error");
            // Apple says `user_cancelled_authorize` where the others say `access_denied`.
            let cancelled = matches!(error, "access_denied" | "user_cancelled_authorize");
            return Err(Error::Social(if cancelled {
                SocialFailure::Denied
            } else {
                SocialFailure::ProviderRejected
            }));
        }
        // RFC 9207: an answer from another issuer than the one this flow went to is a mix-up.
        if params.iss.as_deref().is_some_and(|iss| iss != flow.issuer) || p.issuer() != flow.issuer
        {
            return Err(self.provider_error(
                provider,
                &ProviderError::Rejected("issuer differs from the one the flow went to".into()),
            ));
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                self.provider_error(provider, &ProviderError::Rejected("no code".into()))
            })?;
        let redirect_uri = self.kc.social_redirect_uri(provider);
        let profile = p
            .finish(&Callback {
                code,
                redirect_uri: &redirect_uri,
                pkce_verifier: &flow.pkce_verifier,
                nonce: &flow.nonce,
                user: params.user.as_deref(),
            })
            .await
            .map_err(|e| self.provider_error(provider, &e))?;
        let mut signed = self.settle(provider, &flow, profile, client).await?;
        if matches!(signed.session, SocialSession::AppContinues) && flow.app_challenge.is_none() {
            let amr = vec![provider.to_owned()];
            let required = self
                .kc
                .mfa_challenge(&signed.user, SessionKind::Browser, client, amr)
                .await?
                .ok_or_else(|| Error::Internal("a second step vanished".into()))?;
            signed.session = SocialSession::SecondStep(required);
        }
        if let Some(challenge) = &flow.app_challenge {
            let code = random_secret(LOGIN_CODE_PREFIX)?;
            let now = self.kc.now();
            self.kc
                .store()
                .save_login_code(&LoginCode {
                    code_hash: TokenHash::of(&code),
                    user_id: signed.user.id,
                    challenge: challenge.clone(),
                    provider: provider.to_owned(),
                    created_at: now,
                    expires_at: now + LOGIN_CODE_TTL,
                })
                .await?;
            signed.login_code = Some(code);
        }
        Ok(signed)
    }

    /// A native app exchanges its one-time login code, with the PKCE verifier of the challenge
    /// it started with, for a token pair of its own (an API session). The code is spent by the
    /// first attempt, right or wrong. An account with a second factor gets its challenge
    /// instead (the provider was the first factor).
    pub async fn exchange(
        &self,
        code: &str,
        verifier: &str,
        client: &ClientInfo,
    ) -> Result<LoginOutcome> {
        self.admit(client).await?;
        let refuse = || Error::Social(SocialFailure::InvalidLoginCode);
        let taken = self
            .kc
            .store()
            .take_login_code(&TokenHash::of(code))
            .await?
            .ok_or_else(refuse)?;
        let now = self.kc.now();
        let proof = pkce_challenge(verifier);
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
            proof.as_bytes(),
            taken.challenge.as_bytes(),
        )
        .is_ok();
        if now >= taken.expires_at || !matches {
            return Err(refuse());
        }
        let user = self
            .kc
            .store()
            .find_user(taken.user_id)
            .await?
            .ok_or_else(refuse)?;
        self.refuse_disabled(&user, &taken.provider, client).await?;
        let amr = vec![taken.provider.clone()];
        if let Some(required) = self
            .kc
            .mfa_challenge(&user, SessionKind::Api, client, amr)
            .await?
        {
            return Ok(LoginOutcome::SecondFactor(required));
        }
        let session = self
            .kc
            .new_session(user.id, client, vec![taken.provider.clone()]);
        let (secret, refresh) = self.kc.new_refresh(session.id)?;
        let mut ev = self.kc.audit_event(
            AuditKind::LoginSucceeded,
            Some(user.id),
            Some(session.id),
            client,
        );
        ev.detail = serde_json::json!({
            "method": "social", "provider": taken.provider, "via": "native_exchange",
        });
        self.kc
            .store()
            .create_session(&session, &refresh, &[ev])
            .await?;
        let tokens = self.kc.tokens_for(&session, secret)?;
        Ok(LoginOutcome::SignedIn(SignedIn {
            user,
            session_id: session.id,
            tokens,
            browser_secret: None,
        }))
    }

    /// Finds, links or creates the account the verified profile belongs to.
    async fn settle(
        &self,
        provider: &str,
        flow: &PendingFlow,
        profile: ProviderProfile,
        client: &ClientInfo,
    ) -> Result<SocialSignedIn> {
        let store = self.kc.store();
        let now = self.kc.now();
        let detail = serde_json::json!({ "method": "social", "provider": provider });
        let event = |kind, user, session| {
            let mut ev = self.kc.audit_event(kind, Some(user), session, client);
            ev.detail = detail.clone();
            ev
        };
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        let mut identity = Identity {
            id: IdentityId::new(),
            user_id: UserId::new(),
            provider: provider.to_owned(),
            issuer: flow.issuer.clone(),
            subject: profile.subject.clone(),
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            email_verified: profile.email_verified && email.is_some(),
            name: profile
                .name
                .as_deref()
                .and_then(|n| crate::accounts::parse_name(n).ok().flatten()),
            picture_url: profile
                .picture_url
                .as_deref()
                .and_then(|u| crate::accounts::ProfileUpdate::parse(None, Some(Some(u))).ok())
                .and_then(|u| u.picture_url.flatten()),
            linked_at: now,
            last_used_at: now,
        };

        // Known identity: sign in (or, when linking, it must already be this account's).
        if let Some((known, user)) = store
            .find_identity(&identity.issuer, &identity.subject)
            .await?
        {
            if flow.link_user.is_some_and(|u| u != user.id) {
                return Err(Error::Social(SocialFailure::IdentityInUse));
            }
            self.refuse_disabled(&user, provider, client).await?;
            identity.id = known.id;
            identity.user_id = user.id;
            identity.linked_at = known.linked_at;
            // A provider that tells less this time (Apple sends the name on the first sign-in
            // only) does not erase what it told before.
            identity.name = identity.name.or(known.name);
            identity.picture_url = identity.picture_url.or(known.picture_url);
            if flow.link_user.is_none() && self.kc.mfa_status(user.id).await?.enabled() {
                // The provider is the first factor only: no session until the second step.
                store.sign_in_identity(&identity, None, &[]).await?;
                return Ok(SocialSignedIn {
                    user,
                    session: SocialSession::AppContinues,
                    return_to: flow.return_to.clone(),
                    created: false,
                    login_code: None,
                });
            }
            let (secret, session, tokens) =
                self.kc
                    .open_browser_session(user.id, client, vec![provider.to_owned()])?;
            let ev = event(AuditKind::LoginSucceeded, user.id, Some(session.session.id));
            let sid = session.session.id;
            self.kc
                .changing_user(user.id, move |store| async move {
                    store
                        .sign_in_identity(&identity, Some(&session), &[ev])
                        .await
                })
                .await?;
            return Ok(self.signed_in(user, sid, secret, tokens, flow, false));
        }

        // Linking, asked for by a signed-in person.
        let target = if let Some(owner) = flow.link_user {
            Some(store.find_user(owner).await?.ok_or(Error::NotFound)?)
        } else if let Some(email) = &email {
            // An account with this email: linked automatically only when both sides verified
            // the address. Otherwise whoever controls the provider account could take over an
            // account they never proved to own (DESIGN.md, "Linking"). And never into an account
            // with a password: whoever chose that password may not be the address's owner (an
            // account made with someone else's address, then verified by its unsuspecting owner,
            // would take them in, password and sessions of its maker included). Its owner signs
            // in and links the provider from the account page instead. And only into an account
            // one of whose own providers vouches for this address: an address that came from an
            // email change was proved by a press of a button its owner may not have understood,
            // and the account's identities are its maker's.
            let found = store.find_login(email).await?;
            // An account with a second factor is never joined without it: its owner links the
            // provider from the account page.
            let guarded = match &found {
                Some((user, None)) => self.kc.mfa_status(user.id).await?.enabled(),
                _ => false,
            };
            match found {
                Some((user, None))
                    if user.email_verified && identity.email_verified && !guarded =>
                {
                    let vouched = store.list_identities(user.id).await?.iter().any(|i| {
                        i.email_verified
                            && i.email
                                .as_deref()
                                .is_some_and(|e| e.eq_ignore_ascii_case(email.as_str()))
                    });
                    if !vouched {
                        return Err(Error::Social(SocialFailure::AccountExists));
                    }
                    Some(user)
                }
                Some(_) => return Err(Error::Social(SocialFailure::AccountExists)),
                None => None,
            }
        } else {
            None
        };
        if let Some(user) = target {
            self.refuse_disabled(&user, provider, client).await?;
            identity.user_id = user.id;
            let (secret, session, tokens) =
                self.kc
                    .open_browser_session(user.id, client, vec![provider.to_owned()])?;
            let sid = session.session.id;
            let evs = vec![
                event(AuditKind::IdentityLinked, user.id, Some(sid)),
                event(AuditKind::LoginSucceeded, user.id, Some(sid)),
            ];
            // A new way into the account, asked for or joined by a verified address: its owner
            // hears of it, as of a passkey added.
            let mail = self.kc.security_notice(
                &user,
                "identity_linked",
                client,
                &[("provider", provider.into())],
            )?;
            self.kc
                .changing_user(user.id, move |store| async move {
                    store
                        .link_identity(&identity, Some(&session), &evs, mail.as_ref())
                        .await
                })
                .await?;
            self.kc.mail_queued();
            return Ok(self.signed_in(user, sid, secret, tokens, flow, false));
        }

        // Nobody yet: a new account, filled from the provider's profile. Without an address when
        // the provider shares none (X): such an account signs in through its providers.
        let user = User {
            id: identity.user_id,
            email,
            email_verified: identity.email_verified,
            name: identity.name.clone(),
            picture_url: identity.picture_url.clone(),
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        let (secret, session, tokens) =
            self.kc
                .open_browser_session(user.id, client, vec![provider.to_owned()])?;
        let sid = session.session.id;
        let evs = vec![
            event(AuditKind::Registered, user.id, None),
            event(AuditKind::LoginSucceeded, user.id, Some(sid)),
        ];
        match store
            .create_social_account(&user, &identity, &session, &evs)
            .await
        {
            Ok(()) => {
                // A provider that did not vouch for the address: the person proves it as after
                // a sign-up with a password. The account stands whatever happens to the mail.
                if !user.email_verified && user.email.is_some() {
                    let locale = client.locale.as_deref().unwrap_or("en");
                    if let Err(e) = self.kc.verification().send(&user, locale).await {
                        tracing::error!(error = %e, user.id = %user.id, "could not queue the verification mail of a new account");
                    }
                }
                Ok(self.signed_in(user, sid, secret, tokens, flow, true))
            }
            // A sign-up with this email won a race since the lookup: same rule as above.
            Err(StoreError::EmailTaken) => Err(Error::Social(SocialFailure::AccountExists)),
            Err(e) => Err(e.into()),
        }
    }

    fn signed_in(
        &self,
        user: User,
        session_id: SessionId,
        session_secret: String,
        tokens: TokenPair,
        flow: &PendingFlow,
        created: bool,
    ) -> SocialSignedIn {
        SocialSignedIn {
            user,
            session: SocialSession::Open {
                session_id,
                session_secret,
                tokens,
            },
            return_to: flow.return_to.clone(),
            created,
            login_code: None,
        }
    }

    /// Logs why a provider's answer failed (the person only sees the failure's kind).
    fn provider_error(&self, provider: &str, e: &ProviderError) -> Error {
        tracing::warn!(provider, error = %e, "social sign-in failed at the provider");
        Error::Social(match e {
            ProviderError::Unreachable(_) => SocialFailure::ProviderUnavailable,
            ProviderError::Rejected(_) => SocialFailure::ProviderRejected,
        })
    }

    /// Counts every outcome; audits refusals that may be an attack (a forged or replayed state,
    /// an answer that does not verify).
    /// The provider vouched for the owner of a disabled account: audited, and refused. (The
    /// store refuses the session anyway, also to a sign-in that races a disabling.)
    async fn refuse_disabled(
        &self,
        user: &User,
        provider: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        if user.disabled_at.is_none() {
            return Ok(());
        }
        let mut ev = self
            .kc
            .audit_event(AuditKind::LoginFailed, Some(user.id), None, client);
        ev.detail = serde_json::json!({
            "method": "social", "provider": provider, "reason": "account_disabled",
        });
        self.kc.store().record_audit(&ev).await?;
        Err(Error::AccountDisabled)
    }

    async fn record_outcome(
        &self,
        provider: &str,
        outcome: &Result<SocialSignedIn>,
        client: &ClientInfo,
    ) {
        let label = match outcome {
            Ok(s) if s.created => "signed_up",
            Ok(_) => "signed_in",
            Err(e) => e.code(),
        };
        metrics::counter!("keycard_social_logins_total", "provider" => provider.to_owned(), "outcome" => label)
            .increment(1);
        if let Err(Error::Social(
            f @ (SocialFailure::InvalidState | SocialFailure::ProviderRejected),
        )) = outcome
        {
            let mut ev: AuditEvent =
                self.kc
                    .audit_event(AuditKind::SocialLoginFailed, None, None, client);
            ev.detail = serde_json::json!({ "provider": provider, "reason": f.code() });
            if let Err(e) = self.kc.store().record_audit(&ev).await {
                tracing::warn!(error = %e, "could not record a social sign-in failure");
            }
        }
    }
}

impl Keycard {
    /// `{public_url}/v1/auth/social/{provider}/callback`: what to register at the provider.
    pub fn social_redirect_uri(&self, provider: &str) -> String {
        format!(
            "{}/v1/auth/social/{provider}/callback",
            self.policy().issuer
        )
    }
}
