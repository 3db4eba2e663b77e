//! Email verification over the API: following a link's token, and asking for a new link.

use crate::error::{ApiResult, Problem};
use crate::extract::{AppJson, Authenticated, Client};
use crate::pages::i18n::Messages;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The `token` of the link in the mail (`kcev_…`).
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailVerified {
    pub email_verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationSent {
    /// A new link is on its way; earlier ones still hold until they expire.
    pub sent: bool,
}

/// The language of a mail asked for over the API: the caller's `Accept-Language`.
pub(crate) fn mail_language(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Messages::negotiate(None, accept).lang
}

#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address the link was mailed to is verified", body = EmailVerified),
        (status = 400, description = "The link was used, has expired, was for an address the account no longer has, or never existed (`invalid_verification_token`, one answer for all). Also follows the link that confirms a new address (`kcec_…`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many links tried from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    AppJson(req): AppJson<VerifyEmailRequest>,
) -> ApiResult<Json<EmailVerified>> {
    state
        .keycard
        .verification()
        .verify(&req.token, &client)
        .await?;
    Ok(Json(EmailVerified {
        email_verified: true,
    }))
}

#[utoipa::path(post, path = "/v1/auth/verify-email/resend", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A new verification link is mailed to the account's address", body = VerificationSent),
        (status = 409, description = "The address is already verified (`already_verified`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The account has no address (`no_email`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "A link was mailed less than a minute ago, or too many links were asked for from this network or for this address (`rate_limited`, the allowance password resets share); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resend(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(mut client): Client,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<VerificationSent>)> {
    client.locale = Some(mail_language(&headers).to_owned());
    state.keycard.verification().resend(&who, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(VerificationSent { sent: true })))
}
