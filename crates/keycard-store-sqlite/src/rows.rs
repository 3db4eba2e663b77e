//! Conversions between rows and domain types.

use keycard_core::accounts::{Email, User};
use keycard_core::audit::{AuditEvent, AuditKind};
use keycard_core::ids::{AuditId, SessionId, UserId};
use keycard_core::sessions::{Session, SessionKind};
use keycard_core::store::{StoreError, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(crate) fn time_col(row: &SqliteRow, col: &str) -> StoreResult<OffsetDateTime> {
    let secs: i64 = row.try_get(col).map_err(crate::db_err)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| corrupt(col))
}

pub(crate) fn opt_time_col(row: &SqliteRow, col: &str) -> StoreResult<Option<OffsetDateTime>> {
    let secs: Option<i64> = row.try_get(col).map_err(crate::db_err)?;
    secs.map(|s| OffsetDateTime::from_unix_timestamp(s).map_err(|_| corrupt(col)))
        .transpose()
}

pub(crate) fn uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Uuid> {
    let s: String = row.try_get(col).map_err(crate::db_err)?;
    Uuid::parse_str(&s).map_err(|_| corrupt(col))
}

fn opt_uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Option<Uuid>> {
    let s: Option<String> = row.try_get(col).map_err(crate::db_err)?;
    s.map(|s| Uuid::parse_str(&s).map_err(|_| corrupt(col)))
        .transpose()
}

pub(crate) fn text(row: &SqliteRow, col: &str) -> StoreResult<String> {
    row.try_get(col).map_err(crate::db_err)
}

pub(crate) fn opt_text(row: &SqliteRow, col: &str) -> StoreResult<Option<String>> {
    row.try_get(col).map_err(crate::db_err)
}

pub(crate) const USER_COLS: &str =
    "id, email, email_verified, name, picture_url, created_at, updated_at, disabled_at";

pub(crate) fn user(row: &SqliteRow) -> StoreResult<User> {
    user_prefixed(row, "")
}

/// A user read under column aliases `{prefix}id`, `{prefix}email`, … (joins with sessions).
pub(crate) fn user_prefixed(row: &SqliteRow, prefix: &str) -> StoreResult<User> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(User {
        id: UserId(uuid_col(row, &c("id"))?),
        email: opt_text(row, &c("email"))?.map(Email::from_trusted),
        email_verified: row
            .try_get::<bool, _>(c("email_verified").as_str())
            .map_err(crate::db_err)?,
        name: opt_text(row, &c("name"))?,
        picture_url: opt_text(row, &c("picture_url"))?,
        created_at: time_col(row, &c("created_at"))?,
        updated_at: time_col(row, &c("updated_at"))?,
        disabled_at: opt_time_col(row, &c("disabled_at"))?,
    })
}

/// A session and its user in one round trip: the check every authenticated request makes.
pub(crate) const SESSION_WITH_USER: &str = "SELECT s.id, s.user_id, s.kind, s.client_id, s.device, \
     s.user_agent, s.ip, s.created_at, s.last_used_at, s.idle_expires_at, s.expires_at, s.revoked_at, \
     s.amr, s.scope, COALESCE(s.auth_time, s.created_at) AS auth_time, s.origin_session_id, \
     u.id AS u_id, u.email AS u_email, u.email_verified AS u_email_verified, u.name AS u_name, \
     u.picture_url AS u_picture_url, u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
     u.disabled_at AS u_disabled_at \
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1";

pub(crate) const SESSION_COLS: &str = "id, user_id, kind, client_id, device, user_agent, ip, \
     created_at, last_used_at, idle_expires_at, expires_at, revoked_at, amr, scope, \
     COALESCE(auth_time, created_at) AS auth_time, origin_session_id";

pub(crate) fn session(row: &SqliteRow) -> StoreResult<Session> {
    let kind = text(row, "kind")?;
    Ok(Session {
        id: SessionId(uuid_col(row, "id")?),
        user_id: UserId(uuid_col(row, "user_id")?),
        kind: SessionKind::parse(&kind).ok_or_else(|| corrupt("sessions.kind"))?,
        client_id: opt_text(row, "client_id")?,
        device: text(row, "device")?,
        user_agent: opt_text(row, "user_agent")?,
        ip: opt_text(row, "ip")?,
        created_at: time_col(row, "created_at")?,
        last_used_at: time_col(row, "last_used_at")?,
        idle_expires_at: time_col(row, "idle_expires_at")?,
        expires_at: time_col(row, "expires_at")?,
        revoked_at: opt_time_col(row, "revoked_at")?,
        amr: text(row, "amr")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        scopes: text(row, "scope")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        auth_time: time_col(row, "auth_time")?,
        origin: opt_uuid_col(row, "origin_session_id")?.map(SessionId),
    })
}

pub(crate) const AUDIT_COLS: &str = "id, at, kind, user_id, session_id, ip, user_agent, detail";

pub(crate) fn audit(row: &SqliteRow) -> StoreResult<AuditEvent> {
    let kind = text(row, "kind")?;
    let detail = text(row, "detail")?;
    Ok(AuditEvent {
        id: AuditId(uuid_col(row, "id")?),
        at: time_col(row, "at")?,
        kind: AuditKind::parse(&kind).ok_or_else(|| corrupt("audit_events.kind"))?,
        user_id: opt_uuid_col(row, "user_id")?.map(UserId),
        session_id: opt_uuid_col(row, "session_id")?.map(SessionId),
        ip: opt_text(row, "ip")?,
        user_agent: opt_text(row, "user_agent")?,
        detail: serde_json_value(&detail)?,
    })
}

fn serde_json_value(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|_| corrupt("audit_events.detail"))
}
