//! Sign in with Apple (`/apple`), at Apple's paths: discovery, `/auth/keys`, `/auth/authorize`
//! (a page to choose a test user or deny), `/auth/token`. What sets it apart, kept here as
//! strictly as Apple keeps it:
//! - asking for `name` or `email` requires `response_mode=form_post`: the answer is an
//!   auto-submitting form that POSTs `code`, `state` and, on a person's first sign-in with the
//!   client only, `user` (JSON with the name) to the redirect URI — a cross-site POST;
//! - the client secret is an ES256 JWT signed by the developer team's key (`iss` the team id,
//!   `sub` the client id, `aud` the issuer, `kid` the key id, at most six months long), sent in
//!   the form (`client_secret_post`); a shared secret is refused;
//! - no PKCE: a `code_verifier` is refused;
//! - a cancelled sign-in comes back as `error=user_cancelled_authorize`;
//! - the ID token carries `email_verified` and `is_private_email` as strings, and no name.

use crate::fault::Fault;
use crate::grants::{self, Decided, Decision, Pending, lock};
use crate::oidc::{Redeem, id_token, now_secs, token_error};
use crate::web::{self, error_page, escape};
use crate::{Idp, Shared};
use anyhow::{Context, Result};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// The developer team of the demo and test configurations. Its key is published in this
/// repository on purpose: it signs client secrets for this double and nothing else.
pub const DEMO_TEAM_ID: &str = "KEYCARDT01";
pub const DEMO_KEY_ID: &str = "DEMOKEY001";
pub const DEMO_PRIVATE_KEY: &str = include_str!("../apple-demo-key.p8");

/// Apple's longest client-secret lifetime.
const MAX_SECRET_LIFETIME: u64 = 15_777_000;

/// The team whose key signs the clients' secrets: only its public half is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleTeam {
    pub team_id: String,
    pub key_id: String,
    public_key: Vec<u8>,
}

impl AppleTeam {
    /// From the team's `.p8` file (PKCS#8 PEM, P-256).
    pub fn from_p8(team_id: &str, key_id: &str, pem: &str) -> Result<Self> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body).context("the key is not PEM")?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 P-256 key: {e}"))?;
        Ok(Self {
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            public_key: pair.public_key().as_ref().to_vec(),
        })
    }

    pub fn demo() -> Result<Self> {
        Self::from_p8(DEMO_TEAM_ID, DEMO_KEY_ID, DEMO_PRIVATE_KEY)
    }

    /// Checks a client secret as Apple does; the reason when it fails.
    fn verify(&self, jwt: &str, client_id: &str, audience: &str) -> Result<(), &'static str> {
        let mut parts = jwt.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the client secret is not a JWT");
        };
        let decode =
            |p: &str| -> Option<Value> { serde_json::from_slice(&B64.decode(p).ok()?).ok() };
        let (Some(header), Some(claims)) = (decode(h), decode(c)) else {
            return Err("the client secret is not a JWT");
        };
        if header["alg"] != "ES256" {
            return Err("the client secret must be signed ES256");
        }
        if header["kid"] != self.key_id.as_str() {
            return Err("the client secret names another key");
        }
        let sig = B64.decode(s).map_err(|_| "bad signature encoding")?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public_key)
            .verify(format!("{h}.{c}").as_bytes(), &sig)
            .map_err(|_| "the client secret's signature does not verify")?;
        let aud_ok = claims["aud"] == audience
            || claims["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == audience));
        if claims["iss"] != self.team_id.as_str() || claims["sub"] != client_id || !aud_ok {
            return Err("the client secret's iss, sub or aud is wrong");
        }
        let now = now_secs();
        let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
            return Err("the client secret needs iat and exp");
        };
        if iat > now + 60 || exp <= now || exp - iat > MAX_SECRET_LIFETIME {
            return Err("the client secret is expired, not yet valid or too long-lived");
        }
        Ok(())
    }
}

pub(crate) fn routes() -> Router<Arc<Idp>> {
    Router::new()
        .route("/apple/.well-known/openid-configuration", get(discovery))
        .route("/apple/auth/keys", get(keys))
        .route("/apple/auth/authorize", get(authorize))
        .route("/apple/auth/authorize/decide", post(decide))
        .route("/apple/auth/token", post(token))
}

async fn discovery(State(idp): Shared) -> Response {
    let iss = idp.issuer("apple");
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/auth/authorize"),
        "token_endpoint": format!("{iss}/auth/token"),
        "jwks_uri": format!("{iss}/auth/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "name"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "is_private_email", "iss", "nonce", "nonce_supported", "sub"],
    }))
    .into_response()
}

async fn keys(State(idp): Shared) -> Response {
    Json(idp.signer.jwks().clone()).into_response()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    response_mode: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
}

async fn authorize(State(idp): Shared, Query(q): Query<AuthorizeQuery>) -> Response {
    let client = q.client_id.as_deref().and_then(|id| idp.client(id));
    let Some(client) = client else {
        return error_page(StatusCode::BAD_REQUEST, "invalid_client_id");
    };
    let Some(redirect_uri) = q
        .redirect_uri
        .filter(|u| client.redirect_uris.iter().any(|r| r == u))
    else {
        return error_page(StatusCode::BAD_REQUEST, "invalid_request: redirect_uri");
    };
    let scope = q.scope.unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if scopes
        .iter()
        .any(|s| !["name", "email", "openid"].contains(s))
    {
        return error_page(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    let asks_person = scopes.iter().any(|s| ["name", "email"].contains(s));
    if asks_person && q.response_mode.as_deref() != Some("form_post") {
        // Apple shows this on its own page: there is no safe way back without form_post.
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request: response_mode must be form_post when name or email scope is requested",
        );
    }
    if q.response_type.as_deref() != Some("code") {
        return error_page(StatusCode::BAD_REQUEST, "unsupported_response_type");
    }
    let pending = Pending {
        provider: "apple".into(),
        client_id: client.id.clone(),
        redirect_uri,
        scope,
        state: q.state,
        nonce: q.nonce,
        challenge: None,
        created: Instant::now(),
    };
    let request = match grants::await_choice(&idp, pending) {
        Ok(r) => r,
        Err(page) => return page.into_response(),
    };
    web::authorization_page(
        "apple",
        "/apple/auth/authorize/decide",
        &client.id,
        &request,
        Fault::OIDC,
    )
}

/// What Apple answers with: a page that POSTs `fields` to the client at once (the button for
/// browsers without JavaScript).
fn form_post(redirect_uri: &str, fields: &[(&str, &str)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Signing in</title>\
         <form method=\"post\" action=\"{}\" id=\"apple-form-post\">{inputs}\
         <button type=\"submit\" id=\"continue\">Continue</button></form>\
         <script>document.getElementById('apple-form-post').submit();</script></html>",
        escape(redirect_uri)
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

async fn decide(State(idp): Shared, Form(d): Form<Decision>) -> Response {
    match grants::decide(&idp, "apple", d, Fault::OIDC) {
        Err(page) => page.into_response(),
        Ok(Decided::Denied {
            redirect_uri,
            state,
        }) => {
            let mut fields = vec![("error", "user_cancelled_authorize")];
            if let Some(s) = state.as_deref() {
                fields.push(("state", s));
            }
            form_post(&redirect_uri, &fields)
        }
        Ok(Decided::Granted {
            redirect_uri,
            state,
            code,
        }) => {
            let user = first_time_user(&idp, &code);
            let mut fields = vec![("code", code.as_str())];
            if let Some(s) = state.as_deref() {
                fields.push(("state", s));
            }
            if let Some(u) = user.as_deref() {
                fields.push(("user", u));
            }
            form_post(&redirect_uri, &fields)
        }
    }
}

/// The `user` field: only the first time a person signs in to a client, and only for the
/// scopes asked.
fn first_time_user(idp: &Idp, code: &str) -> Option<String> {
    let codes = lock(&idp.codes);
    let g = codes.get(code)?;
    let key = format!("{}\n{}", g.client_id, g.user.subject("apple"));
    if !lock(&idp.apple_seen).insert(key) {
        return None;
    }
    let scopes: Vec<&str> = g.scope.split(' ').collect();
    let mut user = json!({});
    if scopes.contains(&"name") {
        let (first, last) = g
            .user
            .user
            .name
            .split_once(' ')
            .unwrap_or((g.user.user.name, ""));
        user["name"] = json!({ "firstName": first, "lastName": last });
    }
    if scopes.contains(&"email")
        && let Some(e) = g.user.email()
    {
        user["email"] = json!(e);
    }
    Some(user.to_string())
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

async fn token(State(idp): Shared, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let invalid_client = |why: &str| token_error(StatusCode::BAD_REQUEST, "invalid_client", why);
    if headers.contains_key(header::AUTHORIZATION) {
        return invalid_client("Apple takes the client secret in the form only");
    }
    let (Some(client_id), Some(secret)) = (f.client_id.as_deref(), f.client_secret.as_deref())
    else {
        return invalid_client("client_id and client_secret are required");
    };
    let Some(client) = idp.client(client_id) else {
        return invalid_client("unknown client");
    };
    let Some(team) = idp.config.apple.as_ref() else {
        return invalid_client("no developer team is configured at this double");
    };
    let audience = idp.issuer("apple");
    if let Err(why) = team.verify(secret, &client.id, &audience) {
        return invalid_client(why);
    }
    let redeem = Redeem {
        provider: "apple",
        client_id: &client.id,
        grant_type: f.grant_type.as_deref(),
        code: f.code.as_deref(),
        redirect_uri: f.redirect_uri.as_deref(),
        verifier: f.code_verifier.as_deref(),
    };
    let (g, access_token) = match redeem.grant(&idp, "a").await {
        Ok(ok) => ok,
        Err(answer) => return answer,
    };
    let now = now_secs();
    let mut claims = json!({
        "iss": audience,
        "aud": client.id,
        "sub": g.user.subject("apple"),
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
        "nonce_supported": true,
    });
    if g.scope.split(' ').any(|s| s == "email")
        && let Some(e) = g.user.email()
    {
        claims["email"] = json!(e);
        claims["email_verified"] = json!(g.user.user.email_verified.to_string());
        claims["is_private_email"] = json!("false");
    }
    let Ok(id_token) = id_token(&idp, &g, claims) else {
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
            "expires_in": 3600,
            "refresh_token": format!("r{}", crate::random_token().unwrap_or_default()),
            "id_token": id_token,
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_key_is_a_p256_key() {
        let team = AppleTeam::demo().unwrap();
        assert_eq!(team.public_key.len(), 65);
        assert_eq!(
            team.verify("a.b", "keycard", "x"),
            Err("the client secret is not a JWT")
        );
    }
}
