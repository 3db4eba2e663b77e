//! The user's devices: every active session, and ending one.

use crate::dto::{SessionList, SessionResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{Authenticated, Client};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use keycard_core::Error;
use keycard_core::ids::SessionId;

#[utoipa::path(get, path = "/v1/me/sessions", tag = "sessions",
    security(("bearer" = [])),
    responses((status = 200, description = "Active sessions, newest first", body = SessionList)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<SessionList>> {
    let sessions = state.keycard.list_sessions(&who).await?;
    let names: std::collections::HashMap<String, String> =
        if sessions.iter().any(|s| s.client_id.is_some()) {
            state
                .keycard
                .clients()
                .list()
                .await?
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect()
        } else {
            Default::default()
        };
    Ok(Json(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| {
                let current = s.id == who.session_id;
                let app = s.client_id.as_ref().and_then(|c| names.get(c).cloned());
                let mut out = SessionResponse::new(s, current);
                out.app = app;
                out
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/me/sessions/{id}", tag = "sessions",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "The session has ended; its tokens stop working at once"),
        (status = 404, description = "No such active session of this user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_session(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    // A malformed id names no session of this user: same answer as an unknown one.
    let id: SessionId = id.parse().map_err(|_| Error::NotFound)?;
    state.keycard.revoke_session(&who, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
