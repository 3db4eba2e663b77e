//! Throttling counters. Each call is one statement, so it is atomic by itself.

use crate::{PgStore, db_err};
use async_trait::async_trait;
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::throttle::{FailureRecord, ThrottleStore};
use sqlx::Row;

#[async_trait]
impl ThrottleStore for PgStore {
    async fn take_rate(
        &self,
        key: &str,
        now_ms: i64,
        interval_ms: i64,
        window_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let taken = sqlx::query(
            "INSERT INTO rate_limits (key, tat_ms) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET tat_ms = GREATEST(rate_limits.tat_ms, $2) + $3 \
             WHERE GREATEST(rate_limits.tat_ms, $2) + $3 - $2 <= $4 \
             RETURNING tat_ms",
        )
        .bind(key)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(window_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        if taken.is_some() {
            return Ok(None);
        }
        let tat: i64 = sqlx::query_scalar("SELECT tat_ms FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(Some(tat))
    }

    async fn give_back_rate(&self, key: &str, interval_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE rate_limits SET tat_ms = tat_ms - $2 WHERE key = $1")
            .bind(key)
            .bind(interval_ms)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn login_failures(&self, account: &str) -> StoreResult<Option<FailureRecord>> {
        let row = sqlx::query(
            "SELECT failures, last_failure_ms, locked_until_ms FROM login_failures WHERE account = $1",
        )
        .bind(account)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(FailureRecord {
                failures: u32::try_from(r.try_get::<i64, _>("failures").map_err(db_err)?).map_err(
                    |_| StoreError::Corrupt("login_failures.failures out of range".into()),
                )?,
                last_failure_ms: r.try_get("last_failure_ms").map_err(db_err)?,
                locked_until_ms: r.try_get("locked_until_ms").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn swap_login_failures(
        &self,
        account: &str,
        expected: u32,
        next: &FailureRecord,
    ) -> StoreResult<bool> {
        let sql = if expected == 0 {
            "INSERT INTO login_failures (account, failures, last_failure_ms, locked_until_ms) \
             VALUES ($1, $3, $4, $5) ON CONFLICT (account) DO NOTHING"
        } else {
            "UPDATE login_failures SET failures = $3, last_failure_ms = $4, locked_until_ms = $5 \
             WHERE account = $1 AND failures = $2"
        };
        let done = sqlx::query(sql)
            .bind(account)
            .bind(i64::from(expected))
            .bind(i64::from(next.failures))
            .bind(next.last_failure_ms)
            .bind(next.locked_until_ms)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn clear_login_failures(&self, account: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE account = $1")
            .bind(account)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn prune_throttles(&self, now_ms: i64, forget_before_ms: i64) -> StoreResult<u64> {
        let rates = sqlx::query("DELETE FROM rate_limits WHERE tat_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        let failures = sqlx::query(
            "DELETE FROM login_failures WHERE locked_until_ms <= $1 AND last_failure_ms < $2",
        )
        .bind(now_ms)
        .bind(forget_before_ms)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rates.rows_affected() + failures.rows_affected())
    }
}
