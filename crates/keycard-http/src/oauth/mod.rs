//! Keycard as OpenID Provider over HTTP: discovery, the authorization endpoint with its consent
//! page, the token endpoint and userinfo, under `/oauth2/`.

mod authorize;
pub(crate) mod device;
pub(crate) mod discovery;
mod docs;
mod logout;
mod params;
pub(crate) mod token;

pub(crate) use authorize::answer_origin;

/// `Cache-Control: no-store` (RFC 6749 §5.1 for token answers; every page or answer that
/// carries a code, a token or a form bound to one request).
pub(crate) fn no_store(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h.insert(
        axum::http::header::PRAGMA,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    resp
}

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const CONSENT_PATH: &str = "/oauth2/consent";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
pub const INTROSPECTION_PATH: &str = "/oauth2/introspect";
pub const END_SESSION_PATH: &str = "/oauth2/logout";
pub const DEVICE_AUTHORIZATION_PATH: &str = "/oauth2/device_authorization";

/// The navigations: pages and redirects, not part of the JSON API's document. The JSON
/// endpoints (discovery, token, userinfo, revocation, introspection) are in the API router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            AUTHORIZE_PATH,
            get(authorize::authorize).post(authorize::authorize_post),
        )
        .route(CONSENT_PATH, post(authorize::consent))
        .route(
            END_SESSION_PATH,
            get(logout::end_session).post(logout::end_session),
        )
}
