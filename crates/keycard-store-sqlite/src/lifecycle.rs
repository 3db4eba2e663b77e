use crate::rows::{opt_text, text, time_col, ts, uuid_col};
use crate::{SqliteStore, audit, db_err};
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
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

pub(crate) async fn insert_mail(conn: &mut SqliteConnection, m: &PendingMail) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, kind, recipient, locale, sealed, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(m.id.to_string())
    .bind(&m.kind)
    .bind(&m.recipient)
    .bind(&m.locale)
    .bind(&m.sealed)
    .bind(ts(m.created_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_verification(conn: &mut SqliteConnection, v: &NewVerification) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(v.token_hash.0.as_slice())
    .bind(v.user_id.to_string())
    .bind(&v.email)
    .bind(ts(v.created_at))
    .bind(ts(v.expires_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn queue_mail(&self, mail: &PendingMail) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        insert_mail(&mut conn, mail).await
    }

    async fn prune_mail(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM mail_outbox WHERE sent_at < $1 OR failed_at < $1")
            .bind(ts(before))
            .execute(&self.writer)
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
        // One writer at a time: two claims never take the same message.
        let rows = sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN (SELECT id FROM mail_outbox \
                          WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                          ORDER BY next_attempt_at LIMIT $3) \
             RETURNING id, kind, recipient, locale, sealed, created_at, attempts",
        )
        .bind(ts(now))
        .bind(ts(lease_until))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(PendingMail {
                    id: MailId(uuid_col(r, "id")?),
                    kind: text(r, "kind")?,
                    recipient: text(r, "recipient")?,
                    locale: text(r, "locale")?,
                    sealed: r.try_get::<Vec<u8>, _>("sealed").map_err(db_err)?,
                    created_at: time_col(r, "created_at")?,
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts").map_err(db_err)?)
                        .map_err(|_| StoreError::Corrupt("mail_outbox.attempts".into()))?,
                })
            })
            .collect()
    }

    async fn mail_sent(&self, id: MailId, attempt: u32, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_at = $2, sealed = NULL WHERE id = $1 AND attempts = $3",
        )
        .bind(id.to_string())
        .bind(ts(now))
        .bind(i64::from(attempt))
        .execute(&self.writer)
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
            .bind(id.to_string())
            .bind(ts(next))
            .bind(error)
        .bind(i64::from(attempt))
            .execute(&self.writer)
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
        .bind(id.to_string())
        .bind(ts(now))
        .bind(error)
        .bind(i64::from(attempt))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl LifecycleStore for SqliteStore {
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
             VALUES ($1, $2, $3, 1)",
        )
        .bind(user.id.to_string())
        .bind(password_hash)
        .bind(ts(user.created_at))
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
            "SELECT 1 FROM password_credentials WHERE user_id = $1 AND verify_first = 1",
        )
        .bind(user.to_string())
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
            .bind(ts(before))
            .execute(&self.writer)
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
        .bind(user.to_string())
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
        .bind(ts(now))
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
        sqlx::query("UPDATE users SET email_verified = 1, updated_at = $2 WHERE id = $1")
            .bind(verified.user_id.to_string())
            .bind(ts(now))
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

#[cfg(test)]
mod tests {
    use super::*;
    use keycard_core::store::Store;
    use time::{Duration, macros::datetime};

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn mail(at: OffsetDateTime) -> PendingMail {
        PendingMail {
            id: MailId::new(),
            kind: "verify_email".into(),
            recipient: "ada@example.com".into(),
            locale: "en".into(),
            sealed: vec![1, 2, 3],
            created_at: at,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn only_finished_mail_and_expired_links_are_pruned() {
        let store = SqliteStore::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let (sent, pending) = (mail(NOW), mail(NOW));
        for m in [&sent, &pending] {
            let mut conn = store.writer.acquire().await.unwrap();
            insert_mail(&mut conn, m).await.unwrap();
        }
        let claimed = store
            .claim_mail(NOW, NOW + Duration::minutes(5), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2);
        // A report for an older claim changes nothing; the current one does.
        store.mail_sent(sent.id, 0, NOW).await.unwrap();
        assert_eq!(store.prune_mail(NOW + Duration::days(1)).await.unwrap(), 0);
        store.mail_sent(sent.id, 1, NOW).await.unwrap();
        assert_eq!(
            store.prune_mail(NOW).await.unwrap(),
            0,
            "kept until `before`"
        );
        assert_eq!(store.prune_mail(NOW + Duration::days(1)).await.unwrap(), 1);
        // The pending one is still there, due again once its lease ran out.
        let again = store
            .claim_mail(NOW + Duration::minutes(6), NOW + Duration::minutes(11), 10)
            .await
            .unwrap();
        assert_eq!(
            again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
            [(pending.id, 2)]
        );

        let user = UserId::new();
        sqlx::query(
            "INSERT INTO users (id, email, email_verified, created_at, updated_at) \
             VALUES ($1, 'ada@example.com', 0, 0, 0)",
        )
        .bind(user.to_string())
        .execute(&store.writer)
        .await
        .unwrap();
        for (n, expires) in [(1u8, NOW), (2, NOW + Duration::days(2))] {
            let v = NewVerification {
                token_hash: TokenHash([n; 32]),
                user_id: user,
                email: "ada@example.com".into(),
                created_at: NOW - Duration::days(1),
                expires_at: expires,
            };
            store.create_verification(&v, &mail(NOW)).await.unwrap();
        }
        assert_eq!(store.prune_links(NOW + Duration::days(1)).await.unwrap(), 1);
    }
}
