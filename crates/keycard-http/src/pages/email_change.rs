//! Changing the account's address on the pages: the account page's form, and the page the old
//! address's undo link opens (`/email/undo`), which asks for one press so that a mail scanner
//! opening the link spends nothing. The new address's link opens `/verify-email` (`verify`).

use super::account::account_form;
use super::login::{SignInForm, error_page};
use super::verify::{LinkForm, link_form, notice_linking};
use super::{PageCtx, origin_only_referrer, render};
use crate::extract::Client;
use crate::oauth::no_store;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use keycard_core::lifecycle::UNDO_PREFIX;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "link_confirm.html")]
struct ConfirmPage<'a> {
    ctx: &'a PageCtx,
    heading: String,
    text: String,
    action: &'a str,
    submit: String,
    csrf: &'a str,
    token: &'a str,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
    lang: Option<String>,
    token: Option<String>,
}

/// `POST /account/email`: the form on the account page (`email`: the new address,
/// `password`: the current one).
pub async fn request(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, form) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    client.locale = Some(ctx.m.lang.to_owned());
    let new_email = form.email.as_deref().unwrap_or_default().trim().to_owned();
    let password = form.password.as_deref().filter(|p| !p.is_empty());
    let change = state.keycard.email_change();
    let back = ("/account", ctx.t("verify.to_account"));
    match change.request(&who, &new_email, password, &client).await {
        Ok(()) => notice_linking(
            &ctx,
            StatusCode::ACCEPTED,
            "email-change-sent",
            (
                ctx.t("verify.sent_heading"),
                ctx.t1("email_change.sent_text", "email", &new_email),
            ),
            back,
        ),
        Err(e @ (Error::Invalid { .. } | Error::EmailTaken | Error::ReauthenticationRequired)) => {
            let (status, text) = match &e {
                Error::Invalid { code, .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ctx.t(&format!("field.{code}")),
                ),
                Error::EmailTaken => (StatusCode::CONFLICT, ctx.t("email_change.taken")),
                _ => (StatusCode::FORBIDDEN, ctx.t("email_change.password_needed")),
            };
            // Past the window, signing in again is the way on (the only one with a second
            // factor): the sign-in page, even for this signed-in browser.
            let again = (
                "/login?return_to=%2Faccount&prompt=login",
                ctx.t("two_step.sign_in_again_link"),
            );
            let link = match &e {
                Error::ReauthenticationRequired => again,
                _ => back,
            };
            notice_linking(
                &ctx,
                status,
                "email-change-refused",
                (ctx.t("email_change.heading"), text),
                link,
            )
        }
        Err(e) => error_page(&state, ctx, e),
    }
}

const UNDO: &str = "email-undo";

/// `GET /email/undo?token=…`: one button that posts the token back.
async fn link_page(state: &AppState, ctx: PageCtx, token: Option<String>) -> Response {
    let Some(token) = token.filter(|t| t.starts_with(UNDO_PREFIX) && t.len() <= 100) else {
        return origin_only_referrer(error_page(state, ctx, Error::InvalidEmailChange));
    };
    let csrf = state.keycard.browser().form_token(&token, UNDO);
    origin_only_referrer(no_store(render(
        StatusCode::OK,
        &ConfirmPage {
            ctx: &ctx,
            heading: ctx.t("email_change.undo_heading"),
            text: ctx.t("email_change.undo_text"),
            action: "/email/undo",
            submit: ctx.t("email_change.undo_submit"),
            csrf: &csrf,
            token: &token,
        },
        &ctx.nonce,
    )))
}

/// `GET /email/undo?token=…`.
pub async fn show_undo(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<TokenQuery>,
) -> Response {
    link_page(&state, ctx, q.token).await
}

/// `POST /email/undo`.
pub async fn submit_undo(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let (ctx, form) = match link_form(&state, &headers, form, UNDO) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    match state
        .keycard
        .email_change()
        .undo(form.token(), &client)
        .await
    {
        Ok(_) => notice_linking(
            &ctx,
            StatusCode::OK,
            "email-change-undone",
            (
                ctx.t("email_change.undone_heading"),
                ctx.t("email_change.undone_text"),
            ),
            ("/password/forgot", ctx.t("email_change.choose_password")),
        ),
        Err(e) => error_page(&state, ctx, e),
    }
}

impl LinkForm for TokenForm {
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
