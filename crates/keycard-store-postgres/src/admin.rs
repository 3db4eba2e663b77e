use crate::rows::{self, AUDIT_COLS, USER_COLS};
use crate::{PgStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::accounts::User;
use keycard_core::admin::{AccountAdminStore, EventFilter};
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::sessions::RevokeReason;
use keycard_core::store::StoreResult;
use time::OffsetDateTime;

#[async_trait]
impl AccountAdminStore for PgStore {
    async fn disable_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        let mut tx = self.begin().await?;
        // The row lock taken here makes a session insert racing this one wait for the commit
        // and then see the account disabled (migration 0009).
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET disabled_at = COALESCE(disabled_at, $2) \
             WHERE id = $1 RETURNING {USER_COLS}"
        )))
        .bind(id.0)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
             WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(now)
        .bind(RevokeReason::AccountDisabled.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        crate::resets::spend_open_links(&mut tx, id, now).await?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(rows::user(&row)?))
    }

    async fn enable_user(
        &self,
        id: UserId,
        _now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET disabled_at = NULL WHERE id = $1 RETURNING {USER_COLS}"
        )))
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(rows::user(&row)?))
    }

    async fn revoke_password(
        &self,
        id: UserId,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<Option<u64>> {
        let mut tx = self.begin().await?;
        let found = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if found.is_none() {
            return Ok(None);
        }
        sqlx::query("DELETE FROM password_credentials WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Passkeys sign in without the password: someone who knew it may have added one.
        crate::mfa::drop_passkeys(&mut tx, id).await?;
        let ended =
            crate::resets::end_sessions(&mut tx, id, now, RevokeReason::PasswordReset).await?;
        crate::resets::spend_open_links(&mut tx, id, now).await?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(ended))
    }

    async fn list_events(&self, f: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
        // Only the filters given become conditions, so each shape of query gets a plan that
        // uses its index.
        let mut conds = Vec::new();
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if f.user.is_some() {
            conds.push(format!("user_id = {}", param()));
        }
        if f.kind.is_some() {
            conds.push(format!("kind = {}", param()));
        }
        if f.before.is_some() {
            conds.push(format!("(at, id) < ({}, {})", param(), param()));
        }
        let limit = param();
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_events {filter} ORDER BY at DESC, id DESC LIMIT {limit}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(u) = f.user {
            q = q.bind(u.0);
        }
        if let Some(k) = f.kind {
            q = q.bind(k.as_str());
        }
        if let Some((at, b)) = f.before {
            q = q.bind(at).bind(b.0);
        }
        let rows = q
            .bind(i64::from(f.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(rows::audit).collect()
    }
}
