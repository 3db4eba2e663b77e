//! The apps a person allowed to use their account, and taking that back.

use crate::dto::{AppAccessList, AppAccessResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{Authenticated, Client};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

#[utoipa::path(get, path = "/v1/me/apps", tag = "sessions",
    security(("bearer" = [])),
    responses((status = 200, description = "The apps this person allowed, newest first", body = AppAccessList)))]
pub async fn list_apps(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<AppAccessList>> {
    let apps = state.keycard.provider().apps_of(&who).await?;
    Ok(Json(AppAccessList {
        apps: apps
            .into_iter()
            .map(|a| AppAccessResponse {
                client_id: a.client_id,
                name: a.name,
                logo_url: a.logo_url,
                scopes: a.scopes,
                granted_at: a.granted_at,
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/me/apps/{client_id}", tag = "sessions",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's client id")),
    responses(
        (status = 204, description = "The app's access is withdrawn: its consent is forgotten and its grants end (the app is told by back-channel logout)"),
        (status = 404, description = "This person never allowed that app", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn withdraw_app(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .keycard
        .provider()
        .withdraw(&who, &client_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
