use crate::rows::{self, USER_COLS, ts};
use crate::sessions::insert_signed_in;
use crate::{SqliteStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::accounts::{Email, ProfileUpdate, User};
use keycard_core::audit::AuditEvent;
use keycard_core::ids::{SessionId, UserId};
use keycard_core::sessions::{BrowserSecret, RevokeReason, Session};
use keycard_core::store::{AccountStore, NewRefreshToken, StoreResult};
use sqlx::Row;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(
        &self,
        user: &User,
        password_hash: &str,
        session: &Session,
        refresh: &NewRefreshToken,
        browser: Option<&BrowserSecret>,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_user(&mut tx, user).await?;
        sqlx::query(
            "INSERT INTO password_credentials (user_id, hash, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(user.id.to_string())
        .bind(password_hash)
        .bind(ts(user.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_signed_in(&mut tx, session, refresh, events).await?;
        if let Some(secret) = browser {
            crate::browser::mark_browser(&mut tx, session.id, secret).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn find_login(&self, email: &Email) -> StoreResult<Option<(User, Option<String>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.email_verified, u.name, u.picture_url, u.created_at, u.updated_at, \
             u.disabled_at, \
             p.hash FROM users u LEFT JOIN password_credentials p ON p.user_id = u.id WHERE u.email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| Ok((rows::user(&r)?, rows::opt_text(&r, "hash")?)))
            .transpose()
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn find_password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT hash FROM password_credentials WHERE user_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get("hash").map_err(db_err)).transpose()
    }

    async fn update_profile(
        &self,
        id: UserId,
        update: &ProfileUpdate,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET \
               name = CASE WHEN $2 THEN $3 ELSE name END, \
               picture_url = CASE WHEN $4 THEN $5 ELSE picture_url END, \
               updated_at = $6 \
             WHERE id = $1 RETURNING {USER_COLS}"
        )))
        .bind(id.to_string())
        .bind(update.name.is_some())
        .bind(update.name.clone().flatten())
        .bind(update.picture_url.is_some())
        .bind(update.picture_url.clone().flatten())
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let user = row.as_ref().map(rows::user).transpose()?;
        if user.is_some() {
            audit::insert(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(user)
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        old: &str,
        hash: &str,
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let upgraded = sqlx::query(
            "UPDATE password_credentials SET hash = $2, updated_at = $3 \
             WHERE user_id = $1 AND hash = $4",
        )
        .bind(id.to_string())
        .bind(hash)
        .bind(ts(event.at))
        .bind(old)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if upgraded == 0 {
            return Ok(());
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: SessionId,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<Option<u64>> {
        let mut tx = self.begin().await?;
        let live = sqlx::query("SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL")
            .bind(keep.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if live.is_none() {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO password_credentials (user_id, hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
        )
        .bind(id.to_string())
        .bind(hash)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL \
               AND expires_at > $3 AND idle_expires_at > $3",
        )
        .bind(id.to_string())
        .bind(keep.to_string())
        .bind(ts(now))
        .bind(RevokeReason::PasswordChanged.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        crate::resets::spend_open_links(&mut tx, id, now).await?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(ended))
    }
}

/// The user row of a new account (an `EmailTaken` when the address is registered).
pub(crate) async fn insert_user(conn: &mut SqliteConnection, user: &User) -> StoreResult<()> {
    // An address another account may still take back through its undo link is kept for it.
    if let Some(email) = &user.email {
        let reserved = sqlx::query(
            "SELECT 1 FROM email_changes WHERE old_email = $1 AND undo_hash IS NOT NULL \
             AND undone_at IS NULL AND undo_expires_at > $2 LIMIT 1",
        )
        .bind(email.as_str())
        .bind(ts(user.created_at))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if reserved.is_some() {
            return Err(keycard_core::store::StoreError::EmailTaken);
        }
    }
    sqlx::query(
        "INSERT INTO users (id, email, email_verified, name, picture_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user.id.to_string())
    .bind(user.email.as_ref().map(|e| e.as_str()))
    .bind(user.email_verified)
    .bind(user.name.as_deref())
    .bind(user.picture_url.as_deref())
    .bind(ts(user.created_at))
    .bind(ts(user.updated_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}
