//! `/password/forgot` (ask for a link) and `/password/reset?token=…` (where the link lands:
//! choose the new password). Opening the link spends nothing; the form's post does.

use super::login::{SignInForm, checked_form, error_page, with_retry_after};
use super::verify::{LinkForm, link_form, notice_linking};
use super::{PageCtx, binding, render};
use crate::extract::Client;
use crate::oauth::no_store;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use serde::Deserialize;

/// Form tokens of the forgot page are bound to the browser; those of the reset page to the
/// link's token (the browser may be another than the one that asked).
const FORGOT: &str = "password-forgot";
const RESET: &str = "password-reset";

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ForgotQuery {
    /// The address to fill in (the sign-in form's, when it links here).
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    csrf: Option<String>,
    lang: Option<String>,
    token: Option<String>,
    new_password: Option<String>,
}

/// `GET /password/forgot`.
pub async fn show_forgot(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<ForgotQuery>,
    jar: CookieJar,
) -> Response {
    let (jar, bound) = binding(jar, None);
    let csrf = state.keycard.browser().form_token(&bound, FORGOT);
    let email = q.email.filter(|e| e.len() <= 320).unwrap_or_default();
    let page = forgot_page(&ctx, &csrf, &email, None);
    (jar, page).into_response()
}

fn forgot_page(
    ctx: &PageCtx,
    csrf: &str,
    email: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    no_store(render(
        status,
        &ForgotPage {
            ctx,
            csrf,
            email,
            error: error.map(|(_, m)| m),
        },
        &ctx.nonce,
    ))
}

/// `POST /password/forgot`: the same page whether or not the address has an account.
pub async fn submit_forgot(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, form, _) = match checked_form(&state, &headers, &jar, form, FORGOT, None) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let email = form.email.as_deref().unwrap_or_default().trim().to_owned();
    client.locale = Some(ctx.m.lang.to_owned());
    match state
        .keycard
        .password_reset()
        .request(&email, &client)
        .await
    {
        Ok(()) => {
            let minutes = state
                .keycard
                .policy()
                .password_reset_ttl
                .whole_minutes()
                .to_string();
            let text = ctx.m.t(
                "forgot.sent_text",
                &[("email", &email), ("minutes", &minutes)],
            );
            let back = ("/login", ctx.t("forgot.back"));
            notice_linking(
                &ctx,
                StatusCode::ACCEPTED,
                "reset-sent",
                (ctx.t("forgot.sent_heading"), text),
                back,
            )
        }
        Err(e) => {
            let message = match &e {
                Error::Invalid { code, .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ctx.t(&format!("field.{code}")),
                ),
                Error::Throttled { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, ctx.t("forgot.rate_limited"))
                }
                _ => return error_page(&state, ctx, e),
            };
            let csrf = form.csrf.as_deref().unwrap_or_default();
            with_retry_after(forgot_page(&ctx, csrf, &email, Some(message)), &e)
        }
    }
}

/// `GET /password/reset?token=…`: the form, if the link still holds.
pub async fn show(
    State(state): State<AppState>,
    Client(client): Client,
    ctx: PageCtx,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    match state.keycard.password_reset().holds(&token, &client).await {
        Ok(email) => {
            let csrf = state.keycard.browser().form_token(&token, RESET);
            super::origin_only_referrer(reset_page(&ctx, &csrf, &token, &email, None))
        }
        // Still at the link's address (a 429 comes while the token may hold).
        Err(e) => super::origin_only_referrer(error_page(&state, ctx, e)),
    }
}

fn reset_page(
    ctx: &PageCtx,
    csrf: &str,
    token: &str,
    email: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    no_store(render(
        status,
        &ResetPage {
            ctx,
            csrf,
            token,
            email,
            error: error.map(|(_, m)| m),
        },
        &ctx.nonce,
    ))
}

/// `POST /password/reset`.
pub async fn submit(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let (ctx, form) = match link_form(&state, &headers, form, RESET) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let (token, csrf) = (form.token().to_owned(), form.csrf().to_owned());
    client.locale = Some(ctx.m.lang.to_owned());
    let password = form.new_password.unwrap_or_default();
    let reset = state.keycard.password_reset();
    match reset.reset(&token, &password, &client).await {
        Ok(_) => notice_linking(
            &ctx,
            StatusCode::OK,
            "password-reset",
            (ctx.t("reset.done_heading"), ctx.t("reset.done_text")),
            ("/login", ctx.t("reset.sign_in")),
        ),
        // The policy refused the password: the link still holds, so the form comes back.
        Err(Error::Invalid { code, .. }) => {
            let message = ctx.t(&format!("field.{code}"));
            let email = reset.holds(&token, &client).await.unwrap_or_default();
            reset_page(
                &ctx,
                &csrf,
                &token,
                &email,
                Some((StatusCode::UNPROCESSABLE_ENTITY, message)),
            )
        }
        Err(e) => error_page(&state, ctx, e),
    }
}

impl LinkForm for ResetForm {
    fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }
    fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }
    fn csrf(&self) -> &str {
        self.csrf.as_deref().unwrap_or_default()
    }
}
