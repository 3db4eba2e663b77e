use crate::rows::{self, AUDIT_COLS};
use crate::{PgStore, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::store::{AuditStore, StoreResult};
use sqlx::PgConnection;
use sqlx::types::Json;

pub(crate) async fn insert(conn: &mut PgConnection, e: &AuditEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, kind, user_id, session_id, ip, user_agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.id.0)
    .bind(e.at)
    .bind(e.kind.as_str())
    .bind(e.user_id.map(|u| u.0))
    .bind(e.session_id.map(|s| s.0))
    .bind(e.ip.as_deref())
    .bind(e.user_agent.as_deref())
    .bind(Json(&e.detail))
    .execute(conn)
    .await
    .map_err(db_err)?;
    e.log();
    Ok(())
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert(&mut conn, event).await
    }

    async fn list_audit(&self, user: UserId, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLS} FROM audit_events \
             WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
        )))
        .bind(user.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rows::audit).collect()
    }
}
