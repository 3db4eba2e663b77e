//! Keycard as OpenID Provider over HTTP: discovery, the authorization endpoint with its consent
//! page, the token endpoint and userinfo, under `/oauth2/`.

mod authorize;
mod discovery;
mod logout;
mod params;
mod token;

pub(crate) use authorize::answer_origin;

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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route(
            AUTHORIZE_PATH,
            get(authorize::authorize).post(authorize::authorize_post),
        )
        .route(CONSENT_PATH, post(authorize::consent))
        .route(TOKEN_PATH, post(token::token))
        .route(USERINFO_PATH, get(token::userinfo).post(token::userinfo))
        .route(REVOCATION_PATH, post(token::revoke))
        .route(INTROSPECTION_PATH, post(token::introspect))
        .route(
            END_SESSION_PATH,
            get(logout::end_session).post(logout::end_session),
        )
}
