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

/// The client address in `X-Forwarded-For` behind `hops` trusted proxies: each appends the
/// address it received the request from, so the client is the entry `hops` places from the
/// right; everything left of it was written by the client and proves nothing. Several header
/// lines are one list, in order (a proxy may add a line of its own instead of appending).
fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<String> {
    let mut entries = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        entries.extend(line.to_str().ok()?.split(',').map(str::trim));
    }
    let index = entries.len().checked_sub(hops.max(1))?;
    let client = entries.get(index)?;
    client
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
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
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| forwarded_client(&parts.headers, state.config.trusted_proxy_hops))
            .flatten();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_UA_LEN).collect());
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(Self(ClientInfo {
            ip: forwarded.or(peer),
            user_agent,
            locale: Some(
                crate::pages::i18n::Messages::negotiate(None, accept)
                    .lang
                    .to_owned(),
            ),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", HeaderValue::from_str(l).unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_as_many_entries_from_the_right_as_there_are_trusted_proxies() {
        let h = headers(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("203.0.113.9"));
        // A CDN appended the client, the load balancer appended the CDN's edge.
        let h = headers(&["6.6.6.6, 203.0.113.9, 198.51.100.1"]);
        assert_eq!(forwarded_client(&h, 2).as_deref(), Some("203.0.113.9"));
        // A proxy that adds a line of its own: the lines are one list.
        let h = headers(&["6.6.6.6", "203.0.113.9"]);
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("203.0.113.9"));
        // Fewer entries than proxies, or garbage where the client should be: no address.
        assert_eq!(forwarded_client(&headers(&["203.0.113.9"]), 2), None);
        assert_eq!(forwarded_client(&headers(&["6.6.6.6, junk"]), 1), None);
        assert_eq!(forwarded_client(&HeaderMap::new(), 1), None);
    }
}
