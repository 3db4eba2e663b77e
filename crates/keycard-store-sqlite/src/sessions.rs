use crate::rows::{self, SESSION_COLS, ts};
use crate::{SqliteStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::accounts::User;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::{RefreshTokenId, SessionId, UserId};
use keycard_core::sessions::{RevokeReason, Session};
use keycard_core::store::{NewRefreshToken, NextRefreshToken, Rotation, SessionStore, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

pub(crate) async fn insert_session(conn: &mut SqliteConnection, s: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, kind, client_id, device, user_agent, ip, created_at, \
         last_used_at, idle_expires_at, expires_at, revoked_at, amr, auth_time, \
         origin_session_id, scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(s.id.to_string())
    .bind(s.user_id.to_string())
    .bind(s.kind.as_str())
    .bind(s.client_id.as_deref())
    .bind(&s.device)
    .bind(s.user_agent.as_deref())
    .bind(s.ip.as_deref())
    .bind(ts(s.created_at))
    .bind(ts(s.last_used_at))
    .bind(ts(s.idle_expires_at))
    .bind(ts(s.expires_at))
    .bind(s.revoked_at.map(ts))
    .bind(s.amr.join(" "))
    .bind(ts(s.auth_time))
    .bind(s.origin.map(|o| o.to_string()))
    .bind(s.scopes.join(" "))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A new session, its first refresh token and the audit events of the sign-in.
pub(crate) async fn insert_signed_in(
    conn: &mut SqliteConnection,
    session: &Session,
    refresh: &NewRefreshToken,
    events: &[AuditEvent],
) -> StoreResult<()> {
    insert_session(&mut *conn, session).await?;
    insert_refresh(
        &mut *conn,
        refresh.id,
        session.id,
        &refresh.hash,
        refresh.issued_at,
    )
    .await?;
    for e in events {
        audit::insert(&mut *conn, e).await?;
    }
    Ok(())
}

pub(crate) async fn insert_refresh(
    conn: &mut SqliteConnection,
    id: RefreshTokenId,
    session: SessionId,
    hash: &TokenHash,
    issued_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO refresh_tokens (id, session_id, token_hash, issued_at) VALUES ($1, $2, $3, $4)")
        .bind(id.to_string())
        .bind(session.to_string())
        .bind(&hash.0[..])
        .bind(ts(issued_at))
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn revoke(
    conn: &mut SqliteConnection,
    user: UserId,
    id: Option<SessionId>,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 AND idle_expires_at > $3 \
           AND ($2 IS NULL OR id = $2 \
                OR (origin_session_id = $2 AND ' ' || scope || ' ' NOT LIKE '% offline_access %'))",
    )
    .bind(user.to_string())
    .bind(id.map(|s| s.to_string()))
    .bind(ts(now))
    .bind(reason.as_str())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        session: &Session,
        refresh: &NewRefreshToken,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_signed_in(&mut tx, session, refresh, events).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn find_session_with_user(&self, id: SessionId) -> StoreResult<Option<(Session, User)>> {
        let row = sqlx::query(rows::SESSION_WITH_USER)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| Ok((rows::session(&r)?, rows::user_prefixed(&r, "u_")?)))
            .transpose()
    }

    async fn find_session_by_refresh_token(
        &self,
        token: &TokenHash,
    ) -> StoreResult<Option<Session>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE id = \
             (SELECT session_id FROM refresh_tokens WHERE token_hash = $1)"
        )))
        .bind(&token.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::session).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        next: &NextRefreshToken,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
    ) -> StoreResult<Rotation> {
        self.rotator
            .rotate(crate::rotation::Job {
                presented: *presented,
                next: next.clone(),
                now,
                idle_expires_at,
                replay_since,
            })
            .await
    }

    async fn list_active_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND idle_expires_at > $2 ORDER BY created_at DESC, id DESC"
        )))
        .bind(user.to_string())
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rows::session).collect()
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = revoke(&mut tx, user, Some(id), reason, now).await?;
        if n > 0 {
            audit::insert(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn revoke_all_sessions(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let n = revoke(&mut tx, user, None, reason, now).await?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }
}
