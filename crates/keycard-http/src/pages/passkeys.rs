//! Passkeys on the pages: signing in with one from `/login` (the script there runs the
//! ceremony and posts the answer here as a form), and adding and removing them on `/account`.

use super::account::account_form;
use super::login::{
    SignInForm, checked_form, error_page, login_page, signed_in_response, with_retry_after,
};
use super::two_step::refused_in;
use super::verify::notice_linking;
use crate::error::ApiError;
use crate::extract::Client;
use crate::routes::passkeys::CeremonyResponse;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;

/// The authenticator's answer as the form carried it.
fn credential(form: &SignInForm) -> serde_json::Value {
    form.credential
        .as_deref()
        .filter(|c| c.len() <= 64 * 1024)
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// `POST /login/passkey`.
pub async fn sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, form, return_to) = match checked_form(&state, &headers, &jar, form, "login", None) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let ceremony = form.ceremony_id.as_deref().unwrap_or_default();
    let done = state
        .keycard
        .browser()
        .passkey(ceremony, &credential(&form), &client)
        .await;
    match done {
        Ok(s) => signed_in_response(&state, jar, s, &return_to),
        Err(e) => {
            let message = match &e {
                Error::InvalidPasskey | Error::PasskeysUnavailable => {
                    (StatusCode::UNAUTHORIZED, ctx.t("login.passkey_failed"))
                }
                Error::AccountDisabled => (StatusCode::FORBIDDEN, ctx.t("login.disabled")),
                Error::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, ctx.t("login.locked")),
                _ => return error_page(&state, ctx, e),
            };
            let csrf = form.csrf.unwrap_or_default();
            let page = login_page(&state, &ctx, &csrf, &return_to, "", Some(message)).await;
            with_retry_after(page, &e)
        }
    }
}

/// `POST /account/passkeys/begin` (from the account page's script): the ceremony as JSON, or a
/// problem (`reauthentication_required` past the recent sign-in window).
pub async fn begin(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (_, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    match state
        .keycard
        .passkeys()
        .begin_registration(&who, &client)
        .await
    {
        Ok(started) => Json(CeremonyResponse::from(started)).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /account/passkeys`: the new passkey's answer, and its name.
pub async fn add(
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
    let ceremony = form.ceremony_id.as_deref().unwrap_or_default();
    match state
        .keycard
        .passkeys()
        .finish_registration(
            &who,
            ceremony,
            &credential(&form),
            form.name.as_deref(),
            &client,
        )
        .await
    {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(Error::PasskeyRejected | Error::Invalid { .. }) => notice_linking(
            &ctx,
            StatusCode::BAD_REQUEST,
            "passkey-refused",
            (ctx.t("passkeys.heading"), ctx.t("passkeys.add_failed")),
            ("/account", ctx.t("verify.to_account")),
        ),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/passkeys/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error_page(&state, ctx, Error::NotFound);
    };
    match state.keycard.passkeys().remove(&who, id, &client).await {
        Ok(()) | Err(Error::NotFound) => Redirect::to("/account").into_response(),
        Err(e @ Error::ReauthenticationRequired) => refused_in(&ctx, ctx.t("passkeys.heading"), &e),
        Err(e) => error_page(&state, ctx, e),
    }
}
