//! The steps plain OAuth 2.0 providers (Facebook, GitHub, X) share: the authorization page, the
//! person's decision and the code-for-token exchange. What differs between them (which
//! parameters are required, how the client authenticates, how a refusal is worded) is a
//! [`Provider`]'s to say; their profile APIs live in their own modules.

use crate::fault::{self, Fault};
use crate::grants::{self, Decided, Decision, Holder, Pending, Refusal};
use crate::web::{self, error_page};
use crate::{Idp, client_auth, pkce};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Router, http};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;

type Shared = State<Arc<Idp>>;

/// Whether the authorization request must name `response_type=code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseType {
    Required,
    /// May be left out (it defaults to `code`), but nothing else is served.
    Optional,
    /// Not part of this provider's protocol: whatever is sent is ignored.
    Ignored,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `client_id` and `client_secret` parameters only.
    Params,
    /// Either the parameters or HTTP Basic, not both.
    ParamsOrBasic,
    /// HTTP Basic only.
    Basic,
}

/// What a provider requires of a client.
pub(crate) struct Rules {
    pub(crate) response_type: ResponseType,
    pub(crate) state_required: bool,
    pub(crate) pkce_required: bool,
    /// The scopes it knows; any other is refused with `invalid_scope`.
    pub(crate) scopes: &'static [&'static str],
    pub(crate) scope_separators: &'static [char],
    pub(crate) client_auth: ClientAuth,
    /// Without it, `grant_type` may be left out (it must still be `authorization_code` if sent).
    pub(crate) grant_type_required: bool,
    /// Whether the token endpoint also takes its parameters in the query string (and by GET).
    pub(crate) params_in_query: bool,
}

/// Why a token request was refused, for the provider to word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    InvalidClient(&'static str),
    UnsupportedGrantType,
    Grant(Refusal),
}

impl TokenRefusal {
    pub(crate) fn why(self) -> &'static str {
        match self {
            TokenRefusal::InvalidClient(why) => why,
            TokenRefusal::UnsupportedGrantType => "only authorization_code",
            TokenRefusal::Grant(r) => r.why(),
        }
    }
}

/// A granted token request.
pub(crate) struct TokenAnswer<'a> {
    pub(crate) access_token: &'a str,
    /// Space-separated, as granted.
    pub(crate) scope: &'a str,
    pub(crate) expires_in: u64,
}

/// One plain OAuth 2.0 provider, as far as the shared steps go.
pub(crate) trait Provider: Send + Sync + 'static {
    /// The first path segment, and the provider's name in the double's memory.
    const ID: &'static str;
    /// As written on the page.
    const NAME: &'static str;
    const AUTHORIZE_PATH: &'static str;
    const TOKEN_PATH: &'static str;
    const RULES: Rules;
    /// What the redirect carries besides `error=access_denied` (and `state`) when the person
    /// denies.
    const DENIED: &'static [(&'static str, &'static str)];
    /// The provider's access-token format begins so (`gho_`…).
    const TOKEN_PREFIX: &'static str;

    fn refuse(refusal: TokenRefusal, request: &HeaderMap) -> Response;
    fn grant(answer: &TokenAnswer<'_>, request: &HeaderMap) -> Response;
}

/// The authorization page, its form's target and the token endpoint of `P`.
pub(crate) fn routes<P: Provider>() -> Router<Arc<Idp>> {
    let token: MethodRouter<Arc<Idp>> = if P::RULES.params_in_query {
        get(token::<P>).post(token::<P>)
    } else {
        post(token::<P>)
    };
    Router::new()
        .route(P::AUTHORIZE_PATH, get(authorize::<P>))
        .route(&decide_path::<P>(), post(decide::<P>))
        .route(P::TOKEN_PATH, token)
}

fn decide_path<P: Provider>() -> String {
    format!("{}/decide", P::AUTHORIZE_PATH)
}

/// The access token an API request presents in `Authorization` under one of `schemes`
/// (compared without regard to case, as HTTP does).
pub(crate) fn presented_token(headers: &HeaderMap, schemes: &[&str]) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) && !token.is_empty())
        .then(|| token.to_owned())
}

/// Who the presented token speaks for at `P`.
pub(crate) fn holder<P: Provider>(idp: &Idp, token: Option<&str>) -> Option<Holder> {
    token.and_then(|t| grants::holder(idp, P::ID, t))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The requested scopes, space-joined, if the provider knows each one.
fn parse_scope(requested: &str, rules: &Rules) -> Option<String> {
    let scopes: Vec<&str> = requested
        .split(rules.scope_separators)
        .filter(|s| !s.is_empty())
        .collect();
    scopes
        .iter()
        .all(|s| rules.scopes.contains(s))
        .then(|| scopes.join(" "))
}

async fn authorize<P: Provider>(State(idp): Shared, Query(q): Query<AuthorizeQuery>) -> Response {
    let rules = &P::RULES;
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
    let refuse = |error: &str| {
        let mut params = vec![("error", error)];
        if let Some(s) = q.state.as_deref() {
            params.push(("state", s));
        }
        web::to_client(&redirect_uri, &params)
    };
    let response_type_ok = match rules.response_type {
        ResponseType::Required => q.response_type.as_deref() == Some("code"),
        ResponseType::Optional => q.response_type.as_deref().is_none_or(|t| t == "code"),
        ResponseType::Ignored => true,
    };
    if !response_type_ok {
        return refuse("unsupported_response_type");
    }
    if rules.state_required && q.state.as_deref().is_none_or(str::is_empty) {
        return refuse("invalid_request");
    }
    let Some(scope) = parse_scope(q.scope.as_deref().unwrap_or_default(), rules) else {
        return refuse("invalid_scope");
    };
    match (
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    ) {
        (None, None) if !rules.pkce_required => {}
        (Some(c), Some(m)) if pkce::acceptable(c, m) => {}
        _ => return refuse("invalid_request"),
    }
    let pending = Pending {
        provider: P::ID.to_owned(),
        client_id: client.id.clone(),
        redirect_uri,
        scope,
        state: q.state,
        nonce: None,
        challenge: q.code_challenge,
        created: Instant::now(),
    };
    let request = match grants::await_choice(&idp, pending) {
        Ok(r) => r,
        Err(page) => return page.into_response(),
    };
    web::authorization_page(
        P::NAME,
        &decide_path::<P>(),
        &client.id,
        &request,
        Fault::OAUTH2,
    )
}

/// These providers send no `iss` back: they are not OpenID Connect (RFC 9207 is not theirs).
async fn decide<P: Provider>(State(idp): Shared, Form(d): Form<Decision>) -> Response {
    match grants::decide(&idp, P::ID, d, Fault::OAUTH2) {
        Err(page) => page.into_response(),
        Ok(Decided::Denied {
            redirect_uri,
            state,
        }) => {
            let mut params = vec![("error", "access_denied")];
            params.extend_from_slice(P::DENIED);
            if let Some(s) = state.as_deref() {
                params.push(("state", s));
            }
            web::to_client(&redirect_uri, &params)
        }
        Ok(Decided::Granted {
            redirect_uri,
            state,
            code,
        }) => {
            let mut params = vec![("code", code.as_str())];
            if let Some(s) = state.as_deref() {
                params.push(("state", s));
            }
            web::to_client(&redirect_uri, &params)
        }
    }
}

#[derive(Deserialize, Default)]
struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl TokenParams {
    /// Each parameter from the body, else from the query string.
    fn or(self, other: TokenParams) -> TokenParams {
        TokenParams {
            grant_type: self.grant_type.or(other.grant_type),
            code: self.code.or(other.code),
            redirect_uri: self.redirect_uri.or(other.redirect_uri),
            code_verifier: self.code_verifier.or(other.code_verifier),
            client_id: self.client_id.or(other.client_id),
            client_secret: self.client_secret.or(other.client_secret),
        }
    }
}

async fn token<P: Provider>(
    State(idp): Shared,
    headers: HeaderMap,
    query: Result<Query<TokenParams>, QueryRejection>,
    body: Result<Form<TokenParams>, FormRejection>,
) -> Response {
    let rules = &P::RULES;
    let body = body.map(|Form(p)| p).unwrap_or_default();
    let p = if rules.params_in_query {
        body.or(query.map(|Query(q)| q).unwrap_or_default())
    } else {
        body
    };
    let credentials = match rules.client_auth {
        ClientAuth::Params => p.client_id.clone().zip(p.client_secret.clone()),
        ClientAuth::ParamsOrBasic => {
            client_auth::either(&headers, p.client_id.as_deref(), p.client_secret.as_deref())
        }
        ClientAuth::Basic => client_auth::basic_only(&headers, p.client_id.as_deref()),
    };
    let Some((client_id, secret)) = credentials else {
        return P::refuse(
            TokenRefusal::InvalidClient("client authentication missing or ambiguous"),
            &headers,
        );
    };
    let Some(client) = client_auth::authenticate(&idp, &client_id, &secret) else {
        return P::refuse(
            TokenRefusal::InvalidClient("unknown client or wrong secret"),
            &headers,
        );
    };
    let grant_type_ok = match p.grant_type.as_deref() {
        Some(g) => g == "authorization_code",
        None => !rules.grant_type_required,
    };
    if !grant_type_ok {
        return P::refuse(TokenRefusal::UnsupportedGrantType, &headers);
    }
    let redeemed = grants::redeem(
        &idp,
        P::ID,
        &client.id,
        p.code.as_deref(),
        p.redirect_uri.as_deref(),
        p.code_verifier.as_deref(),
    );
    let grant = match redeemed {
        Ok(g) => g,
        Err(r) => return P::refuse(TokenRefusal::Grant(r), &headers),
    };
    if let Some(answer) = fault::at_token_step(grant.fault).await {
        return answer;
    }
    let Some(access_token) = grants::issue(&idp, &grant, P::TOKEN_PREFIX) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response();
    };
    P::grant(
        &TokenAnswer {
            access_token: &access_token,
            scope: &grant.scope,
            expires_in: idp.config.token_ttl.as_secs(),
        },
        &headers,
    )
}

/// Token answers are never cached (RFC 6749 §5.1).
pub(crate) const NO_STORE: (http::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");
