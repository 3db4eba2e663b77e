//! The OpenID Connect providers (`/google`, `/oidc`, `/corp`): discovery, JWKS, authorization (a page to
//! choose a test user or deny), token (authorization code with PKCE) and userinfo, each refusing
//! what the real providers refuse.

use crate::client_auth;
use crate::fault::{self, Fault};
use crate::grants::{self, Decided, Decision, Grant, Pending};
use crate::users::Person;
use crate::web::{self, error_page, not_found};
use crate::{Idp, pkce};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Google, and two generic OpenID Connect providers (`corp` stands for a company's own, such
/// as a second provider configured in Keycard's TOML file).
const PROVIDERS: &[&str] = &["google", "oidc", "corp"];

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

fn known(provider: &str) -> bool {
    PROVIDERS.contains(&provider)
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The redirect back to the client, with `params`, the request's `state` and `iss` (RFC 9207).
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
    web::to_client(redirect_uri, &query)
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
        (Some(c), Some(m)) if pkce::acceptable(c, m) => {}
        _ => return refuse("invalid_request"),
    }
    let pending = Pending {
        provider: provider.clone(),
        client_id: client.id.clone(),
        redirect_uri,
        scope,
        state: q.state,
        nonce: q.nonce,
        challenge: q.code_challenge,
        created: Instant::now(),
    };
    let request = match grants::await_choice(&idp, pending) {
        Ok(r) => r,
        Err(page) => return page.into_response(),
    };
    web::authorization_page(
        &provider,
        &format!("/{provider}/authorize/decide"),
        &client.id,
        &request,
        Fault::OIDC,
    )
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
    match grants::decide(&idp, &provider, d, Fault::OIDC) {
        Err(page) => page.into_response(),
        Ok(Decided::Denied {
            redirect_uri,
            state,
        }) => back_to_client(
            &redirect_uri,
            &[("error", "access_denied")],
            state.as_deref(),
            &iss,
        ),
        Ok(Decided::Granted {
            redirect_uri,
            state,
            code,
        }) => back_to_client(&redirect_uri, &[("code", &code)], state.as_deref(), &iss),
    }
}

/// An RFC 6749 §5.2 error.
pub(crate) fn token_error(status: StatusCode, error: &str, why: &str) -> Response {
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

async fn token(
    State(idp): Shared,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    if !known(&provider) {
        return not_found();
    }
    let credentials =
        client_auth::either(&headers, f.client_id.as_deref(), f.client_secret.as_deref());
    let Some((client_id, secret)) = credentials else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication missing or ambiguous",
        );
    };
    let Some(client) = client_auth::authenticate(&idp, &client_id, &secret) else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    };
    let redeem = Redeem {
        provider: &provider,
        client_id: &client.id,
        grant_type: f.grant_type.as_deref(),
        code: f.code.as_deref(),
        redirect_uri: f.redirect_uri.as_deref(),
        verifier: f.code_verifier.as_deref(),
    };
    let (g, access_token) = match redeem.grant(&idp, "").await {
        Ok(ok) => ok,
        Err(answer) => return answer,
    };
    let now = now_secs();
    let mut claims = user_claims(&provider, &g.user, &g.scope);
    claims["iss"] = json!(idp.issuer(&provider));
    claims["aud"] = json!(client.id);
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 3600);
    claims["auth_time"] = json!(now);
    let signed = id_token(&idp, &g, claims);
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

/// The ID token for a redeemed code: `claims` plus the nonce, signed — or forged as the code's
/// fault asks (shared with Apple).
pub(crate) fn id_token(idp: &Idp, g: &Grant, mut claims: Value) -> anyhow::Result<String> {
    let now = now_secs();
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
    match g.fault {
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
    }
}

/// A token request of an authenticated client, for the OpenID Connect providers.
pub(crate) struct Redeem<'a> {
    pub(crate) provider: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) grant_type: Option<&'a str>,
    pub(crate) code: Option<&'a str>,
    pub(crate) redirect_uri: Option<&'a str>,
    pub(crate) verifier: Option<&'a str>,
}

impl Redeem<'_> {
    /// The code's grant and a fresh access token (`prefix` first), or the error to answer —
    /// the token-step fault included.
    pub(crate) async fn grant(&self, idp: &Idp, prefix: &str) -> Result<(Grant, String), Response> {
        if self.grant_type != Some("authorization_code") {
            return Err(token_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code",
            ));
        }
        let g = grants::redeem(
            idp,
            self.provider,
            self.client_id,
            self.code,
            self.redirect_uri,
            self.verifier,
        )
        .map_err(|r| token_error(StatusCode::BAD_REQUEST, "invalid_grant", r.why()))?;
        if let Some(answer) = fault::at_token_step(g.fault).await {
            return Err(answer);
        }
        let token = grants::issue(idp, &g, prefix).ok_or_else(|| {
            token_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "no randomness",
            )
        })?;
        Ok((g, token))
    }
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
    match token.and_then(|t| grants::holder(&idp, &provider, t)) {
        Some(h) => Json(user_claims(&provider, &h.person, &h.scope)).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
    }
}
