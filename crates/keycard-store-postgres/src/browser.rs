//! Browser sessions: the session row marked with its cookie secret's hash and its idle window.

use crate::rows;
use crate::sessions::insert_signed_in;
use crate::{PgStore, db_err};
use async_trait::async_trait;
use keycard_core::accounts::User;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::SessionId;
use keycard_core::sessions::{BrowserSecret, BrowserStore, NewBrowserSession, Session};
use keycard_core::store::StoreResult;
use keycard_core::tokens::TokenHash;
use sqlx::PgConnection;
use time::OffsetDateTime;

/// Makes a just-inserted session a browser session (same transaction as the insert).
pub(crate) async fn mark_browser(
    conn: &mut PgConnection,
    session_id: SessionId,
    secret: &BrowserSecret,
) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET secret_hash = $1, idle_timeout_secs = $2 WHERE id = $3")
        .bind(&secret.hash.0[..])
        .bind(i32::try_from(secret.idle_timeout.whole_seconds()).unwrap_or(i32::MAX))
        .bind(session_id.0)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// A new browser session, its first refresh token and the audit events of the sign-in.
pub(crate) async fn insert_browser_session(
    conn: &mut PgConnection,
    s: &NewBrowserSession,
    events: &[AuditEvent],
) -> StoreResult<()> {
    insert_signed_in(&mut *conn, &s.session, &s.refresh, events).await?;
    mark_browser(conn, s.session.id, &s.secret).await
}

#[async_trait]
impl BrowserStore for PgStore {
    async fn create_browser_session(
        &self,
        session: &NewBrowserSession,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_browser_session(&mut tx, session, events).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn find_browser_session(
        &self,
        secret: &TokenHash,
    ) -> StoreResult<Option<(Session, User)>> {
        let query = rows::SESSION_WITH_USER.replace("WHERE s.id = $1", "WHERE s.secret_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(&secret.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| Ok((rows::session(&r)?, rows::user_prefixed(&r, "u_")?)))
            .transpose()
    }

    async fn touch_browser_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_used_at = $2, idle_expires_at = LEAST($3, expires_at) \
             WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2",
        )
        .bind(id.0)
        .bind(now)
        .bind(idle_expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
