use crate::rows::{bytes, opt_text, text, time_col, uuid_col};
use crate::{PgStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::{MailId, UserId};
use keycard_core::lifecycle::{
    CompletedReset, LifecycleStore, NewPasswordReset, NewVerification, ResetDone, ResetLink,
    Verified,
};
use keycard_core::mail::{OutboxStore, PendingMail};
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

pub(crate) async fn insert_mail(conn: &mut PgConnection, m: &PendingMail) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, kind, recipient, locale, sealed, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(m.id.0)
    .bind(&m.kind)
    .bind(&m.recipient)
    .bind(&m.locale)
    .bind(&m.sealed)
    .bind(m.created_at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_verification(conn: &mut PgConnection, v: &NewVerification) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(v.token_hash.0.as_slice())
    .bind(v.user_id.0)
    .bind(&v.email)
    .bind(v.created_at)
    .bind(v.expires_at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn queue_mail(&self, mail: &PendingMail) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_mail(&mut conn, mail).await
    }

    async fn prune_mail(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM mail_outbox WHERE sent_at < $1 OR failed_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<PendingMail>> {
        // SKIP LOCKED: instances claiming at once take different messages.
        let rows = sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN (SELECT id FROM mail_outbox \
                          WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                          ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, recipient, locale, sealed, created_at, attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(PendingMail {
                    id: MailId(uuid_col(r, "id")?),
                    kind: text(r, "kind")?,
                    recipient: text(r, "recipient")?,
                    locale: text(r, "locale")?,
                    sealed: bytes(r, "sealed")?,
                    created_at: time_col(r, "created_at")?,
                    attempts: u32::try_from(r.try_get::<i32, _>("attempts").map_err(db_err)?)
                        .map_err(|_| StoreError::Corrupt("mail_outbox.attempts".into()))?,
                })
            })
            .collect()
    }

    async fn mail_sent(&self, id: MailId, attempt: u32, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_at = $2, sealed = NULL WHERE id = $1 AND attempts = $3",
        )
        .bind(id.0)
        .bind(now)
        .bind(i64::from(attempt))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn mail_retry(
        &self,
        id: MailId,
        attempt: u32,
        next: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE mail_outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND attempts = $4")
            .bind(id.0)
            .bind(next)
            .bind(error)
        .bind(i64::from(attempt))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn mail_failed(
        &self,
        id: MailId,
        attempt: u32,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE mail_outbox SET failed_at = $2, last_error = $3, sealed = NULL \
             WHERE id = $1 AND attempts = $4",
        )
        .bind(id.0)
        .bind(now)
        .bind(error)
        .bind(i64::from(attempt))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl LifecycleStore for PgStore {
    async fn create_unverified_account(
        &self,
        user: &keycard_core::accounts::User,
        password_hash: &str,
        link: &NewVerification,
        mail: &PendingMail,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        crate::accounts::insert_user(&mut tx, user).await?;
        sqlx::query(
            "INSERT INTO password_credentials (user_id, hash, updated_at, verify_first) \
             VALUES ($1, $2, $3, TRUE)",
        )
        .bind(user.id.0)
        .bind(password_hash)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_verification(&mut tx, link).await?;
        insert_mail(&mut tx, mail).await?;
        for event in events {
            audit::insert(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn password_awaits_verification(&self, user: UserId) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM password_credentials WHERE user_id = $1 AND verify_first = TRUE",
        )
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.is_some())
    }

    async fn prune_links(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let mut gone = 0;
        for table in ["email_verifications", "password_resets"] {
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE expires_at < $1"
            )))
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
            gone += done.rows_affected();
        }
        Ok(gone)
    }

    async fn create_password_reset(
        &self,
        r: &NewPasswordReset,
        mail: &PendingMail,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.create_reset(r, mail, audit).await
    }

    async fn find_password_reset(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ResetLink>> {
        self.find_reset(token_hash, now).await
    }

    async fn complete_password_reset(
        &self,
        r: &CompletedReset<'_>,
    ) -> StoreResult<Option<ResetDone>> {
        self.complete_reset(r).await
    }

    async fn create_verification(
        &self,
        v: &NewVerification,
        mail: &PendingMail,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_verification(&mut tx, v).await?;
        insert_mail(&mut tx, mail).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn last_verification_at(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>> {
        let row = sqlx::query(
            "SELECT max(created_at) AS last FROM email_verifications WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        crate::rows::opt_time_col(&row, "last")
    }

    async fn consume_verification(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Verified>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE email_verifications SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
               AND email = (SELECT u.email FROM users u WHERE u.id = email_verifications.user_id) \
             RETURNING user_id, email",
        )
        .bind(token_hash.0.as_slice())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let verified = Verified {
            user_id: UserId(uuid_col(&row, "user_id")?),
            email: opt_text(&row, "email")?.unwrap_or_default(),
        };
        sqlx::query("UPDATE users SET email_verified = true, updated_at = $2 WHERE id = $1")
            .bind(verified.user_id.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut ev = audit.clone();
        ev.user_id = Some(verified.user_id);
        audit::insert(&mut tx, &ev).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(verified))
    }
}
