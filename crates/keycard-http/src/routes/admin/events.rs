//! The audit trail, for the admin API: every security event, by person and by kind.

use super::Admin;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use keycard_core::Error;
use keycard_core::admin::{EventFilter, MAX_EVENTS_PAGE};
use keycard_core::audit::{AuditEvent, AuditKind};
use keycard_core::ids::AuditId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

const DEFAULT_PAGE: u32 = 50;

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Only this person's events.
    pub user_id: Option<Uuid>,
    /// Only events of this kind, e.g. `login_failed`, `account_disabled`.
    pub kind: Option<String>,
    /// The next page: the `next_before` of the previous one (opaque).
    pub before: Option<String>,
    /// At most this many (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// One audit event as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEvent {
    pub id: Uuid,
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Context: the sign-in method, the reason of a failure, the admin app of an admin action…
    /// Never a secret.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AdminEvent {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.0,
            kind: e.kind.as_str(),
            at: e.at,
            user_id: e.user_id.map(|u| u.0),
            session_id: e.session_id.map(|s| s.0),
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEventPage {
    /// Newest first.
    pub events: Vec<AdminEvent>,
    /// Pass as `before` for the next page; `null` on the last one.
    pub next_before: Option<String>,
}

/// The paging cursor: the position of an event in the listing's order, `(at, id)`. Carrying
/// both (rather than the id alone) needs no lookup and cannot point at a pruned event.
fn cursor(e: &AuditEvent) -> String {
    format!("{}_{}", e.at.unix_timestamp_nanos(), e.id.0.simple())
}

fn parse_cursor(raw: &str) -> Result<(OffsetDateTime, AuditId), Error> {
    let bad = || {
        Error::invalid(
            "before",
            "invalid_before",
            "before is a next_before as answered",
        )
    };
    let (nanos, id) = raw.split_once('_').ok_or_else(bad)?;
    let at = nanos
        .parse::<i128>()
        .ok()
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, AuditId(id)))
}

#[utoipa::path(get, path = "/admin/v1/events", tag = "admin",
    security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "Audit events, newest first", body = AdminEventPage),
        (status = 403, description = "The token is not an admin app's (`forbidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown `kind` (`invalid_kind`), a `limit` out of range (`invalid_limit`) or a `before` not as answered (`invalid_before`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<AdminEventPage>> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_EVENTS_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", "invalid_limit", "limit is between 1 and 200").into());
    }
    let kind = q
        .kind
        .map(|k| {
            AuditKind::parse(&k)
                .ok_or_else(|| Error::invalid("kind", "invalid_kind", "no such kind of event"))
        })
        .transpose()?;
    let filter = EventFilter {
        user: q.user_id.map(keycard_core::ids::UserId),
        kind,
        before: q.before.as_deref().map(parse_cursor).transpose()?,
        limit,
    };
    let events = state.keycard.account_admin().events(filter).await?;
    let full = events.len() == limit as usize;
    let next_before = full.then(|| events.last().map(cursor)).flatten();
    Ok(Json(AdminEventPage {
        events: events.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
