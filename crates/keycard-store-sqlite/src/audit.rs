use crate::rows::{self, ts};
use crate::{SqliteStore, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::store::{AuditStore, StoreResult};
use sqlx::SqliteConnection;

pub(crate) async fn insert(conn: &mut SqliteConnection, e: &AuditEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, kind, user_id, session_id, ip, user_agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.id.to_string())
    .bind(ts(e.at))
    .bind(e.kind.as_str())
    .bind(e.user_id.map(|u| u.to_string()))
    .bind(e.session_id.map(|s| s.to_string()))
    .bind(e.ip.as_deref())
    .bind(e.user_agent.as_deref())
    .bind(e.detail.to_string())
    .execute(conn)
    .await
    .map_err(db_err)?;
    e.log();
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        insert(&mut conn, event).await
    }

    async fn list_audit(&self, user: UserId, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, at, kind, user_id, session_id, ip, user_agent, detail FROM audit_events \
             WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(user.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rows::audit).collect()
    }
}
