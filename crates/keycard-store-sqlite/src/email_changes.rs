//! Changes of an account's address (keycard-core's `lifecycle::email_change`): the link to the
//! new address, and once it is followed, the old address's undo link.

use crate::lifecycle::insert_mail;
use crate::rows::{opt_text, text, ts, uuid_col};
use crate::{SqliteStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::lifecycle::{EmailChangeStore, NewEmailChange, PendingChange, UndoLink};
use keycard_core::mail::PendingMail;
use keycard_core::sessions::RevokeReason;
use keycard_core::store::StoreResult;
use keycard_core::tokens::TokenHash;
use time::OffsetDateTime;

#[async_trait]
impl EmailChangeStore for SqliteStore {
    async fn last_email_change_at(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>> {
        let row =
            sqlx::query("SELECT max(created_at) AS last FROM email_changes WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        crate::rows::opt_time_col(&row, "last")
    }

    async fn create_email_change(
        &self,
        c: &NewEmailChange,
        mail: Option<&PendingMail>,
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO email_changes \
             (token_hash, user_id, old_email, new_email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.token_hash.0.as_slice())
        .bind(c.user_id.to_string())
        .bind(c.old_email.as_deref())
        .bind(&c.new_email)
        .bind(ts(c.created_at))
        .bind(ts(c.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(m) = mail {
            insert_mail(&mut tx, m).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn find_email_change(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingChange>> {
        let row = sqlx::query(
            "SELECT c.user_id, c.old_email, c.new_email FROM email_changes c \
             JOIN users u ON u.id = c.user_id \
             WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > $2 \
               AND u.email IS c.old_email AND u.disabled_at IS NULL",
        )
        .bind(token_hash.0.as_slice())
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(PendingChange {
                user_id: UserId(uuid_col(&r, "user_id")?),
                old_email: opt_text(&r, "old_email")?,
                new_email: text(&r, "new_email")?,
            })
        })
        .transpose()
    }

    async fn confirm_email_change(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
        undo: &UndoLink,
        notice: Option<&PendingMail>,
        event: &AuditEvent,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.begin().await?;
        // The new address may be held by another account's undo link (its old address, kept
        // for it while the link holds).
        let reserved = sqlx::query(
            "SELECT 1 FROM email_changes c JOIN email_changes o ON o.old_email = c.new_email \
             WHERE c.token_hash = $1 AND o.user_id <> c.user_id AND o.undo_hash IS NOT NULL \
               AND o.undone_at IS NULL AND o.undo_expires_at > $2",
        )
        .bind(token_hash.0.as_slice())
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if reserved.is_some() {
            return Err(keycard_core::store::StoreError::EmailTaken);
        }
        let row = sqlx::query(
            "UPDATE email_changes SET used_at = $2, undo_hash = $3, undo_expires_at = $4 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
               AND EXISTS (SELECT 1 FROM users u WHERE u.id = email_changes.user_id \
                           AND u.disabled_at IS NULL AND u.email IS email_changes.old_email) \
             RETURNING user_id, new_email",
        )
        .bind(token_hash.0.as_slice())
        .bind(ts(now))
        .bind(undo.token_hash.0.as_slice())
        .bind(ts(undo.expires_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = UserId(uuid_col(&row, "user_id")?);
        let new_email = text(&row, "new_email")?;
        sqlx::query(
            "UPDATE users SET email = $2, email_verified = 1, updated_at = $3 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(&new_email)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // The account's other pending changes and its reset links were for another address.
        sqlx::query("UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
            .bind(user.to_string())
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        crate::resets::spend_open_links(&mut tx, user, now).await?;
        if let Some(m) = notice {
            insert_mail(&mut tx, m).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(new_email))
    }

    async fn find_email_undo(
        &self,
        undo_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserId>> {
        let row = sqlx::query(
            "SELECT c.user_id FROM email_changes c JOIN users u ON u.id = c.user_id \
             WHERE c.undo_hash = $1 AND c.undone_at IS NULL AND c.undo_expires_at > $2 \
               AND c.old_email IS NOT NULL AND u.disabled_at IS NULL",
        )
        .bind(undo_hash.0.as_slice())
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| Ok(UserId(uuid_col(&r, "user_id")?)))
            .transpose()
    }

    async fn undo_email_change(
        &self,
        undo_hash: &TokenHash,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<Option<u64>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE email_changes SET undone_at = $2 \
             WHERE undo_hash = $1 AND undone_at IS NULL AND undo_expires_at > $2 \
               AND old_email IS NOT NULL \
               AND EXISTS (SELECT 1 FROM users u \
                           WHERE u.id = email_changes.user_id AND u.disabled_at IS NULL) \
             RETURNING user_id, old_email, created_at",
        )
        .bind(undo_hash.0.as_slice())
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = UserId(uuid_col(&row, "user_id")?);
        let old_email = text(&row, "old_email")?;
        let changed_at = crate::rows::time_col(&row, "created_at")?;
        // The undo links of later changes go with it: this one restores the address they
        // replaced in their turn.
        sqlx::query(
            "UPDATE email_changes SET undone_at = $2 \
             WHERE user_id = $1 AND undo_hash IS NOT NULL AND undone_at IS NULL AND created_at > $3",
        )
        .bind(user.to_string())
        .bind(ts(now))
        .bind(ts(changed_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE users SET email = $2, email_verified = 1, updated_at = $3 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(&old_email)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
            .bind(user.to_string())
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        crate::resets::spend_open_links(&mut tx, user, now).await?;
        // Whoever changed the address may have had the password and linked a provider of
        // their own: both go; the owner sets a password through a reset.
        sqlx::query("DELETE FROM password_credentials WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // So do the second factors and passkeys: whoever changed the address may have added
        // them, and a passkey would keep signing them in.
        crate::mfa::drop_second_factors(&mut tx, user).await?;
        let unlinked = sqlx::query(
            "DELETE FROM identities WHERE user_id = $1 \
             AND NOT (email_verified = 1 AND email IS NOT NULL AND lower(email) = lower($2))",
        )
        .bind(user.to_string())
        .bind(&old_email)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        let ended =
            crate::resets::end_sessions(&mut tx, user, now, RevokeReason::EmailChangeUndone)
                .await?;
        let mut event = event.clone();
        event.detail["sessions_ended"] = ended.into();
        event.detail["identities_removed"] = unlinked.into();
        audit::insert(&mut tx, &event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(ended))
    }

    async fn prune_email_changes(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM email_changes WHERE expires_at < $1 \
             AND (undo_expires_at IS NULL OR undo_expires_at < $1)",
        )
        .bind(ts(before))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
