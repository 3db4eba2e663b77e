//! The token endpoint (RFC 6749 §3.2) and userinfo (OpenID Connect Core §5.3).

use super::{no_store, params};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Client, bearer};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use keycard_core::Error;
use keycard_core::error::AuthFailure;
use keycard_core::oidc::{ClientAuth, OAuthError, TokenRequest};
use serde_json::json;

fn invalid(why: &str) -> ApiError {
    Error::OAuth(OAuthError::request(why)).into()
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-encoded) or
/// the body; both at once is refused.
fn client_auth(
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> ApiResult<ClientAuth> {
    // RFC 7235 §2.1: the scheme is case-insensitive.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, creds)| creds);
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    if let Some(b64) = basic {
        if body_secret.is_some() {
            return Err(invalid("use one client authentication method, not two"));
        }
        let bad = || -> ApiError {
            Error::OAuth(OAuthError::new(
                keycard_core::oidc::OAuthCode::InvalidClient,
                "malformed Basic credentials",
            ))
            .into()
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
        // RFC 6749 §2.3.1: each part is form-urlencoded; a raw `&` or `=` is still itself.
        let dec = |s: &str| {
            let escaped = s.replace('&', "%26").replace('=', "%3D");
            url::form_urlencoded::parse(format!("x={escaped}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (dec(id), dec(secret));
        if body_id.is_some_and(|b| *b != id) {
            return Err(invalid("client_id differs from the authenticated client"));
        }
        return Ok(ClientAuth::Secret { id, secret });
    }
    Ok(match (body_id, body_secret) {
        (Some(id), Some(secret)) => ClientAuth::Secret {
            id: id.clone(),
            secret: secret.clone(),
        },
        (Some(id), None) => ClientAuth::Id(id.clone()),
        _ => ClientAuth::Missing,
    })
}

/// `POST /oauth2/token`.
#[utoipa::path(post, path = "/oauth2/token", tag = "openid",
    request_body(content = super::docs::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1); `Cache-Control: no-store`", body = super::docs::TokenAnswer),
        (status = 400, description = "The request, grant or scope is refused (RFC 6749 §5.2)", body = super::docs::OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = super::docs::OAuthErrorBody),
    ))]
pub async fn token(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    match token_inner(&state, &by, &headers, &body).await {
        Ok(r) => r,
        Err(e) => no_store(e.into_response()),
    }
}

async fn token_inner(
    state: &AppState,
    by: &keycard_core::service::ClientInfo,
    headers: &HeaderMap,
    body: &str,
) -> ApiResult<Response> {
    let (form, client) = authenticated_form(state, headers, body).await?;
    let provider = state.keycard.provider();
    let req = TokenRequest {
        grant_type: form.get("grant_type").cloned(),
        code: form.get("code").cloned(),
        redirect_uri: form.get("redirect_uri").cloned(),
        code_verifier: form.get("code_verifier").cloned(),
        refresh_token: form.get("refresh_token").cloned(),
        scope: form.get("scope").cloned(),
        device_code: form.get("device_code").cloned(),
    };
    let t = provider.token(&client, &req, by).await?;
    let mut body = json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    });
    if let Some(r) = &t.refresh_token {
        body["refresh_token"] = r.expose().into();
    }
    if let Some(id) = &t.id_token {
        body["id_token"] = id.clone().into();
    }
    Ok(no_store(Json(body).into_response()))
}

/// The form of a client's request to the protocol endpoints, and the client it authenticates
/// as.
pub(crate) async fn authenticated_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &str,
) -> ApiResult<(
    std::collections::HashMap<String, String>,
    keycard_core::oidc::Client,
)> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(invalid(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = params::unique(params::decode(body))
        .map_err(|k| invalid(&format!("the parameter {k} is repeated")))?;
    let auth = client_auth(headers, &form)?;
    let client = state.keycard.provider().authenticate_client(&auth).await?;
    Ok((form, client))
}

/// `POST /oauth2/revoke` (RFC 7009): 200 whether or not there was anything to revoke.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "openid",
    request_body(content = super::docs::TokenForm2, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing of this client's to revoke: the grant of the token ends, refresh and access tokens alike"),
        (status = 400, description = "No token (`invalid_request`)", body = super::docs::OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = super::docs::OAuthErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Response> {
    let (form, client) = authenticated_form(&state, &headers, &body).await?;
    let token = form
        .get("token")
        .ok_or_else(|| invalid("token is missing"))?;
    state.keycard.provider().revoke(&client, token, &by).await?;
    Ok(no_store(axum::http::StatusCode::OK.into_response()))
}

/// `POST /oauth2/introspect` (RFC 7662), for resource servers registered as confidential
/// clients.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "openid",
    request_body(content = super::docs::TokenForm2, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Whether an app's access token is active, and its claims", body = super::docs::Introspection),
        (status = 400, description = "No token, or a public client asking (`invalid_request`, `unauthorized_client`)", body = super::docs::OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = super::docs::OAuthErrorBody),
    ))]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Response> {
    let (form, client) = authenticated_form(&state, &headers, &body).await?;
    if client.kind != keycard_core::oidc::ClientKind::Confidential {
        return Err(Error::OAuth(OAuthError::new(
            keycard_core::oidc::OAuthCode::UnauthorizedClient,
            "only confidential clients may introspect tokens",
        ))
        .into());
    }
    let token = form
        .get("token")
        .ok_or_else(|| invalid("token is missing"))?;
    let answer = state.keycard.provider().introspect(token).await?;
    Ok(no_store(Json(answer).into_response()))
}

/// `GET /oauth2/userinfo` with an app's access token as bearer.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "openid",
    security(("bearer" = [])),
    responses((status = 200, description = "The person's claims the token's scopes release", body = super::docs::UserInfo)))]
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    userinfo_of(&state, &headers).await
}

/// `POST /oauth2/userinfo`: the same (OpenID Connect Core §5.3.1).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "openid",
    security(("bearer" = [])),
    responses((status = 200, description = "The person's claims the token's scopes release", body = super::docs::UserInfo)))]
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    userinfo_of(&state, &headers).await
}

async fn userinfo_of(state: &AppState, headers: &HeaderMap) -> ApiResult<Response> {
    let token = bearer(headers).ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
    let claims = state.keycard.provider().userinfo(token).await?;
    Ok(no_store(Json(claims).into_response()))
}
