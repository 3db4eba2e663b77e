//! The admin API for the registry of apps: what `keycard clients` does, over HTTP. Apps
//! defined in the settings file are changed there, not here.

use super::Admin;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Client;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use keycard_core::Error;
use keycard_core::oidc::{Client as App, ClientKind, ClientSpec, GrantType, IdTokenAlg};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An app as the registry holds it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppResponse {
    pub client_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    /// `public` or `confidential`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<&'static str>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub id_token_alg: &'static str,
    pub enabled: bool,
    /// Defined in the settings file: change it there.
    pub from_settings_file: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn view(state: &AppState, c: App) -> AppResponse {
    AppResponse {
        from_settings_file: state.config.seeded_clients.contains(&c.id),
        client_id: c.id,
        name: c.name,
        logo_url: c.logo_url,
        kind: c.kind.as_str(),
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        backchannel_logout_uri: c.backchannel_logout_uri,
        grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
        scopes: c.scopes,
        first_party: c.first_party,
        id_token_alg: c.id_token_alg.as_str(),
        enabled: c.enabled,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppResponse>,
}

/// A registration; omitted fields take the registry's defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRequest {
    pub client_id: String,
    pub name: String,
    /// `public` or `confidential`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub logo_url: Option<String>,
    /// Default: `authorization_code`, `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// Default: `openid profile email offline_access`.
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub first_party: bool,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub id_token_alg: Option<String>,
}

/// The registration, and the secret of a confidential app — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub app: AppResponse,
    pub client_secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewSecret {
    pub client_secret: String,
}

fn spec_of(req: AppRequest) -> Result<ClientSpec, Error> {
    let kind = ClientKind::parse(&req.kind)
        .ok_or_else(|| Error::invalid("type", "invalid_type", "type is public or confidential"))?;
    let mut spec = ClientSpec::new(&req.client_id, &req.name, kind, req.redirect_uris);
    spec.post_logout_redirect_uris = req.post_logout_redirect_uris;
    spec.backchannel_logout_uri = req.backchannel_logout_uri;
    spec.logo_url = req.logo_url;
    spec.first_party = req.first_party;
    if let Some(grants) = req.grant_types {
        spec.grant_types = grants
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| {
                    Error::invalid(
                        "grant_types",
                        "invalid_grant_type",
                        "a grant type is not offered",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(scopes) = req.scopes {
        spec.scopes = scopes;
    }
    if let Some(alg) = req.id_token_alg {
        spec.id_token_alg = IdTokenAlg::parse(&alg).ok_or_else(|| {
            Error::invalid(
                "id_token_alg",
                "invalid_id_token_alg",
                "RS256, ES256 or EdDSA",
            )
        })?;
    }
    Ok(spec)
}

fn not_seeded(state: &AppState, id: &str) -> Result<(), Error> {
    if state.config.seeded_clients.iter().any(|s| s == id) {
        return Err(Error::invalid(
            "client_id",
            "defined_in_settings",
            "this app is defined in the settings file ([[clients]]): change it there",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/admin/v1/apps", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every registered app", body = AppList),
        (status = 403, description = "The token is not an admin app's (`forbidden`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_apps(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<AppList>, ApiError> {
    let apps = state.keycard.clients().list().await?;
    Ok(Json(AppList {
        apps: apps.into_iter().map(|c| view(&state, c)).collect(),
    }))
}

#[utoipa::path(post, path = "/admin/v1/apps", tag = "admin",
    security(("bearer" = [])),
    request_body = AppRequest,
    responses(
        (status = 201, description = "Registered; a confidential app's secret is in the answer, this once", body = Registered),
        (status = 403, description = "The token is not an admin app's (`forbidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An app with this id exists (`client_exists`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule of the registry is broken (the `errors` name it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_app(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Client(mut by): Client,
    body: crate::extract::AppJson<AppRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let spec = spec_of(body.0)?;
    super::acting(&mut by, &admin);
    let done = state.keycard.clients().add(&spec, &by).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            app: view(&state, done.client),
            client_secret: done.secret,
        }),
    ))
}

#[utoipa::path(get, path = "/admin/v1/apps/{client_id}", tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The app", body = AppResponse),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_app(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<AppResponse>> {
    let c = state.keycard.clients().get(&id).await?;
    Ok(Json(view(&state, c)))
}

#[utoipa::path(patch, path = "/admin/v1/apps/{client_id}", tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's id")),
    request_body = AppPatch,
    responses(
        (status = 200, description = "Enabled or disabled; a disabled app gets no token and its tokens stop working", body = AppResponse),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The app is defined in the settings file (`defined_in_settings`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_app(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Client(mut by): Client,
    Path(id): Path<String>,
    body: crate::extract::AppJson<AppPatch>,
) -> ApiResult<Json<AppResponse>> {
    not_seeded(&state, &id)?;
    super::acting(&mut by, &admin);
    let c = state
        .keycard
        .clients()
        .set_enabled(&id, body.0.enabled, &by)
        .await?;
    Ok(Json(view(&state, c)))
}

#[utoipa::path(delete, path = "/admin/v1/apps/{client_id}", tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's id")),
    responses(
        (status = 204, description = "Removed, with its codes, consents and device requests"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The app is defined in the settings file (`defined_in_settings`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_app(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Client(mut by): Client,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    not_seeded(&state, &id)?;
    super::acting(&mut by, &admin);
    state.keycard.clients().remove(&id, &by).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/admin/v1/apps/{client_id}/secret", tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's id")),
    responses(
        (status = 200, description = "A new secret, shown this once; the old one stops working at once", body = NewSecret),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A public app, or one defined in the settings file", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Client(mut by): Client,
    Path(id): Path<String>,
) -> ApiResult<Json<NewSecret>> {
    not_seeded(&state, &id)?;
    super::acting(&mut by, &admin);
    let secret = state.keycard.clients().rotate_secret(&id, &by).await?;
    Ok(Json(NewSecret {
        client_secret: secret,
    }))
}
