//! People's accounts, for the admin API: find one by email, show it, disable or enable it.

use super::Admin;
use crate::dto::IdentityView;
use crate::error::{ApiResult, Problem};
use crate::extract::{AppJson, Client};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use keycard_core::Error;
use keycard_core::admin::{AccountView, SessionCounts};
use keycard_core::ids::UserId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// An account as an operator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUser {
    pub id: Uuid,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture_url: Option<String>,
    /// False while disabled: the account then gets no session and no token.
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Whether it can sign in with a password (social-only accounts cannot).
    pub has_password: bool,
    pub identities: Vec<IdentityView>,
    /// Its active sessions, by kind.
    pub sessions: ActiveSessions,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveSessions {
    pub api: usize,
    pub browser: usize,
    /// Apps' grants, each with its device.
    pub grants: usize,
}

impl From<SessionCounts> for ActiveSessions {
    fn from(c: SessionCounts) -> Self {
        Self {
            api: c.api,
            browser: c.browser,
            grants: c.grants,
        }
    }
}

impl From<AccountView> for AdminUser {
    fn from(a: AccountView) -> Self {
        let u = a.user;
        Self {
            id: u.id.0,
            email: u.email.map(|e| e.as_str().to_owned()),
            email_verified: u.email_verified,
            name: u.name,
            picture_url: u.picture_url,
            enabled: u.disabled_at.is_none(),
            disabled_at: u.disabled_at,
            has_password: a.has_password,
            identities: a.identities.iter().map(IdentityView::from).collect(),
            sessions: a.sessions.into(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserList {
    pub users: Vec<AdminUser>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FindUsers {
    /// The exact address (compared as Keycard stores it: trimmed, lower-cased).
    pub email: Option<String>,
}

/// Disables or enables the account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub enabled: bool,
    /// Why, for the audit trail (at most 500 characters); only with `enabled: false`.
    pub reason: Option<String>,
}

/// A malformed id names no account: the same answer as an unknown one.
fn user_id(raw: &str) -> Result<UserId, Error> {
    raw.parse().map_err(|_| Error::NotFound)
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "admin",
    security(("bearer" = [])),
    params(FindUsers),
    responses(
        (status = 200, description = "The account with this address, or none", body = AdminUserList),
        (status = 403, description = "The token is not an admin app's (`forbidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `email`, or not an address (`invalid_email`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn find_users(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<FindUsers>,
) -> ApiResult<Json<AdminUserList>> {
    let email = q
        .email
        .ok_or_else(|| Error::invalid("email", "invalid_email", "give the email to look for"))?;
    let found = state.keycard.account_admin().find_by_email(&email).await?;
    Ok(Json(AdminUserList {
        users: found.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/users/{user_id}", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id (the `sub` of its tokens)")),
    responses(
        (status = 200, description = "The account", body = AdminUser),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<AdminUser>> {
    let a = state.keycard.account_admin().get(user_id(&id)?).await?;
    Ok(Json(a.into()))
}

/// What a forced reset did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForcedReset {
    /// Sessions and app grants it ended.
    pub sessions_ended: u64,
}

#[utoipa::path(post, path = "/admin/v1/users/{user_id}/password-reset", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id (the `sub` of its tokens)")),
    responses(
        (status = 202, description = "The password signs in no more, every session and app grant ended (apps told by back-channel logout), and a reset link is being mailed to the account's address", body = ForcedReset),
        (status = 403, description = "The account is disabled (`account_disabled`): enable it first", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The account has no address to mail a link to (`no_email`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn force_password_reset(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Client(mut by): Client,
    Path(id): Path<String>,
) -> ApiResult<(axum::http::StatusCode, Json<ForcedReset>)> {
    let id = user_id(&id)?;
    super::acting(&mut by, &admin);
    let sessions_ended = state
        .keycard
        .account_admin()
        .force_password_reset(id, &admin, &by)
        .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(ForcedReset { sessions_ended }),
    ))
}

#[utoipa::path(patch, path = "/admin/v1/users/{user_id}", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id (the `sub` of its tokens)")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "Disabled — every session and app grant ended at once, apps told by back-channel logout, no new sign-in or token — or enabled again", body = AdminUser),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A `reason` too long or with control characters (`invalid_reason`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Client(mut by): Client,
    Path(id): Path<String>,
    AppJson(patch): AppJson<UserPatch>,
) -> ApiResult<Json<AdminUser>> {
    let id = user_id(&id)?;
    super::acting(&mut by, &admin);
    let accounts = state.keycard.account_admin();
    if patch.enabled && patch.reason.is_some() {
        return Err(Error::invalid(
            "reason",
            "invalid_reason",
            "a reason goes with a disabling (enabled: false) only",
        )
        .into());
    }
    let a = if patch.enabled {
        accounts.enable(id, &admin, &by).await?
    } else {
        accounts
            .disable(id, patch.reason.as_deref(), &admin, &by)
            .await?
    };
    Ok(Json(a.into()))
}
