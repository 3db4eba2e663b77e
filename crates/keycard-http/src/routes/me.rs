//! The signed-in user's profile, password and security activity.

use crate::dto::{
    ChangePasswordRequest, EventList, EventsQuery, SessionsEnded, UpdateProfileRequest,
    UserResponse,
};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{AppJson, Authenticated, Client};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use keycard_core::accounts::ProfileUpdate;

#[utoipa::path(get, path = "/v1/me", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = UserResponse),
        (status = 401, description = "Not signed in, or the session ended", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_me(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<UserResponse>> {
    let identities = state.keycard.social().identities(&who).await?;
    let mut me = UserResponse::new(state.keycard.me(&who), &identities);
    me.mfa = Some(state.keycard.mfa().status(&who).await?.into());
    Ok(Json(me))
}

#[utoipa::path(patch, path = "/v1/me", tag = "me",
    security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The updated profile", body = UserResponse),
        (status = 422, description = "Name or picture URL rejected", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    AppJson(req): AppJson<UpdateProfileRequest>,
) -> ApiResult<Json<UserResponse>> {
    let update = ProfileUpdate::parse(
        req.name.as_ref().map(|n| n.as_deref()),
        req.picture_url.as_ref().map(|u| u.as_deref()),
    )?;
    let user = state.keycard.update_profile(&who, update, &client).await?;
    let identities = state.keycard.social().identities_of(who.user_id).await?;
    Ok(Json(UserResponse::new(user, &identities)))
}

#[utoipa::path(post, path = "/v1/me/password", tag = "me",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Password changed; every other session ended", body = SessionsEnded),
        (status = 403, description = "With two-step verification on, this session did not sign in through it within 10 minutes (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Current password wrong, or the new one rejected by policy", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords for the account or from the network (`rate_limited`, as wrong sign-in passwords); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    AppJson(req): AppJson<ChangePasswordRequest>,
) -> ApiResult<Json<SessionsEnded>> {
    let n = state
        .keycard
        .change_password(&who, &req.current_password, &req.new_password, &client)
        .await?;
    Ok(Json(SessionsEnded { sessions_ended: n }))
}

#[utoipa::path(get, path = "/v1/me/events", tag = "me",
    security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "Recent security events of the account, newest first", body = EventList),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<EventList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::Malformed(format!(
            "limit must be between 1 and 200, got {limit}"
        )));
    }
    let events = state.keycard.recent_events(&who, limit).await?;
    Ok(Json(EventList {
        events: events.into_iter().map(Into::into).collect(),
    }))
}
