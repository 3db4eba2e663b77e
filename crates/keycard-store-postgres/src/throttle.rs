//! Throttling counters. Each call is one statement, so it is atomic by itself.

use crate::{PgStore, db_err};
use async_trait::async_trait;
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::throttle::{Counted, FailureRecord, Lockout, ThrottleStore};
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

    async fn count_login_failure(
        &self,
        account: &str,
        now_ms: i64,
        lockout: &Lockout,
    ) -> StoreResult<Counted> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // A placeholder row (no failures yet) gives concurrent first attempts a row to queue on.
        sqlx::query(
            "INSERT INTO login_failures (account, failures, last_failure_ms, locked_until_ms) \
             VALUES ($1, 0, 0, 0) ON CONFLICT (account) DO NOTHING",
        )
        .bind(account)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let previous = read_failures(&mut tx, account, " FOR UPDATE").await?;
        if let Some(until_ms) = previous.and_then(|p| p.locked_at(now_ms)) {
            tx.commit().await.map_err(db_err)?;
            return Ok(Counted::Locked { until_ms });
        }
        let counted = FailureRecord::after_failure(previous.as_ref(), now_ms, lockout);
        sqlx::query(
            "INSERT INTO login_failures (account, failures, last_failure_ms, locked_until_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET \
             failures = excluded.failures, last_failure_ms = excluded.last_failure_ms, \
             locked_until_ms = excluded.locked_until_ms",
        )
        .bind(account)
        .bind(i64::from(counted.failures))
        .bind(counted.last_failure_ms)
        .bind(counted.locked_until_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Counted::Counted { previous, counted })
    }

    async fn uncount_login_failure(
        &self,
        account: &str,
        counted: &FailureRecord,
        previous: Option<&FailureRecord>,
    ) -> StoreResult<()> {
        let q = match previous {
            Some(p) => sqlx::query(
                "UPDATE login_failures SET failures = $5, last_failure_ms = $6, locked_until_ms = $7 \
                 WHERE account = $1 AND failures = $2 AND last_failure_ms = $3 AND locked_until_ms = $4",
            )
            .bind(account)
            .bind(i64::from(counted.failures))
            .bind(counted.last_failure_ms)
            .bind(counted.locked_until_ms)
            .bind(i64::from(p.failures))
            .bind(p.last_failure_ms)
            .bind(p.locked_until_ms),
            None => sqlx::query(
                "DELETE FROM login_failures WHERE account = $1 AND failures = $2 \
                 AND last_failure_ms = $3 AND locked_until_ms = $4",
            )
            .bind(account)
            .bind(i64::from(counted.failures))
            .bind(counted.last_failure_ms)
            .bind(counted.locked_until_ms),
        };
        q.execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    async fn clear_login_failures(&self, account: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE account = $1")
            .bind(account)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn prune_throttles(
        &self,
        now_ms: i64,
        forget_before_ms: i64,
        free_failures: u32,
    ) -> StoreResult<u64> {
        let rates = sqlx::query("DELETE FROM rate_limits WHERE tat_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        let failures = sqlx::query(
            "DELETE FROM login_failures WHERE locked_until_ms <= $1 AND last_failure_ms < $2 \
             AND failures <= $3",
        )
        .bind(now_ms)
        .bind(forget_before_ms)
        .bind(i64::from(free_failures))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rates.rows_affected() + failures.rows_affected())
    }
}

/// The account's failures (`None`: none, or only the placeholder of an attempt in flight).
async fn read_failures(
    conn: &mut sqlx::PgConnection,
    account: &str,
    lock: &str,
) -> StoreResult<Option<FailureRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT failures, last_failure_ms, locked_until_ms FROM login_failures WHERE account = $1{lock}"
    )))
    .bind(account)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    let Some(r) = row else {
        return Ok(None);
    };
    let failures = u32::try_from(r.try_get::<i64, _>("failures").map_err(db_err)?)
        .map_err(|_| StoreError::Corrupt("login_failures.failures out of range".into()))?;
    if failures == 0 {
        return Ok(None);
    }
    Ok(Some(FailureRecord {
        failures,
        last_failure_ms: r.try_get("last_failure_ms").map_err(db_err)?,
        locked_until_ms: r.try_get("locked_until_ms").map_err(db_err)?,
    }))
}
