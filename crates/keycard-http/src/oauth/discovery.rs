//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).

use super::{
    AUTHORIZE_PATH, DEVICE_AUTHORIZATION_PATH, END_SESSION_PATH, INTROSPECTION_PATH,
    REVOCATION_PATH, TOKEN_PATH, USERINFO_PATH,
};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "openid",
    responses((status = 200, description = "OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2)", content_type = "application/json")))]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    metadata(&state)
}

/// The same document at RFC 8414's name.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "openid",
    responses((status = 200, description = "The provider metadata, as at /.well-known/openid-configuration", content_type = "application/json")))]
pub async fn authorization_server(State(state): State<AppState>) -> Response {
    metadata(&state)
}

fn metadata(state: &AppState) -> Response {
    let issuer = state.keycard.policy().issuer.clone();
    let base = state.config.public_url.trim_end_matches('/');
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{base}{USERINFO_PATH}"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{base}{REVOCATION_PATH}"),
        "end_session_endpoint": format!("{base}{END_SESSION_PATH}"),
        "device_authorization_endpoint": format!("{base}{DEVICE_AUTHORIZATION_PATH}"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{base}{INTROSPECTION_PATH}"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA", "ES256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid", "azp",
            "at_hash", "name", "picture", "email", "email_verified",
        ],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "acr_values_supported": [
            keycard_core::sessions::ACR_ONE_FACTOR,
            keycard_core::sessions::ACR_MULTI_FACTOR,
        ],
        "ui_locales_supported": crate::pages::i18n::languages(),
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
    });
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}
