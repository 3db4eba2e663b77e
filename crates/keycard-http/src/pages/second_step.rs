//! The second step of a sign-in on the hosted pages: after a right password on an account with
//! a second factor, the person types a code from their authenticator app or a recovery code.
//! The challenge travels in a Strict cookie of its own, never in the page or the URL.

use super::login::{
    PageQuery, SignInForm, checked_form, error_page, login_page, signed_in_response,
    with_retry_after,
};
use super::{PageCtx, render_with};
use crate::browser::{self, MFA_COOKIE};
use crate::error::ApiError;
use crate::extract::Client;
use crate::oauth::answer_origin;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;

/// The forms' purpose, for their tokens.
const FORM: &str = "login-second-step";

#[derive(Template)]
#[template(path = "login_second_step.html")]
struct SecondStepPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    return_to: &'a str,
    back_href: &'a str,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    ctx: &PageCtx,
    challenge: &str,
    return_to: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let csrf = state.keycard.browser().form_token(challenge, FORM);
    // As on /login: the form's answer may redirect on to an app's redirect URI (the second
    // step completes an authorization request), which `form-action` must allow.
    let answer_origin = answer_origin(state, return_to).await;
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    render_with(
        status,
        &SecondStepPage {
            ctx,
            csrf: &csrf,
            return_to,
            back_href: &login_href(return_to),
            error: error.map(|(_, m)| m),
        },
        &ctx.nonce,
        None,
        answer_origin.as_deref(),
    )
}

fn login_href(return_to: &str) -> String {
    format!("/login?return_to={}", super::login::encode(return_to))
}

fn back_to_login(return_to: &str) -> Response {
    Redirect::to(&login_href(return_to)).into_response()
}

/// `GET /login/second-step`: the code form, or back to the password without a challenge.
pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Response {
    let return_to = match browser::return_to(q.return_to.as_deref(), &state.config) {
        Ok(r) => r,
        Err(_) => "/account".to_owned(),
    };
    let Some(challenge) = jar.get(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return back_to_login(&return_to);
    };
    page(&state, &ctx, &challenge, &return_to, None).await
}

/// `POST /login/second-step`.
pub async fn submit(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Some(challenge) = jar.get(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        // The challenge expired with its cookie: the password is asked again.
        return back_to_login("/account");
    };
    let (ctx, form, return_to) =
        match checked_form(&state, &headers, &jar, form, FORM, Some(&challenge)) {
            Ok(checked) => checked,
            Err(answer) => return *answer,
        };
    let code = form.code.as_deref().unwrap_or_default();
    let done = state
        .keycard
        .browser()
        .complete_second_factor(&challenge, code, &client)
        .await;
    let spent = browser::expired(MFA_COOKIE);
    match done {
        Ok(s) => signed_in_response(&state, jar.add(spent), s, &return_to),
        Err(e @ Error::InvalidMfaCode) => {
            let msg = (StatusCode::UNAUTHORIZED, ctx.t("second_step.failed"));
            with_retry_after(
                page(&state, &ctx, &challenge, &return_to, Some(msg)).await,
                &e,
            )
        }
        Err(e @ Error::Throttled { .. }) => {
            let msg = (StatusCode::TOO_MANY_REQUESTS, ctx.t("login.locked"));
            with_retry_after(
                page(&state, &ctx, &challenge, &return_to, Some(msg)).await,
                &e,
            )
        }
        Err(Error::InvalidMfaChallenge) => {
            // Expired, spent, or failed too often: start over from the password.
            let (jar, bound) = super::binding(jar.add(spent), None);
            let csrf = state.keycard.browser().form_token(&bound, "login");
            let msg = (StatusCode::UNAUTHORIZED, ctx.t("second_step.expired"));
            let page = login_page(&state, &ctx, &csrf, &return_to, "", Some(msg)).await;
            (jar, page).into_response()
        }
        Err(e) => error_page(&state, ctx, ApiError::from(e)),
    }
}
