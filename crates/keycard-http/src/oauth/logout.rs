//! `/oauth2/logout`, the `end_session_endpoint`: an app sends the person here to sign out of
//! Keycard (and so of every app whose grant came from that sign-in), then back to a
//! post-logout redirect URI it registered. The person is asked first, unless the app proves
//! with `id_token_hint` that it speaks for this very sign-in.

use super::params;
use crate::browser::{self, SESSION_COOKIE};
use crate::error::ApiError;
use crate::extract::Client;
use crate::pages::login::error_page;
use crate::pages::logout::{LogoutPage, signed_out};
use crate::pages::{PageCtx, render_with, same_origin};
use crate::routes::auth::REFRESH_COOKIE;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use keycard_core::oidc::EndSession;
use keycard_core::service::ClientInfo;
use std::collections::HashMap;

const FIELDS: [&str; 5] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

async fn checked(state: &AppState, map: &HashMap<String, String>) -> Result<EndSession, Error> {
    let get = |k: &str| map.get(k).map(String::as_str);
    state
        .keycard
        .provider()
        .end_session(
            get("id_token_hint"),
            get("client_id"),
            get("post_logout_redirect_uri"),
            get("state"),
        )
        .await
}

/// Signs the browser out and goes where the request says.
async fn sign_out(
    state: &AppState,
    ctx: PageCtx,
    jar: CookieJar,
    req: &EndSession,
    by: &ClientInfo,
) -> Response {
    if let Some(cookie) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        match state.keycard.browser().session(&cookie).await {
            Ok(Some(who)) => {
                if let Err(e) = state.keycard.browser().logout(&who, by).await {
                    return error_page(state, ctx, e);
                }
            }
            Ok(None) => {}
            Err(e) => return error_page(state, ctx, e),
        }
    }
    match &req.redirect {
        Some(to) => {
            let jar = jar
                .add(browser::expired(SESSION_COOKIE))
                .add(browser::expired(REFRESH_COOKIE));
            (jar, Redirect::to(to)).into_response()
        }
        None => signed_out(&ctx, jar),
    }
}

/// `GET /oauth2/logout` (and an app's `POST` of the same parameters).
pub async fn end_session(
    State(state): State<AppState>,
    ctx: PageCtx,
    Client(by): Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    jar: CookieJar,
    body: String,
) -> Response {
    let form_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let raw = if form_body {
        body
    } else {
        query.unwrap_or_default()
    };
    let map = match params::unique(params::decode(&raw)) {
        Ok(m) => m,
        Err(k) => {
            let e = Error::invalid(
                "request",
                "invalid_logout_request",
                format!("the parameter {k} is repeated"),
            );
            return error_page(&state, ctx, e);
        }
    };
    // The confirmation form comes back here with its token.
    if map.contains_key("csrf") {
        return confirmed(&state, ctx, &headers, jar, &map, &by).await;
    }
    let req = match checked(&state, &map).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, ctx, e),
    };
    let cookie = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let current = match &cookie {
        Some(c) => match state.keycard.browser().current(c).await {
            Ok(s) => s,
            Err(e) => return error_page(&state, ctx, e),
        },
        None => None,
    };
    let Some((session, user)) = current else {
        // Nobody signed in here: nothing to end, straight on.
        return sign_out(&state, ctx, jar, &req, &by).await;
    };
    let vouched = req.hinted_sid.as_deref() == Some(session.id.to_string().as_str())
        && req.hinted_sub.as_deref() == Some(user.id.to_string().as_str());
    if vouched {
        return sign_out(&state, ctx, jar, &req, &by).await;
    }
    let csrf = state
        .keycard
        .browser()
        .form_token(cookie.as_deref().unwrap_or_default(), "end_session");
    let hidden = FIELDS
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (*k, v.clone())))
        .collect();
    let cancel = req
        .redirect
        .clone()
        .unwrap_or_else(|| "/account".to_owned());
    // The confirmed answer redirects to the app: browsers hold that to `form-action` too.
    let app_origin = req.redirect.as_deref().and_then(super::authorize::origin);
    let resp = render_with(
        StatusCode::OK,
        &LogoutPage {
            ctx: &ctx,
            csrf: &csrf,
            action: super::END_SESSION_PATH,
            hidden,
            cancel_href: &cancel,
        },
        &ctx.nonce,
        None,
        app_origin.as_deref(),
    );
    super::no_store(resp)
}

/// The person confirmed on Keycard's page.
async fn confirmed(
    state: &AppState,
    ctx: PageCtx,
    headers: &HeaderMap,
    jar: CookieJar,
    map: &HashMap<String, String>,
    by: &ClientInfo,
) -> Response {
    let binding = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let token = map.get("csrf").map(String::as_str).unwrap_or_default();
    if !same_origin(headers, &state.config)
        || !state
            .keycard
            .browser()
            .form_token_holds(&binding, "end_session", token)
    {
        return error_page(
            state,
            ctx,
            ApiError::CsrfRejected("form from another site or without its token"),
        );
    }
    match checked(state, map).await {
        Ok(req) => sign_out(state, ctx, jar, &req, by).await,
        Err(e) => error_page(state, ctx, e),
    }
}
