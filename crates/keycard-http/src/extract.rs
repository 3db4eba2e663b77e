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
use std::net::SocketAddr;

/// `axum::Json`, but a bad body becomes a 400 problem instead of axum's plain-text rejection.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
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
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for")?.to_str().ok())
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
