//! `POST /oauth2/device_authorization` (RFC 8628 §3.1): a device without a browser asks for a
//! code to show, with the URL the person opens on a phone (and a QR code of it).

use super::token::authenticated_form;
use crate::error::ApiResult;
use crate::extract::Client;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keycard_core::devices::codes;
use serde_json::json;

#[utoipa::path(post, path = "/oauth2/device_authorization", tag = "openid",
    request_body(content = super::docs::DeviceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The codes (RFC 8628 §3.2); poll the token endpoint with grant_type urn:ietf:params:oauth:grant-type:device_code", body = super::docs::DeviceAnswer),
        (status = 400, description = "The app may not use the device grant, or a scope is not allowed (RFC 6749 §5.2)", body = super::docs::OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = super::docs::OAuthErrorBody),
        (status = 429, description = "Too many device sign-ins started from this network (`rate_limited`); see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn device_authorization(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Response> {
    let (form, client) = authenticated_form(&state, &headers, &body).await?;
    let started = state
        .keycard
        .devices()
        .start(&client, form.get("scope").map(String::as_str), &by)
        .await?;
    let base = state.config.public_url.trim_end_matches('/');
    let shown = codes::display(&started.user_code);
    let resp = Json(json!({
        "device_code": started.device_code,
        "user_code": shown,
        "verification_uri": format!("{base}/device"),
        "verification_uri_complete": format!("{base}/device?user_code={}", started.user_code),
        "qr_code_uri": format!("{base}/device/qr?user_code={}", started.user_code),
        "expires_in": started.expires_in,
        "interval": started.interval,
    }))
    .into_response();
    Ok(super::no_store(resp))
}
