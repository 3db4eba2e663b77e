//! Second factors: the second step of a password sign-in, and setting up or removing the
//! authenticator app and its recovery codes.

use crate::dto::{TokenDelivery, TokenResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{AppJson, Authenticated, Client};
use crate::routes::auth::{optional_json, signed_in};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use keycard_core::mfa::{MfaRequired, MfaStatus, SecondStep};
use keycard_core::sessions::SessionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The answer of `POST /v1/auth/login` for an account with a second factor: no tokens yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallengeResponse {
    /// Always true.
    pub mfa_required: bool,
    /// Sent back with the code to `POST /v1/auth/mfa`; single use, valid for `expires_in`
    /// seconds and five wrong codes.
    pub challenge_id: String,
    /// What completes it: `totp` (a code from the authenticator app), `recovery_code`.
    pub methods: Vec<&'static str>,
    pub expires_in: i64,
}

impl From<MfaRequired> for MfaChallengeResponse {
    fn from(m: MfaRequired) -> Self {
        Self {
            mfa_required: true,
            challenge_id: m.challenge_id,
            methods: m.methods,
            expires_in: m.expires_in,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    pub challenge_id: String,
    /// Six digits from the authenticator app, or a recovery code (`xxxxx-xxxxx`)…
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// …or a passkey's answer to the ceremony `POST /v1/auth/mfa/passkey` started.
    pub passkey: Option<crate::routes::passkeys::PasskeyAnswer>,
    #[serde(default)]
    pub token_delivery: TokenDelivery,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaPasskeyRequest {
    pub challenge_id: String,
}

/// The account's second factors, in `GET /v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaView {
    /// Whether a password sign-in asks for a second step.
    pub enabled: bool,
    /// The authenticator app, when set up.
    pub totp: Option<TotpView>,
    pub recovery_codes_left: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpView {
    #[serde(with = "time::serde::rfc3339")]
    pub enabled_at: time::OffsetDateTime,
}

impl From<MfaStatus> for MfaView {
    fn from(s: MfaStatus) -> Self {
        Self {
            enabled: s.enabled(),
            totp: s.totp.map(|enabled_at| TotpView { enabled_at }),
            recovery_codes_left: s.recovery_codes_left,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartTotpRequest {
    /// Needed unless the session signed in within the last 10 minutes (and accepted only for
    /// an account without a second factor yet).
    #[schema(format = Password)]
    pub current_password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code carries.
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The app's current code.
    #[schema(example = "123456")]
    pub code: String,
}

/// Recovery codes, shown this once: each signs in once in place of the app's code.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    pub recovery_codes: Vec<String>,
}

/// An inline SVG QR code of `text`.
pub(crate) fn qr_svg(text: &str) -> Result<String, Error> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| Error::Internal(format!("QR: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

#[utoipa::path(post, path = "/v1/auth/mfa", tag = "auth",
    request_body = MfaRequest,
    responses(
        (status = 200, description = "Signed in: the session's `amr` holds `mfa` (and `otp` for the app's code)", body = TokenResponse),
        (status = 422, description = "Neither or both of `code` and `passkey` (`code_or_passkey`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong, spent or out-of-window code (`invalid_mfa_code`), a passkey answer that proves nothing (`invalid_passkey`), or a challenge that is unknown, spent, expired or failed five times (`invalid_mfa_challenge`: sign in again)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes on this account (`account_locked`) or from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    AppJson(req): AppJson<MfaRequest>,
) -> ApiResult<Response> {
    let step = match (req.code, req.passkey) {
        (Some(code), None) => SecondStep::Code(code),
        (None, Some(p)) => SecondStep::Passkey {
            ceremony_id: p.ceremony_id,
            credential: p.credential,
        },
        _ => {
            return Err(Error::invalid(
                "code",
                "code_or_passkey",
                "send either a code or a passkey answer",
            )
            .into());
        }
    };
    let s = state
        .keycard
        .mfa()
        .complete(&req.challenge_id, step, SessionKind::Api, &client)
        .await?;
    let identities = state.keycard.social().identities_of(s.user.id).await?;
    Ok(signed_in(
        jar,
        StatusCode::OK,
        s,
        req.token_delivery,
        &identities,
    ))
}

#[utoipa::path(post, path = "/v1/auth/mfa/passkey", tag = "auth",
    request_body = MfaPasskeyRequest,
    responses(
        (status = 200, description = "A passkey ceremony for the second step, with the account's passkeys: pass `options` to `navigator.credentials.get()`, then send the answer to `POST /v1/auth/mfa` as `passkey`", body = crate::routes::passkeys::CeremonyResponse),
        (status = 401, description = "Unknown, spent or expired challenge (`invalid_mfa_challenge`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are off on this server (`passkeys_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has no passkey (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many passkey ceremonies started from this network (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn passkey_options(
    State(state): State<AppState>,
    Client(client): Client,
    AppJson(req): AppJson<MfaPasskeyRequest>,
) -> ApiResult<Json<crate::routes::passkeys::CeremonyResponse>> {
    let started = state
        .keycard
        .mfa()
        .passkey_options(&req.challenge_id, &client)
        .await?;
    Ok(Json(started.into()))
}

#[utoipa::path(post, path = "/v1/me/mfa/totp", tag = "me",
    security(("bearer" = [])),
    request_body(content = Option<StartTotpRequest>, description = "May be empty after a recent sign-in"),
    responses(
        (status = 201, description = "A new secret, waiting for its first code (15 minutes)", body = TotpEnrolmentResponse),
        (status = 403, description = "Sign in again first (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator app is already set up (`mfa_already_enabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for the account or from the network: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start_totp(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    body: Bytes,
) -> ApiResult<Response> {
    let req: StartTotpRequest = optional_json(&body)?;
    let e = state
        .keycard
        .mfa()
        .start_totp(
            &who,
            req.current_password.as_deref(),
            &state.config.brand.name,
            &client,
        )
        .await?;
    let body = TotpEnrolmentResponse {
        qr_svg: qr_svg(&e.otpauth_uri)?,
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(post, path = "/v1/me/mfa/totp/confirm", tag = "me",
    security(("bearer" = [])),
    request_body = ConfirmTotpRequest,
    responses(
        (status = 200, description = "Set up: password sign-ins now ask for a code. The recovery codes are shown this once", body = RecoveryCodesResponse),
        (status = 422, description = "Not the app's current code (`invalid_mfa_code` on the field `code`); the secret stays waiting", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing waiting to be confirmed (`mfa_not_enabled`), or already set up", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    AppJson(req): AppJson<ConfirmTotpRequest>,
) -> ApiResult<Json<RecoveryCodesResponse>> {
    let codes = state
        .keycard
        .mfa()
        .confirm_totp(&who, &req.code, &client)
        .await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes,
    }))
}

#[utoipa::path(delete, path = "/v1/me/mfa/totp", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed, with the recovery codes"),
        (status = 403, description = "Sign in again, through the second step, first (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No authenticator app is set up (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_totp(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
) -> ApiResult<StatusCode> {
    state.keycard.mfa().remove_totp(&who, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/me/mfa/recovery-codes", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "New recovery codes, shown this once; the old ones no longer work", body = RecoveryCodesResponse),
        (status = 403, description = "Sign in again first (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No second factor is set up (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
) -> ApiResult<Json<RecoveryCodesResponse>> {
    let codes = state
        .keycard
        .mfa()
        .regenerate_recovery_codes(&who, &client)
        .await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes,
    }))
}
