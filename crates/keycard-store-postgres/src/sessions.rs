use crate::rows::{self, SESSION_COLS};
use crate::{PgStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::accounts::User;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::{RefreshTokenId, SessionId, UserId};
use keycard_core::sessions::{RevokeReason, Session};
use keycard_core::store::{NewRefreshToken, NextRefreshToken, Rotation, SessionStore, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) async fn insert_session(conn: &mut PgConnection, s: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, kind, client_id, device, user_agent, ip, created_at, \
         last_used_at, idle_expires_at, expires_at, revoked_at, amr, auth_time, \
         origin_session_id, scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(s.id.0)
    .bind(s.user_id.0)
    .bind(s.kind.as_str())
    .bind(s.client_id.as_deref())
    .bind(&s.device)
    .bind(s.user_agent.as_deref())
    .bind(s.ip.as_deref())
    .bind(s.created_at)
    .bind(s.last_used_at)
    .bind(s.idle_expires_at)
    .bind(s.expires_at)
    .bind(s.revoked_at)
    .bind(s.amr.join(" "))
    .bind(s.auth_time)
    .bind(s.origin.map(|o| o.0))
    .bind(s.scopes.join(" "))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A new session, its first refresh token and the audit events of the sign-in.
pub(crate) async fn insert_signed_in(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
    id: RefreshTokenId,
    session: SessionId,
    hash: &TokenHash,
    issued_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO refresh_tokens (id, session_id, token_hash, issued_at) VALUES ($1, $2, $3, $4)")
        .bind(id.0)
        .bind(session.0)
        .bind(&hash.0[..])
        .bind(issued_at)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn revoke(
    conn: &mut PgConnection,
    user: UserId,
    id: Option<SessionId>,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 AND idle_expires_at > $3 \
           AND ($2::uuid IS NULL OR id = $2 \
                OR (origin_session_id = $2 AND ' ' || scope || ' ' NOT LIKE '% offline_access %'))",
    )
    .bind(user.0)
    .bind(id.map(|s| s.0))
    .bind(now)
    .bind(reason.as_str())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl SessionStore for PgStore {
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
            .bind(id.0)
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
        let mut tx = self.begin().await?;
        // The conditional update is the race arbiter: a concurrent call blocks on the row lock,
        // then re-checks `spent_at IS NULL` against the committed row and updates nothing.
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL RETURNING session_id",
        )
        .bind(&presented.0[..])
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(spent) = spent else {
            let owner = sqlx::query(
                "SELECT s.id, s.user_id, r.spent_at FROM refresh_tokens r \
                 JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1",
            )
            .bind(&presented.0[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let Some(r) = owner else {
                tx.commit().await.map_err(db_err)?;
                return Ok(Rotation::Unknown);
            };
            let session_id: Uuid = rows::uuid_col(&r, "id")?;
            let spent_at: Option<OffsetDateTime> = r.try_get("spent_at").map_err(db_err)?;
            let replay = match replay_since {
                Some(since) if spent_at.is_some_and(|at| at >= since) => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {SESSION_COLS} FROM sessions WHERE id = $1 AND revoked_at IS NULL \
                         AND expires_at > $2 AND idle_expires_at > $2 AND EXISTS (SELECT 1 FROM \
                         refresh_tokens t WHERE t.token_hash = $3 AND t.session_id = $1 \
                         AND t.spent_at IS NULL)"
                    )))
                    .bind(session_id)
                    .bind(now)
                    .bind(&next.hash.0[..])
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                }
                _ => None,
            };
            tx.commit().await.map_err(db_err)?;
            if let Some(row) = replay {
                return Ok(Rotation::Replayed(rows::session(&row)?));
            }
            return Ok(Rotation::Reused {
                session_id: SessionId(session_id),
                user_id: UserId(rows::uuid_col(&r, "user_id")?),
            });
        };
        let session_id: Uuid = rows::uuid_col(&spent, "session_id")?;
        // Check and extend the session in one statement. It locks the row, so a concurrent
        // revoke either committed before (no row: the session has ended) or waits for us. A
        // session with an idle window of its own (a browser session) keeps it.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET last_used_at = $2, idle_expires_at = \
             LEAST(COALESCE($2 + idle_timeout_secs * INTERVAL '1 second', $3), expires_at) \
             WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2 \
             RETURNING {SESSION_COLS}"
        )))
        .bind(session_id)
        .bind(now)
        .bind(idle_expires_at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            tx.commit().await.map_err(db_err)?;
            return Ok(Rotation::SessionEnded);
        };
        let session = rows::session(&row)?;
        insert_refresh(&mut tx, next.id, session.id, &next.hash, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Rotation::Rotated(session))
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
        .bind(user.0)
        .bind(now)
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
