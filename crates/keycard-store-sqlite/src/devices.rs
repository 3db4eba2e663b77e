//! Device authorization requests (RFC 8628).

use crate::rows::{opt_text, opt_time_col, text, time_col, ts};
use crate::sessions::{insert_refresh, insert_session};
use crate::{SqliteStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::devices::{DeviceRequest, DeviceState, DeviceStore, Polled};
use keycard_core::ids::{SessionId, UserId};
use keycard_core::sessions::Session;
use keycard_core::store::{NewRefreshToken, StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("oauth_device_requests.{what}"))
}

fn request(row: &SqliteRow) -> StoreResult<DeviceRequest> {
    let hash: Vec<u8> = row.try_get("device_hash").map_err(db_err)?;
    let words = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let state = match text(row, "state")?.as_str() {
        "pending" => DeviceState::Pending,
        "denied" => DeviceState::Denied,
        "used" => DeviceState::Used,
        "approved" => {
            let id = |c: &str| -> StoreResult<uuid::Uuid> {
                opt_text(row, c)?
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| corrupt(c))
            };
            DeviceState::Approved {
                user_id: UserId(id("user_id")?),
                session_id: SessionId(id("session_id")?),
                amr: words(opt_text(row, "amr")?.unwrap_or_default()),
                auth_time: opt_time_col(row, "auth_time")?.ok_or_else(|| corrupt("auth_time"))?,
            }
        }
        _ => return Err(corrupt("state")),
    };
    Ok(DeviceRequest {
        device_hash: TokenHash(hash.try_into().map_err(|_| corrupt("device_hash"))?),
        user_code: text(row, "user_code")?,
        client_id: text(row, "client_id")?,
        scopes: words(text(row, "scope")?),
        device: text(row, "device")?,
        created_at: time_col(row, "created_at")?,
        expires_at: time_col(row, "expires_at")?,
        interval: row.try_get("poll_interval").map_err(db_err)?,
        last_polled_at: opt_time_col(row, "last_polled_at")?,
        state,
    })
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn insert_device_request(&self, r: &DeviceRequest) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO oauth_device_requests (device_hash, user_code, client_id, scope, device, \
             created_at, expires_at, poll_interval, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') ON CONFLICT DO NOTHING",
        )
        .bind(r.device_hash.0.as_slice())
        .bind(&r.user_code)
        .bind(&r.client_id)
        .bind(r.scopes.join(" "))
        .bind(&r.device)
        .bind(ts(r.created_at))
        .bind(ts(r.expires_at))
        .bind(r.interval)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_device_request(&self, user_code: &str) -> StoreResult<Option<DeviceRequest>> {
        sqlx::query("SELECT * FROM oauth_device_requests WHERE user_code = $1")
            .bind(user_code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(request)
            .transpose()
    }

    async fn decide_device_request(
        &self,
        user_code: &str,
        decision: &DeviceState,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let (user, session, amr, auth_time) = match decision {
            DeviceState::Approved {
                user_id,
                session_id,
                amr,
                auth_time,
            } => (
                Some(user_id.to_string()),
                Some(session_id.to_string()),
                Some(amr.join(" ")),
                Some(ts(*auth_time)),
            ),
            _ => (None, None, None, None),
        };
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_device_requests SET state = $2, user_id = $3, session_id = $4, \
             amr = $5, auth_time = $6 \
             WHERE user_code = $1 AND state = 'pending' AND expires_at > $7",
        )
        .bind(user_code)
        .bind(decision.as_str())
        .bind(user)
        .bind(session)
        .bind(amr)
        .bind(auth_time)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if done == 1 {
            audit::insert(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(done == 1)
    }

    async fn poll_device_request(
        &self,
        device_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Polled>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT * FROM oauth_device_requests WHERE device_hash = $1")
            .bind(device_hash.0.as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let req = request(&row)?;
        // A second of slack: times are whole seconds, and a client keeping the interval must
        // not be told to slow down by rounding.
        let too_soon = req
            .last_polled_at
            .is_some_and(|last| (now - last).whole_seconds() < req.interval - 1);
        sqlx::query(
            "UPDATE oauth_device_requests SET last_polled_at = $2, \
             poll_interval = poll_interval + $3 WHERE device_hash = $1",
        )
        .bind(device_hash.0.as_slice())
        .bind(ts(now))
        .bind(if too_soon { 5_i64 } else { 0 })
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(Polled {
            request: req,
            too_soon,
        }))
    }

    async fn redeem_device_request(
        &self,
        device_hash: &TokenHash,
        grant: &Session,
        refresh: Option<&NewRefreshToken>,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_device_requests SET state = 'used' \
             WHERE device_hash = $1 AND state = 'approved' \
               AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = oauth_device_requests.session_id \
                           AND s.revoked_at IS NULL AND s.expires_at > $2 \
                           AND s.idle_expires_at > $2)",
        )
        .bind(device_hash.0.as_slice())
        .bind(ts(grant.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if done != 1 {
            return Ok(false);
        }
        insert_session(&mut tx, grant).await?;
        if let Some(r) = refresh {
            insert_refresh(&mut tx, r.id, grant.id, &r.hash, r.issued_at).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn prune_device_requests(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM oauth_device_requests WHERE expires_at < $1")
                .bind(ts(before))
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected(),
        )
    }
}
