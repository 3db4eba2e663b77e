//! The OpenID Connect providers (`/google`, `/oidc`): discovery, JWKS, authorization (a page to
//! choose a test user or deny), token (authorization code with PKCE) and userinfo, each refusing
//! what the real providers refuse.

use crate::users::{self, Person};
use crate::{Idp, random_token};
use aws_lc_rs::digest;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const PROVIDERS: &[&str] = &["google", "oidc"];
/// How long the authorization page waits for the person's choice.
const REQUEST_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// A sign-in request waiting for the person's choice.
pub(crate) struct Pending {
    provider: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    challenge: Option<String>,
    created: Instant,
}

/// An authorization code: what it grants and until when.
pub(crate) struct Grant {
    provider: String,
    client_id: String,
    redirect_uri: String,
    user: Person,
    scope: String,
    nonce: Option<String>,
    challenge: Option<String>,
    /// A failure the token endpoint simulates for this code (see [`Fault`]).
    fault: Option<Fault>,
    expires: Instant,
}

/// Failures a tester can ask the token endpoint to simulate, chosen with the test user on the
/// authorization page, so each flow carries its own and parallel tests do not interfere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 500 with an HTML body.
    ServerError,
    /// Answers only after 30 seconds.
    Slow,
    /// 200 with a body that is not JSON.
    Garbage,
    BadSignature,
    WrongNonce,
    WrongIssuer,
    WrongAudience,
    Expired,
    AlgNone,
    HmacWithPublicKey,
    UnknownKid,
}

impl Fault {
    pub(crate) const ALL: &[(&str, Fault)] = &[
        ("server_error", Fault::ServerError),
        ("slow", Fault::Slow),
        ("garbage", Fault::Garbage),
        ("bad_signature", Fault::BadSignature),
        ("wrong_nonce", Fault::WrongNonce),
        ("wrong_issuer", Fault::WrongIssuer),
        ("wrong_audience", Fault::WrongAudience),
        ("expired", Fault::Expired),
        ("alg_none", Fault::AlgNone),
        ("hmac_with_public_key", Fault::HmacWithPublicKey),
        ("unknown_kid", Fault::UnknownKid),
    ];

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }
}

/// An access token, good at userinfo.
pub(crate) struct Issued {
    provider: String,
    user: Person,
    scope: String,
    expires: Instant,
}

type Shared = State<Arc<Idp>>;

pub(crate) fn routes() -> Router<Arc<Idp>> {
    Router::new()
        .route(
            "/{provider}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{provider}/jwks", get(jwks))
        .route("/{provider}/authorize", get(authorize))
        .route("/{provider}/authorize/decide", post(decide))
        .route("/{provider}/token", post(token))
        .route("/{provider}/userinfo", get(userinfo))
}

fn lock<T>(m: &std::sync::Mutex<T>) -> MutexGuard<'_, T> {
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

fn known(provider: &str) -> bool {
    PROVIDERS.contains(&provider)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such provider").into_response()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page for what cannot go back to the client: a redirect to an unverified URI would make
/// the provider an open redirector, so the real ones show an error instead.
fn error_page(status: StatusCode, what: &str) -> Response {
    let body = format!(
        "<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><p>{}</p>",
        escape(what)
    );
    (status, Html(body)).into_response()
}

/// The redirect back to the client, with `params` and the request's `state` and `iss`.
fn back_to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    iss: &str,
) -> Response {
    let mut query: Vec<(&str, &str)> = params.to_vec();
    if let Some(s) = state {
        query.push(("state", s));
    }
    query.push(("iss", iss));
    let encoded: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{sep}{}", encoded.join("&"))).into_response()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn discovery(State(idp): Shared, Path(provider): Path<String>) -> Response {
    if !known(&provider) {
        return not_found();
    }
    let iss = idp.issuer(&provider);
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "picture"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

async fn jwks(State(idp): Shared, Path(provider): Path<String>) -> Response {
    if !known(&provider) {
        return not_found();
    }
    Json(idp.signer.jwks().clone()).into_response()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(
    State(idp): Shared,
    Path(provider): Path<String>,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    if !known(&provider) {
        return not_found();
    }
    let iss = idp.issuer(&provider);
    let client = q.client_id.as_deref().and_then(|id| idp.client(id));
    let Some(client) = client else {
        return error_page(StatusCode::BAD_REQUEST, "unknown client_id");
    };
    let Some(redirect_uri) = q
        .redirect_uri
        .filter(|u| client.redirect_uris.iter().any(|r| r == u))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri is not registered for this client",
        );
    };
    let refuse =
        |error: &str| back_to_client(&redirect_uri, &[("error", error)], q.state.as_deref(), &iss);
    if q.response_type.as_deref() != Some("code") {
        return refuse("unsupported_response_type");
    }
    let scope = q.scope.unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return refuse("invalid_scope");
    }
    match (
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    ) {
        (None, None) => {}
        (Some(c), Some("S256")) if c.len() == 43 && B64.decode(c).is_ok() => {}
        _ => return refuse("invalid_request"),
    }
    sweep(&idp);
    let Ok(request) = random_token() else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "no randomness");
    };
    lock(&idp.pending).insert(
        request.clone(),
        Pending {
            provider: provider.clone(),
            client_id: client.id.clone(),
            redirect_uri,
            scope,
            state: q.state,
            nonce: q.nonce,
            challenge: q.code_challenge,
            created: Instant::now(),
        },
    );
    let mut choices = String::new();
    for u in users::USERS {
        let email = match (u.email, u.email_verified) {
            (Some(e), true) => format!("{e}, verified"),
            (Some(e), false) => format!("{e}, not verified"),
            (None, _) => "no email".to_owned(),
        };
        choices.push_str(&format!(
            "<li><button name=\"user\" value=\"{id}\" id=\"user-{id}\">{name}</button> ({email})</li>",
            id = escape(u.id),
            name = escape(u.name),
            email = escape(&email),
        ));
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign in with {p} (test double)</title>\
         <h1>Sign in with {p}</h1><p>Test double: choose who you are, or deny {c} access.</p>\
         <form method=\"post\" action=\"/{p}/authorize/decide\"><input type=\"hidden\" name=\"request\" value=\"{r}\">\
         <ul>{choices}</ul><button name=\"deny\" value=\"1\" id=\"deny\">Deny</button>\
         <p><label for=\"fault\">Simulate a provider failure at the token step</label> \
         <select name=\"fault\" id=\"fault\"><option value=\"\">none</option>{faults}</select></p></form></html>",
        p = escape(&provider),
        c = escape(&client.id),
        r = escape(&request),
        faults = Fault::ALL
            .iter()
            .map(|(n, _)| format!("<option>{n}</option>"))
            .collect::<String>(),
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

#[derive(Deserialize)]
struct Decision {
    request: String,
    user: Option<String>,
    deny: Option<String>,
    /// Empty or absent: none.
    fault: Option<String>,
}

async fn decide(
    State(idp): Shared,
    Path(provider): Path<String>,
    Form(d): Form<Decision>,
) -> Response {
    if !known(&provider) {
        return not_found();
    }
    let iss = idp.issuer(&provider);
    // One decision per request: it is gone whatever follows.
    let pending = lock(&idp.pending).remove(&d.request);
    let Some(p) = pending.filter(|p| p.provider == provider && p.created.elapsed() < REQUEST_TTL)
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "this sign-in request is unknown, used or expired",
        );
    };
    if d.deny.is_some() {
        return back_to_client(
            &p.redirect_uri,
            &[("error", "access_denied")],
            p.state.as_deref(),
            &iss,
        );
    }
    let Some(user) = d.user.as_deref().and_then(users::find) else {
        return error_page(StatusCode::BAD_REQUEST, "no such test user");
    };
    let fault = match d.fault.as_deref().filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => match Fault::parse(f) {
            Some(f) => Some(f),
            None => return error_page(StatusCode::BAD_REQUEST, "no such fault"),
        },
    };
    let Ok(code) = random_token() else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "no randomness");
    };
    lock(&idp.codes).insert(
        code.clone(),
        Grant {
            provider,
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
    back_to_client(
        &p.redirect_uri,
        &[("code", &code)],
        p.state.as_deref(),
        &iss,
    )
}

/// An RFC 6749 §5.2 error.
fn token_error(status: StatusCode, error: &str, why: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": why })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The client's credentials, from exactly one of HTTP Basic or the form.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((urldecode(id), urldecode(secret)))
        });
    match (basic, &form.client_id, &form.client_secret) {
        (Some(creds), None, None) => Some(creds),
        (Some((id, secret)), Some(form_id), None) if &id == form_id => Some((id, secret)),
        (None, Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        _ => None,
    }
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes())) == challenge
}

async fn token(
    State(idp): Shared,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    if !known(&provider) {
        return not_found();
    }
    let Some((client_id, secret)) = client_credentials(&headers, &f) else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication missing or ambiguous",
        );
    };
    let client = idp.client(&client_id).filter(|c| {
        aws_lc_rs::constant_time::verify_slices_are_equal(c.secret.as_bytes(), secret.as_bytes())
            .is_ok()
    });
    let Some(client) = client else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    };
    if f.grant_type.as_deref() != Some("authorization_code") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    // A code is spent by its first redemption, right or wrong.
    let grant = f.code.as_deref().and_then(|c| lock(&idp.codes).remove(c));
    let Some(g) = grant else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or already used code",
        );
    };
    if g.provider != provider || g.client_id != client.id {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was issued to another client",
        );
    }
    if Instant::now() >= g.expires {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code has expired",
        );
    }
    if f.redirect_uri.as_deref() != Some(g.redirect_uri.as_str()) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    match (&g.challenge, &f.code_verifier) {
        (None, None) => {}
        (Some(c), Some(v)) if pkce_matches(c, v) => {}
        (None, Some(_)) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "code_verifier without a code_challenge",
            );
        }
        _ => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed",
            );
        }
    }
    match g.fault {
        Some(Fault::ServerError) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Internal Server Error</h1>"),
            )
                .into_response();
        }
        Some(Fault::Slow) => tokio::time::sleep(std::time::Duration::from_secs(30)).await,
        Some(Fault::Garbage) => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "<html>not json",
            )
                .into_response();
        }
        _ => {}
    }
    let Ok(access_token) = random_token() else {
        return token_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no randomness",
        );
    };
    lock(&idp.tokens).insert(
        access_token.clone(),
        Issued {
            provider: provider.clone(),
            user: g.user.clone(),
            scope: g.scope.clone(),
            expires: Instant::now() + idp.config.token_ttl,
        },
    );
    let now = now_secs();
    let mut claims = user_claims(&provider, &g.user, &g.scope);
    claims["iss"] = json!(idp.issuer(&provider));
    claims["aud"] = json!(client.id);
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 3600);
    claims["auth_time"] = json!(now);
    if let Some(n) = &g.nonce {
        claims["nonce"] = json!(n);
    }
    match g.fault {
        Some(Fault::WrongNonce) => claims["nonce"] = json!("not-the-nonce-that-was-sent"),
        Some(Fault::WrongIssuer) => claims["iss"] = json!("https://evil.example"),
        Some(Fault::WrongAudience) => claims["aud"] = json!("someone-else"),
        Some(Fault::Expired) => {
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
        }
        _ => {}
    }
    let signed = match g.fault {
        Some(Fault::AlgNone) => Ok(idp.signer.unsigned(&claims)),
        Some(Fault::HmacWithPublicKey) => Ok(idp.signer.hmac_with_public_key(&claims)),
        Some(Fault::UnknownKid) => idp.signer.sign_with_kid(&claims, "rotated-away"),
        Some(Fault::BadSignature) => idp.signer.sign(&claims).map(|t| {
            // Another valid-looking signature: the first signature byte flipped.
            let (input, sig) = t.rsplit_once('.').unwrap_or((&t, ""));
            let mut raw = B64.decode(sig).unwrap_or_default();
            if let Some(b) = raw.first_mut() {
                *b ^= 0x01;
            }
            format!("{input}.{}", B64.encode(raw))
        }),
        _ => idp.signer.sign(&claims),
    };
    let Ok(id_token) = signed else {
        return token_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing failed",
        );
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": idp.config.token_ttl.as_secs(),
            "scope": g.scope,
            "id_token": id_token,
        })),
    )
        .into_response()
}

/// What the user's claims are, as far as the granted scope lets them be told.
fn user_claims(provider: &str, person: &Person, scope: &str) -> Value {
    let scopes: Vec<&str> = scope.split(' ').collect();
    let mut c = json!({ "sub": person.subject(provider) });
    if scopes.contains(&"profile") {
        c["name"] = json!(person.user.name);
        c["picture"] = json!(person.user.picture);
    }
    if scopes.contains(&"email")
        && let Some(e) = person.email()
    {
        c["email"] = json!(e);
        c["email_verified"] = json!(person.user.email_verified);
    }
    c
}

async fn userinfo(
    State(idp): Shared,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !known(&provider) {
        return not_found();
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let issued = token.and_then(|t| {
        lock(&idp.tokens)
            .get(t)
            .filter(|i| i.provider == provider && Instant::now() < i.expires)
            .map(|i| (i.user.clone(), i.scope.clone()))
    });
    match issued {
        Some((user, scope)) => Json(user_claims(&provider, &user, &scope)).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
    }
}
