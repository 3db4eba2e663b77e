//! Changing the account's address over the API: asking (the link goes to the new address),
//! confirming with its token, and undoing from the old address.

use crate::error::{ApiResult, Problem};
use crate::extract::{AppJson, Authenticated, Client};
use crate::routes::verification::mail_language;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    pub new_email: String,
    /// Needed unless this session signed in within the last 10 minutes.
    pub current_password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeEmailSent {
    /// A link is on its way to the new address; the account keeps its address until it is
    /// followed.
    pub sent: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeToken {
    /// The `token` of the link in the mail (`kcec_…` to confirm, `kceu_…` to undo).
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChanged {
    /// The account's address now, verified.
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChangeUndone {
    /// Every session of the account ended with the undo.
    pub sessions_ended: u64,
}

#[utoipa::path(post, path = "/v1/me/email", tag = "me",
    security(("bearer" = [])),
    request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "A confirmation link is mailed to the new address (in the language of `Accept-Language`); the account's address changes when it is followed", body = ChangeEmailSent),
        (status = 403, description = "This session signed in over 10 minutes ago and no `current_password` was given, or the account has a second factor and this session did not sign in through it within 10 minutes (the password alone is then not enough) (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another account has this address (`email_taken`; not with `KEYCARD_SIGNUP_DISCLOSURE=hidden`, which answers 202 and mails nothing)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an address (`invalid_email`), the account's own (`same_email`), or a wrong `current_password` (`invalid_current_password`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "A change was asked for a moment ago, or too many wrong `current_password`s for the account or from the network (`rate_limited`, as wrong sign-in passwords); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_change(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(mut client): Client,
    headers: HeaderMap,
    AppJson(req): AppJson<ChangeEmailRequest>,
) -> ApiResult<(StatusCode, Json<ChangeEmailSent>)> {
    client.locale = Some(mail_language(&headers).to_owned());
    state
        .keycard
        .email_change()
        .request(
            &who,
            &req.new_email,
            req.current_password.as_deref(),
            &client,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(ChangeEmailSent { sent: true })))
}

#[utoipa::path(post, path = "/v1/auth/email-change/confirm", tag = "auth",
    request_body = EmailChangeToken,
    responses(
        (status = 200, description = "The new address is the account's, verified; the old one is mailed a link that undoes the change for 7 days", body = EmailChanged),
        (status = 400, description = "The link was used, has expired, was overtaken by another change, or never existed (`invalid_email_change_token`, one answer for all)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another account took the address meanwhile (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many links tried from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    AppJson(req): AppJson<EmailChangeToken>,
) -> ApiResult<Json<EmailChanged>> {
    client.locale = Some(mail_language(&headers).to_owned());
    let email = state
        .keycard
        .email_change()
        .confirm(&req.token, &client)
        .await?;
    Ok(Json(EmailChanged { email }))
}

#[utoipa::path(post, path = "/v1/auth/email-change/undo", tag = "auth",
    request_body = EmailChangeToken,
    responses(
        (status = 200, description = "The old address is the account's again and every session ended; choose a new password next", body = EmailChangeUndone),
        (status = 400, description = "The link was used, has expired, was overtaken, or never existed (`invalid_email_change_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another account took the old address meanwhile (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many links tried from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn undo(
    State(state): State<AppState>,
    Client(client): Client,
    AppJson(req): AppJson<EmailChangeToken>,
) -> ApiResult<Json<EmailChangeUndone>> {
    let sessions_ended = state
        .keycard
        .email_change()
        .undo(&req.token, &client)
        .await?;
    Ok(Json(EmailChangeUndone { sessions_ended }))
}
