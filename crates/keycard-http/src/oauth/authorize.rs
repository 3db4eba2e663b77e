//! The authorization endpoint (`GET /oauth2/authorize`) and the consent page's answer
//! (`POST /oauth2/consent`). The request travels through the sign-in page and the consent form
//! as its own query string and is checked again each time: nothing about it is kept in between.

use super::{AUTHORIZE_PATH, params};
use crate::browser::SESSION_COOKIE;
use crate::error::ApiError;
use crate::extract::Client;
use crate::pages::login::error_page;
use crate::pages::{PageCtx, i18n::Messages, render_with, same_origin};
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use keycard_core::accounts::User;
use keycard_core::oidc::{AuthRequest, AuthorizeParams, Next, Rejection, error_url};
use keycard_core::sessions::Session;
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Keycard's own parameter on the way back from a sign-in it asked for (`prompt=login`,
/// `max_age`): when that sign-in began, MACed with the request, so it cannot be forged, moved
/// to another request or kept beyond a few minutes.
const SIGNED_IN_AFTER: &str = "kc_after";

/// The request in a canonical form (sorted, without Keycard's own parameter): what marks and
/// the consent form's token are bound to.
fn request_key(map: &HashMap<String, String>) -> String {
    let mut keys: Vec<&String> = map.keys().filter(|k| *k != SIGNED_IN_AFTER).collect();
    keys.sort();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for k in keys {
        out.append_pair(k, &map[k]);
    }
    out.finish()
}

fn signed_in_after(state: &AppState, map: &HashMap<String, String>) -> Option<OffsetDateTime> {
    let mark = map.get(SIGNED_IN_AFTER)?;
    state.keycard.provider().read_mark(&request_key(map), mark)
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    request: &'a str,
    heading: String,
    signed_in_as: String,
    scopes: Vec<String>,
    logo: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ConsentForm {
    csrf: Option<String>,
    lang: Option<String>,
    request: Option<String>,
    decision: Option<String>,
}

fn read(map: &HashMap<String, String>) -> AuthorizeParams {
    let get = |k: &str| map.get(k).cloned();
    AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        acr_values: get("acr_values"),
        login_hint: get("login_hint"),
        ui_locales: get("ui_locales"),
        response_mode: get("response_mode"),
        request: get("request"),
        request_uri: get("request_uri"),
    }
}

fn malformed(why: String) -> ApiError {
    Error::invalid("request", "invalid_request", why).into()
}

/// The answer for a rejection: the client's redirect URI, or a page of ours.
fn rejected(state: &AppState, ctx: PageCtx, r: Rejection) -> Response {
    match error_url(&state.keycard.policy().issuer, r) {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => error_page(state, ctx, e),
    }
}

async fn browser_session(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<(Session, User)>, Error> {
    match jar.get(SESSION_COOKIE) {
        Some(c) => state.keycard.browser().current(c.value()).await,
        None => Ok(None),
    }
}

/// `GET /oauth2/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    ctx: PageCtx,
    RawQuery(query): RawQuery,
    jar: CookieJar,
) -> Response {
    let query = query.unwrap_or_default();
    let map = match params::unique(params::decode(&query)) {
        Ok(m) => m,
        Err(k) => {
            return error_page(
                &state,
                ctx,
                malformed(format!("the parameter {k} is repeated")),
            );
        }
    };
    let provider = state.keycard.provider();
    let req = match provider.check(&read(&map)).await {
        Ok(r) => r,
        Err(r) => return rejected(&state, ctx, r),
    };
    let browser = match browser_session(&state, &jar).await {
        Ok(b) => b,
        Err(e) => return error_page(&state, ctx, e),
    };
    let after = signed_in_after(&state, &map);
    match provider.next(&req, browser.as_ref(), after).await {
        Err(r) => rejected(&state, ctx, r),
        Ok(Next::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(Next::Login { again }) => to_login(&state, &req, &map, again),
        Ok(Next::Consent) => match browser {
            Some(b) => consent_page(&state, ctx, &jar, &req, &b, &query),
            None => error_page(
                &state,
                ctx,
                Error::Internal("consent without a session".into()),
            ),
        },
    }
}

/// `POST /oauth2/authorize` (OpenID Connect Core §3.1.2.1): the same request as a form. It
/// comes from the app's site, so the browser leaves the SameSite=Lax session cookie behind;
/// a redirect to the GET form makes it a top-level navigation that carries it.
pub async fn authorize_post(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return error_page(&state, ctx, malformed("the request must be a form".into()));
    }
    match params::unique(params::decode(&body)) {
        Ok(map) => Redirect::to(&format!("{AUTHORIZE_PATH}?{}", request_key(&map))).into_response(),
        Err(k) => error_page(
            &state,
            ctx,
            malformed(format!("the parameter {k} is repeated")),
        ),
    }
}

/// Off to the sign-in page, which comes back here when done.
fn to_login(
    state: &AppState,
    req: &AuthRequest,
    map: &HashMap<String, String>,
    again: bool,
) -> Response {
    let key = request_key(map);
    let mut return_to = format!("{AUTHORIZE_PATH}?{key}");
    if again {
        let provider = state.keycard.provider();
        let mark = provider.sign_in_mark(&key, state.keycard.now());
        let mut extra = url::form_urlencoded::Serializer::new(String::new());
        extra.append_pair(SIGNED_IN_AFTER, &mark);
        return_to = format!("{return_to}&{}", extra.finish());
    }
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &return_to);
    if again {
        login.append_pair("prompt", "login");
    }
    if let Some(h) = &req.login_hint {
        login.append_pair("login_hint", h);
    }
    if let Some(l) = &req.ui_locales {
        login.append_pair("ui_locales", l);
    }
    Redirect::to(&format!("/login?{}", login.finish())).into_response()
}

/// The CSP source for `uri`'s origin: `https://host:port`, or `scheme:` for a native app's
/// private-use scheme.
pub(crate) fn origin(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    match u.scheme() {
        "http" | "https" => Some(u.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// Where a sign-in form's answer may end up besides Keycard: the origin of the app's redirect
/// URI when the form returns to an authorization request of a registered app. Browsers hold
/// the redirects that answer a form to the page's `form-action` too, so without it the last
/// hop to the app would be blocked.
pub(crate) async fn answer_origin(state: &AppState, return_to: &str) -> Option<String> {
    let public = state.config.public_url.trim_end_matches('/');
    let query = return_to
        .strip_prefix(public)?
        .strip_prefix(AUTHORIZE_PATH)?
        .strip_prefix('?')?;
    let map = params::unique(params::decode(query)).ok()?;
    let req = state.keycard.provider().check(&read(&map)).await.ok()?;
    origin(&req.redirect_uri)
}

fn consent_page(
    state: &AppState,
    ctx: PageCtx,
    jar: &CookieJar,
    req: &AuthRequest,
    (_, user): &(Session, User),
    query: &str,
) -> Response {
    let binding = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    // Bound to this browser's session and this very request.
    let key = params::unique(params::decode(query))
        .map(|m| request_key(&m))
        .unwrap_or_default();
    let csrf = state
        .keycard
        .browser()
        .form_token(&binding, &format!("consent {key}"));
    let scopes = req
        .scopes
        .iter()
        .map(|s| match s.as_str() {
            "openid" | "profile" | "email" | "offline_access" => {
                ctx.t(&format!("consent.scope.{s}"))
            }
            other => ctx.t1("consent.scope.other", "scope", other),
        })
        .collect();
    let who = user
        .email
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| user.name.clone())
        .unwrap_or_default();
    let logo = req.client.logo_url.as_deref();
    let page = ConsentPage {
        ctx: &ctx,
        csrf: &csrf,
        request: query,
        heading: ctx.t1("consent.heading", "app", &req.client.name),
        signed_in_as: ctx.t1("consent.signed_in_as", "who", &who),
        scopes,
        logo,
    };
    let resp = render_with(
        StatusCode::OK,
        &page,
        &ctx.nonce,
        logo.and_then(origin).as_deref(),
        origin(&req.redirect_uri).as_deref(),
    );
    super::no_store(resp)
}

/// `POST /oauth2/consent`: the person's answer, from Keycard's own page and this browser's
/// session only.
pub async fn consent(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            let ctx = PageCtx::new(Messages::negotiate(None, accept), &state);
            return error_page(&state, ctx, ApiError::Malformed(e.body_text()));
        }
    };
    let ctx = PageCtx::new(Messages::negotiate(form.lang.as_deref(), accept), &state);
    let binding = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let query = form.request.unwrap_or_default();
    let map = match params::unique(params::decode(&query)) {
        Ok(m) => m,
        Err(k) => {
            return error_page(
                &state,
                ctx,
                malformed(format!("the parameter {k} is repeated")),
            );
        }
    };
    // The token was made for this browser's session and this very request.
    let token = form.csrf.as_deref().unwrap_or_default();
    let purpose = format!("consent {}", request_key(&map));
    if !same_origin(&headers, &state.config)
        || !state
            .keycard
            .browser()
            .form_token_holds(&binding, &purpose, token)
    {
        tracing::info!(
            form = "consent",
            "form refused: foreign origin or bad token"
        );
        return error_page(
            &state,
            ctx,
            ApiError::CsrfRejected("form from another site or without its token"),
        );
    }
    let provider = state.keycard.provider();
    let req = match provider.check(&read(&map)).await {
        Ok(r) => r,
        Err(r) => return rejected(&state, ctx, r),
    };
    let browser = match browser_session(&state, &jar).await {
        Ok(Some(b)) => b,
        // Signed out in between: start again, through the sign-in page.
        Ok(None) => return to_login(&state, &req, &map, false),
        Err(e) => return error_page(&state, ctx, e),
    };
    let allow = match form.decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                &state,
                ctx,
                malformed("decision must be allow or deny".into()),
            );
        }
    };
    let after = signed_in_after(&state, &map);
    match provider.decide(&req, &browser, after, allow, &by).await {
        Ok(Next::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(Next::Login { again }) => to_login(&state, &req, &map, again),
        Ok(Next::Consent) => error_page(&state, ctx, Error::Internal("consent asked again".into())),
        Err(r) => rejected(&state, ctx, r),
    }
}
