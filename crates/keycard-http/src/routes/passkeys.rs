//! Passkeys: adding, naming, listing and removing them, and signing in with one.

use crate::dto::{TokenDelivery, TokenResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{AppJson, Authenticated, Client};
use crate::routes::auth::signed_in;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use keycard_core::passkeys::{CeremonyStart, PasskeyInfo};
use keycard_core::sessions::SessionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A ceremony to run in the browser (or the platform's passkey API).
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyResponse {
    /// Sent back with the authenticator's answer; single use, five minutes.
    pub ceremony_id: String,
    /// `{publicKey: …}`: what `navigator.credentials.create()` or `.get()` takes (binary
    /// fields base64url-encoded).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<CeremonyStart> for CeremonyResponse {
    fn from(c: CeremonyStart) -> Self {
        Self {
            ceremony_id: c.ceremony_id,
            options: c.options,
        }
    }
}

/// An authenticator's answer to a ceremony.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` as JSON (`toJSON()`: binary fields base64url-encoded).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPasskeyRequest {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create()` as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// What to call it ("Work laptop"); 1 to 64 characters, `Passkey` by default.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskeyRequest {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInRequest {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get()` as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    #[serde(default)]
    pub token_delivery: TokenDelivery,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    /// Synced across the owner's devices by their platform (backup eligible).
    pub synced: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            name: p.name,
            synced: p.synced,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

#[utoipa::path(get, path = "/v1/me/passkeys", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's passkeys, oldest first", body = PasskeyList),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<PasskeyList>> {
    let all = state.keycard.passkeys().list(&who).await?;
    Ok(Json(PasskeyList {
        passkeys: all.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/me/passkeys/registration", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A registration ceremony: pass `options` to `navigator.credentials.create()`, then send the answer to `POST /v1/me/passkeys`", body = CeremonyResponse),
        (status = 403, description = "Sign in again first (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are off on this server (`passkeys_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn begin_registration(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
) -> ApiResult<Json<CeremonyResponse>> {
    let started = state
        .keycard
        .passkeys()
        .begin_registration(&who, &client)
        .await?;
    Ok(Json(started.into()))
}

#[utoipa::path(post, path = "/v1/me/passkeys", tag = "me",
    security(("bearer" = [])),
    request_body = AddPasskeyRequest,
    responses(
        (status = 201, description = "Added; it signs in from now on", body = PasskeyView),
        (status = 404, description = "Passkeys are off on this server (`passkeys_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "The ceremony is unknown, spent or expired, or the answer does not verify (`passkey_rejected`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name that is empty after trimming, too long or with control characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    AppJson(req): AppJson<AddPasskeyRequest>,
) -> ApiResult<Response> {
    let added = state
        .keycard
        .passkeys()
        .finish_registration(
            &who,
            &req.ceremony_id,
            &req.credential,
            req.name.as_deref(),
            &client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(PasskeyView::from(added))).into_response())
}

#[utoipa::path(patch, path = "/v1/me/passkeys/{id}", tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The passkey")),
    request_body = RenamePasskeyRequest,
    responses(
        (status = 200, description = "Renamed", body = PasskeyView),
        (status = 400, description = "The id is not a UUID (`malformed_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name that is empty after trimming, too long or with control characters (`invalid_name`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such passkey on this account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<Uuid>,
    AppJson(req): AppJson<RenamePasskeyRequest>,
) -> ApiResult<Json<PasskeyView>> {
    let p = state.keycard.passkeys().rename(&who, id, &req.name).await?;
    Ok(Json(p.into()))
}

#[utoipa::path(delete, path = "/v1/me/passkeys/{id}", tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The passkey")),
    responses(
        (status = 204, description = "Removed: it signs in no more"),
        (status = 400, description = "The id is not a UUID (`malformed_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sign in again first (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such passkey on this account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.keycard.passkeys().remove(&who, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/auth/passkey/begin", tag = "auth",
    responses(
        (status = 200, description = "A sign-in ceremony for a discoverable passkey (no address needed): pass `options` to `navigator.credentials.get()` (its `mediation: \"conditional\"` lets the browser offer passkeys in the email field's autofill), then send the answer to `POST /v1/auth/passkey/finish`", body = CeremonyResponse),
        (status = 404, description = "Passkeys are off on this server (`passkeys_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ins started from this network (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn begin_sign_in(
    State(state): State<AppState>,
    Client(client): Client,
) -> ApiResult<Json<CeremonyResponse>> {
    let started = state.keycard.passkeys().begin_sign_in(&client).await?;
    Ok(Json(started.into()))
}

#[utoipa::path(post, path = "/v1/auth/passkey/finish", tag = "auth",
    request_body = PasskeySignInRequest,
    responses(
        (status = 200, description = "Signed in, with two factors at once (`amr`: `hwk`, or `swk` for a synced passkey, and `mfa`)", body = TokenResponse),
        (status = 401, description = "The answer proves nothing: unknown passkey, another origin or relying party, a bad signature, a counter gone back, a spent or expired ceremony (`invalid_passkey`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are off on this server (`passkeys_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn finish_sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    AppJson(req): AppJson<PasskeySignInRequest>,
) -> ApiResult<Response> {
    let s = state
        .keycard
        .passkeys()
        .finish_sign_in(&req.ceremony_id, &req.credential, SessionKind::Api, &client)
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
