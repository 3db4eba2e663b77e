//! Request extractors: JSON with problem+json rejections, the bearer principal, client info.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use keycard_core::error::AuthFailure;
use keycard_core::service::Principal;
use keycard_core::{ClientInfo, Error};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// `axum::Json`, but a bad body becomes a 400 problem instead of axum's plain-text rejection,
/// and only a JSON *object* is a body (serde would also read a struct from an array).
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        body_object(value).map(AppJson)
    }
}

/// Reads a request body that must be a JSON object into `T`.
pub fn body_object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::Malformed("the body must be a JSON object".into()));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::Malformed(format!("invalid JSON body: {e}")))
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        // A body cut off by the size limit while being read (sent chunked, so not refused up
        // front by its Content-Length) is too large, not malformed.
        if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::Http {
                status: r.status(),
                detail: r.body_text(),
            };
        }
        ApiError::Malformed(r.body_text())
    }
}

/// The caller of a protected endpoint: a valid access token whose session is still active.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        Ok(Self(state.keycard.authenticate(token).await?))
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Client IP and User-Agent, for sessions and audit events.
pub struct Client(pub ClientInfo);

const MAX_UA_LEN: usize = 512;

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        // Only the rightmost hop was added by our proxy; anything left of it is client-supplied.
        // A proxy may add a header line of its own rather than append to the client's: the last
        // line then holds its hop, and the first one whatever the client sent.
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .next_back()?
                    .to_str()
                    .ok()
            })
            .flatten()
            .and_then(|v| v.rsplit(',').next())
            .map(|s| s.trim().to_owned())
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_UA_LEN).collect());
        Ok(Self(ClientInfo {
            ip: forwarded.or(peer),
            user_agent,
        }))
    }
}
