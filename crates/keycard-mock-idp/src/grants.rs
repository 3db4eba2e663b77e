//! What the double remembers between the steps of a sign-in, for every provider alike: requests
//! waiting for a person's choice, authorization codes and access tokens, and the checks a code
//! must pass when it is redeemed. Each entry names its provider, so a code or token from one is
//! worth nothing at another.

use crate::fault::Fault;
use crate::users::{self, Person};
use crate::web::error_page;
use crate::{Idp, pkce, random_token};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the authorization page waits for the person's choice.
const REQUEST_TTL: Duration = Duration::from_secs(600);

/// A sign-in request waiting for the person's choice.
pub(crate) struct Pending {
    pub(crate) provider: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<String>,
    pub(crate) created: Instant,
}

/// An authorization code: what it grants and until when.
pub(crate) struct Grant {
    pub(crate) provider: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) user: Person,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<String>,
    pub(crate) fault: Option<Fault>,
    pub(crate) expires: Instant,
}

/// An access token, good at the provider's profile API.
pub(crate) struct Issued {
    pub(crate) provider: String,
    pub(crate) user: Person,
    pub(crate) scope: String,
    /// Carried over from the code, for the faults the profile API simulates.
    pub(crate) fault: Option<Fault>,
    pub(crate) expires: Instant,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets requests, codes and tokens past their time, so a long-running demo does not grow
/// without bound (they would be refused anyway).
fn sweep(idp: &Idp) {
    let now = Instant::now();
    lock(&idp.pending).retain(|_, p| now.duration_since(p.created) < REQUEST_TTL);
    lock(&idp.codes).retain(|_, g| g.expires > now);
    lock(&idp.tokens).retain(|_, t| t.expires > now);
}

/// Keeps a verified authorization request until the person decides; returns its id for the
/// page's form.
pub(crate) fn await_choice(idp: &Idp, pending: Pending) -> Result<String, PageError> {
    sweep(idp);
    let request = random_token().map_err(|_| PageError::NoRandomness)?;
    lock(&idp.pending).insert(request.clone(), pending);
    Ok(request)
}

/// The authorization page's form.
#[derive(Deserialize)]
pub(crate) struct Decision {
    request: String,
    user: Option<String>,
    deny: Option<String>,
    /// Empty or absent: none.
    fault: Option<String>,
}

/// Where the person's decision sends the browser back to.
pub(crate) enum Decided {
    Denied {
        redirect_uri: String,
        state: Option<String>,
    },
    Granted {
        redirect_uri: String,
        state: Option<String>,
        code: String,
    },
}

/// Why the authorization page's answer cannot go back to the client: without a known request
/// there is no verified redirect URI to go back to, so a page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageError {
    UnknownRequest,
    NoSuchUser,
    NoSuchFault,
    NoRandomness,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::UnknownRequest => error_page(
                StatusCode::BAD_REQUEST,
                "this sign-in request is unknown, used or expired",
            ),
            PageError::NoSuchUser => error_page(StatusCode::BAD_REQUEST, "no such test user"),
            PageError::NoSuchFault => error_page(StatusCode::BAD_REQUEST, "no such fault"),
            PageError::NoRandomness => {
                error_page(StatusCode::INTERNAL_SERVER_ERROR, "no randomness")
            }
        }
    }
}

/// Spends the waiting request and, unless the person denied, mints a code.
pub(crate) fn decide(
    idp: &Idp,
    provider: &str,
    d: Decision,
    offered: &[Fault],
) -> Result<Decided, PageError> {
    // One decision per request: it is gone whatever follows.
    let pending = lock(&idp.pending).remove(&d.request);
    let Some(p) = pending.filter(|p| p.provider == provider && p.created.elapsed() < REQUEST_TTL)
    else {
        return Err(PageError::UnknownRequest);
    };
    if d.deny.is_some() {
        return Ok(Decided::Denied {
            redirect_uri: p.redirect_uri,
            state: p.state,
        });
    }
    let user = d
        .user
        .as_deref()
        .and_then(users::find)
        .ok_or(PageError::NoSuchUser)?;
    let fault = match d.fault.as_deref().filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => Some(Fault::parse(f, offered).ok_or(PageError::NoSuchFault)?),
    };
    let code = random_token().map_err(|_| PageError::NoRandomness)?;
    lock(&idp.codes).insert(
        code.clone(),
        Grant {
            provider: provider.to_owned(),
            client_id: p.client_id,
            redirect_uri: p.redirect_uri.clone(),
            user,
            scope: p.scope,
            nonce: p.nonce,
            challenge: p.challenge,
            fault,
            expires: Instant::now() + idp.config.code_ttl,
        },
    );
    Ok(Decided::Granted {
        redirect_uri: p.redirect_uri,
        state: p.state,
        code,
    })
}

/// Why a code was not redeemed; each provider words it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownCode,
    OtherClient,
    Expired,
    RedirectMismatch,
    PkceFailed,
    VerifierWithoutChallenge,
}

impl Refusal {
    pub(crate) fn why(self) -> &'static str {
        match self {
            Refusal::UnknownCode => "unknown or already used code",
            Refusal::OtherClient => "the code was issued to another client",
            Refusal::Expired => "the code has expired",
            Refusal::RedirectMismatch => "redirect_uri differs from the authorization request's",
            Refusal::PkceFailed => "PKCE verification failed",
            Refusal::VerifierWithoutChallenge => "code_verifier without a code_challenge",
        }
    }
}

/// Redeems a code for an authenticated client: bound to provider, client and redirect URI,
/// unexpired, and PKCE-verified when the request carried a challenge.
pub(crate) fn redeem(
    idp: &Idp,
    provider: &str,
    client_id: &str,
    code: Option<&str>,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<Grant, Refusal> {
    // A code is spent by its first redemption, right or wrong.
    let grant = code.and_then(|c| lock(&idp.codes).remove(c));
    let g = grant.ok_or(Refusal::UnknownCode)?;
    if g.provider != provider || g.client_id != client_id {
        return Err(Refusal::OtherClient);
    }
    if Instant::now() >= g.expires {
        return Err(Refusal::Expired);
    }
    if redirect_uri != Some(g.redirect_uri.as_str()) {
        return Err(Refusal::RedirectMismatch);
    }
    match (&g.challenge, verifier) {
        (None, None) => Ok(g),
        (Some(c), Some(v)) if pkce::matches(c, v) => Ok(g),
        // Accepting it would let a client that sent no challenge pass as a PKCE client.
        (None, Some(_)) => Err(Refusal::VerifierWithoutChallenge),
        _ => Err(Refusal::PkceFailed),
    }
}

/// A fresh access token for what `grant` grants, `prefix` first (the provider's token format).
pub(crate) fn issue(idp: &Idp, grant: &Grant, prefix: &str) -> Option<String> {
    let token = format!("{prefix}{}", random_token().ok()?);
    lock(&idp.tokens).insert(
        token.clone(),
        Issued {
            provider: grant.provider.clone(),
            user: grant.user.clone(),
            scope: grant.scope.clone(),
            fault: grant.fault,
            expires: Instant::now() + idp.config.token_ttl,
        },
    );
    Some(token)
}

/// Who a live access token of `provider` speaks for.
pub(crate) fn holder(idp: &Idp, provider: &str, token: &str) -> Option<Holder> {
    lock(&idp.tokens)
        .get(token)
        .filter(|i| i.provider == provider && Instant::now() < i.expires)
        .map(|i| Holder {
            person: i.user.clone(),
            scope: i.scope.clone(),
            fault: i.fault,
        })
}

pub(crate) struct Holder {
    pub(crate) person: Person,
    /// Space-separated, as granted.
    pub(crate) scope: String,
    pub(crate) fault: Option<Fault>,
}

impl Holder {
    pub(crate) fn has_scope(&self, s: &str) -> bool {
        self.scope.split(' ').any(|g| g == s)
    }
}
