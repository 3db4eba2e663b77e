//! Two-step verification on the account page: setting up an authenticator app (its QR code and
//! secret, then a first code), the recovery codes shown once, new codes, and turning it off.
//! Every change needs a recent sign-in; past that window the page says to sign in again.

use super::account::account_form;
use super::login::{SignInForm, error_page};
use super::verify::notice_linking;
use super::{PageCtx, render};
use crate::extract::Client;
use crate::oauth::no_store;
use crate::routes::mfa::qr_svg;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;

#[derive(Template)]
#[template(path = "mfa_setup.html")]
struct SetupPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    qr_svg: &'a str,
    secret: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage<'a> {
    ctx: &'a PageCtx,
    heading: String,
    codes: &'a [String],
}

/// The secret in groups of four, as apps show it.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The answer to a change refused for want of a recent sign-in (or a wrong password), under
/// the heading of the account page's section it was made from.
pub(super) fn refused_in(ctx: &PageCtx, heading: String, e: &Error) -> Response {
    let (status, text, link) = match e {
        Error::Invalid { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ctx.t("field.invalid_current_password"),
            ("/account", ctx.t("verify.to_account")),
        ),
        _ => (
            StatusCode::FORBIDDEN,
            ctx.t("two_step.sign_in_again"),
            (
                "/login?return_to=%2Faccount&prompt=login",
                ctx.t("two_step.sign_in_again_link"),
            ),
        ),
    };
    notice_linking(ctx, status, "two-step-refused", (heading, text), link)
}

fn refused(ctx: &PageCtx, e: &Error) -> Response {
    refused_in(ctx, ctx.t("two_step.heading"), e)
}

fn codes_page(ctx: &PageCtx, heading: String, codes: &[String]) -> Response {
    no_store(render(
        StatusCode::OK,
        &CodesPage {
            ctx,
            heading,
            codes,
        },
        &ctx.nonce,
    ))
}

/// `POST /account/two-step/setup`: a new secret, shown with its QR code and a field for the
/// first code (`password`: the current one, past the recent sign-in window).
pub async fn setup(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, form) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    let password = form.password.as_deref().filter(|p| !p.is_empty());
    let started = state
        .keycard
        .mfa()
        .start_totp(&who, password, &state.config.brand.name, &client)
        .await;
    let enrolment = match started {
        Ok(e) => e,
        Err(e @ (Error::Invalid { .. } | Error::ReauthenticationRequired)) => {
            return refused(&ctx, &e);
        }
        Err(Error::MfaAlreadyEnabled) => return Redirect::to("/account").into_response(),
        Err(e) => return error_page(&state, ctx, e),
    };
    let svg = match qr_svg(&enrolment.otpauth_uri) {
        // Inline in HTML, the XML declaration has no place.
        Ok(s) => s[s.find("<svg").unwrap_or(0)..].to_owned(),
        Err(e) => return error_page(&state, ctx, e),
    };
    let csrf = form.csrf.unwrap_or_default();
    setup_page(&ctx, &csrf, &svg, &enrolment.secret, None)
}

fn setup_page(
    ctx: &PageCtx,
    csrf: &str,
    svg: &str,
    secret: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    no_store(render(
        status,
        &SetupPage {
            ctx,
            csrf,
            qr_svg: svg,
            secret: &grouped(secret),
            error: error.map(|(_, m)| m),
        },
        &ctx.nonce,
    ))
}

/// `POST /account/two-step/confirm`: the app's first code turns it on; the recovery codes are
/// shown this once.
pub async fn confirm(
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
    let code = form.code.as_deref().unwrap_or_default();
    match state.keycard.mfa().confirm_totp(&who, code, &client).await {
        Ok(codes) => codes_page(&ctx, ctx.t("two_step.enabled_heading"), &codes),
        Err(Error::Invalid { .. }) => notice_linking(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "two-step-wrong-code",
            (ctx.t("two_step.heading"), ctx.t("two_step.wrong_code")),
            ("/account", ctx.t("verify.to_account")),
        ),
        Err(Error::MfaNotEnabled | Error::MfaAlreadyEnabled) => {
            Redirect::to("/account").into_response()
        }
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/two-step/recovery-codes`: new recovery codes in place of the old ones.
pub async fn new_codes(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    client.locale = Some(ctx.m.lang.to_owned());
    match state
        .keycard
        .mfa()
        .regenerate_recovery_codes(&who, &client)
        .await
    {
        Ok(codes) => codes_page(&ctx, ctx.t("two_step.new_codes_heading"), &codes),
        Err(e @ Error::ReauthenticationRequired) => refused(&ctx, &e),
        Err(Error::MfaNotEnabled) => Redirect::to("/account").into_response(),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/two-step/remove`: turns two-step verification off.
pub async fn remove(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    client.locale = Some(ctx.m.lang.to_owned());
    match state.keycard.mfa().remove_totp(&who, &client).await {
        Ok(()) | Err(Error::MfaNotEnabled) => Redirect::to("/account").into_response(),
        Err(e @ Error::ReauthenticationRequired) => refused(&ctx, &e),
        Err(e) => error_page(&state, ctx, e),
    }
}
