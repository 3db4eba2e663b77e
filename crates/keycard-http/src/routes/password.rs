//! Getting back in without the password: asking for a reset link, and setting a new password
//! with its token.

use crate::error::{ApiResult, Problem};
use crate::extract::{AppJson, Client};
use crate::routes::verification::mail_language;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForgotAccepted {
    /// Always true: the answer is the same whether or not the address has an account. If it
    /// has one (and it is not disabled), a link is on its way.
    pub accepted: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The `token` of the link in the mail (`kcpr_…`).
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordWasReset {
    /// Sessions of the account the reset ended (all of them, apps' grants included).
    pub sessions_ended: u64,
}

#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "auth",
    request_body = ForgotRequest,
    responses(
        (status = 202, description = "Taken. The same answer, in the same time, whether or not the address has an account; if it has, a reset link is mailed (in the language of `Accept-Language`)", body = ForgotAccepted),
        (status = 422, description = "Not an email address (`invalid_email`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this network or for this address (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn forgot(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    AppJson(req): AppJson<ForgotRequest>,
) -> ApiResult<(StatusCode, Json<ForgotAccepted>)> {
    client.locale = Some(mail_language(&headers).to_owned());
    state
        .keycard
        .password_reset()
        .request(&req.email, &client)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ForgotAccepted { accepted: true }),
    ))
}

#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "auth",
    request_body = ResetRequest,
    responses(
        (status = 200, description = "The new password is set; every session of the account ended (apps told by back-channel logout), the address is verified, its sign-in failures are forgotten, and a notice is mailed", body = PasswordWasReset),
        (status = 400, description = "The link was used, has expired, was replaced by a later reset, or never existed (`invalid_reset_token`, one answer for all)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks the policy (`password_too_short`, `password_too_common`…); the link still holds", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many links tried from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reset(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    AppJson(req): AppJson<ResetRequest>,
) -> ApiResult<Json<PasswordWasReset>> {
    client.locale = Some(mail_language(&headers).to_owned());
    let sessions_ended = state
        .keycard
        .password_reset()
        .reset(&req.token, &req.new_password, &client)
        .await?;
    Ok(Json(PasswordWasReset { sessions_ended }))
}
