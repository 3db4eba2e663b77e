//! The webhook queue (keycard-core's `webhooks`): filled by the trigger of migration 0013,
//! drained by claims with a lease, as the mail outbox is.

use crate::rows::{self, AUDIT_COLS};
use crate::{SqliteStore, db_err};
use async_trait::async_trait;
use keycard_core::ids::AuditId;
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::webhooks::{ClaimedEvent, WebhookStore};
use sqlx::Row;
use std::collections::HashMap;
use time::OffsetDateTime;

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn set_webhooks_enabled(&self, enabled: bool) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_config SET enabled = $1 WHERE id = 1")
            .bind(enabled)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn webhooks_enabled(&self) -> StoreResult<bool> {
        let row = sqlx::query("SELECT enabled FROM webhook_config WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => r.try_get::<bool, _>("enabled").map_err(db_err),
            None => Ok(false),
        }
    }

    async fn claim_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEvent>> {
        let claimed = sqlx::query(
            "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
             WHERE event_id IN (SELECT event_id FROM webhook_outbox \
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at LIMIT $3) \
             RETURNING event_id, attempts",
        )
        .bind(rows::ts(now))
        .bind(rows::ts(lease_until))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db_err)?;
        let mut attempts = HashMap::new();
        for r in &claimed {
            let id = rows::uuid_col(r, "event_id")?;
            let n = r.try_get::<i64, _>("attempts").map_err(db_err)?;
            let n = u32::try_from(n)
                .map_err(|_| StoreError::Corrupt("webhook_outbox.attempts".into()))?;
            attempts.insert(id, n);
        }
        let mut out = Vec::with_capacity(attempts.len());
        for (id, n) in attempts {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {AUDIT_COLS} FROM audit_events WHERE id = $1"
            )))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
            let Some(row) = row else { continue };
            match rows::audit(&row) {
                Ok(event) => out.push(ClaimedEvent { event, attempts: n }),
                // A row this version cannot read (a kind from a newer one, say) is given up
                // alone; the rest of the batch goes on.
                Err(e) => {
                    tracing::error!(event.id = %id, error = %e, "webhook given up: its audit event cannot be read");
                    sqlx::query(
                        "UPDATE webhook_outbox SET failed_at = $2, last_error = $3 WHERE event_id = $1",
                    )
                    .bind(id.to_string())
                    .bind(rows::ts(now))
                    .bind("the audit event cannot be read")
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        Ok(out)
    }

    async fn webhook_sent(
        &self,
        id: AuditId,
        attempt: u32,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_outbox SET sent_at = $2 WHERE event_id = $1 AND attempts = $3")
            .bind(id.to_string())
            .bind(rows::ts(now))
            .bind(i64::from(attempt))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn webhook_retry(
        &self,
        id: AuditId,
        attempt: u32,
        next: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_outbox SET next_attempt_at = $2, last_error = $3 \
             WHERE event_id = $1 AND attempts = $4",
        )
        .bind(id.to_string())
        .bind(rows::ts(next))
        .bind(error)
        .bind(i64::from(attempt))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn webhook_failed(
        &self,
        id: AuditId,
        attempt: u32,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_outbox SET failed_at = $2, last_error = $3 \
             WHERE event_id = $1 AND attempts = $4",
        )
        .bind(id.to_string())
        .bind(rows::ts(now))
        .bind(error)
        .bind(i64::from(attempt))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn prune_webhooks(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM webhook_outbox WHERE COALESCE(sent_at, failed_at) < $1")
                .bind(rows::ts(before))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
