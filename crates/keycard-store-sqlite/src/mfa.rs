//! Second factors (keycard-core's `mfa`): the authenticator app, recovery codes, and sign-ins
//! waiting for their second step.

use crate::lifecycle::insert_mail;
use crate::rows::{opt_time_col, text, time_col, ts, uuid_col};
use crate::{SqliteStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::mail::PendingMail;
use keycard_core::mfa::{MfaChallenge, MfaStore, SecondFactorCounts, TotpFactor};
use keycard_core::sessions::SessionKind;
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

async fn put_codes(
    conn: &mut SqliteConnection,
    user: UserId,
    codes: &[String],
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    for c in codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, hash, created_at) VALUES ($1, $2, $3)")
            .bind(user.to_string())
            .bind(c)
            .bind(ts(now))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Removes every second factor of `user` (authenticator app, recovery codes, passkeys), in the
/// caller's transaction: for recoveries that cannot trust who added them. Returns how many
/// factors went (the app and each passkey).
pub(crate) async fn drop_second_factors(
    conn: &mut SqliteConnection,
    user: UserId,
) -> StoreResult<u64> {
    let app = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?
        .rows_affected();
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(app + drop_passkeys(conn, user).await?)
}

/// Removes `user`'s passkeys in the caller's transaction; returns how many.
pub(crate) async fn drop_passkeys(conn: &mut SqliteConnection, user: UserId) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?
        .rows_affected())
}

#[async_trait]
impl MfaStore for SqliteStore {
    async fn find_totp(&self, user: UserId) -> StoreResult<Option<TotpFactor>> {
        let row = sqlx::query(
            "SELECT secret, created_at, confirmed_at, last_step FROM totp_factors \
             WHERE user_id = $1",
        )
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(TotpFactor {
                sealed_secret: r.try_get("secret").map_err(db_err)?,
                created_at: time_col(&r, "created_at")?,
                confirmed_at: opt_time_col(&r, "confirmed_at")?,
                last_step: r.try_get("last_step").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn count_second_factors(&self, user: UserId) -> StoreResult<SecondFactorCounts> {
        let r = sqlx::query(
            "SELECT (SELECT confirmed_at FROM totp_factors WHERE user_id = $1) AS confirmed_at, \
             (SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL) AS codes, \
             (SELECT count(*) FROM passkeys WHERE user_id = $1) AS passkeys",
        )
        .bind(user.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let count = |col: &str| -> StoreResult<u64> {
            let n: i64 = r.try_get(col).map_err(db_err)?;
            u64::try_from(n).map_err(|_| StoreError::Corrupt(col.to_owned()))
        };
        Ok(SecondFactorCounts {
            totp_confirmed_at: opt_time_col(&r, "confirmed_at")?,
            recovery_codes: count("codes")?,
            passkeys: count("passkeys")?,
        })
    }

    async fn put_pending_totp(
        &self,
        user: UserId,
        sealed: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
               created_at = excluded.created_at \
             WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user.to_string())
        .bind(sealed)
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn confirm_totp(
        &self,
        user: UserId,
        sealed: &[u8],
        step: i64,
        now: OffsetDateTime,
        codes: &[String],
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $3, last_step = $4 \
             WHERE user_id = $1 AND secret = $2 AND confirmed_at IS NULL",
        )
        .bind(user.to_string())
        .bind(sealed)
        .bind(ts(now))
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        put_codes(&mut tx, user, codes, now).await?;
        if let Some(m) = mail {
            insert_mail(&mut tx, m).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE totp_factors SET last_step = $2 \
             WHERE user_id = $1 AND confirmed_at IS NOT NULL \
               AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(user.to_string())
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn remove_totp(
        &self,
        user: UserId,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n =
            sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if let Some(m) = mail {
            insert_mail(&mut tx, m).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn recovery_codes(&self, user: UserId) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT hash FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY hash",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| text(r, "hash")).collect()
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[String],
        now: OffsetDateTime,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        put_codes(&mut tx, user, codes, now).await?;
        if let Some(m) = mail {
            insert_mail(&mut tx, m).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: OffsetDateTime,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND hash = $2 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .bind(hash)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        if let Some(m) = mail {
            insert_mail(&mut tx, m).await?;
        }
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn create_mfa_challenge(&self, c: &MfaChallenge, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The expired are swept here, where new ones arrive, so the table stays small.
        sqlx::query("DELETE FROM mfa_challenges WHERE expires_at <= $1")
            .bind(ts(c.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO mfa_challenges (token_hash, user_id, kind, amr, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.token_hash.0.as_slice())
        .bind(c.user_id.to_string())
        .bind(c.kind.as_str())
        .bind(c.amr.join(" "))
        .bind(ts(c.created_at))
        .bind(ts(c.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn find_mfa_challenge(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<MfaChallenge>> {
        let row = sqlx::query(
            "SELECT user_id, kind, amr, created_at, expires_at FROM mfa_challenges \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash.0.as_slice())
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            let kind = text(&r, "kind")?;
            Ok(MfaChallenge {
                token_hash: *hash,
                user_id: UserId(uuid_col(&r, "user_id")?),
                kind: SessionKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt("mfa_challenges.kind".into()))?,
                amr: text(&r, "amr")?
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                created_at: time_col(&r, "created_at")?,
                expires_at: time_col(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn fail_mfa_challenge(&self, hash: &TokenHash, max: u32) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE mfa_challenges SET failures = failures + 1 WHERE token_hash = $1")
            .bind(hash.0.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1 AND failures >= $2")
            .bind(hash.0.as_slice())
            .bind(i64::from(max))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn spend_mfa_challenge(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
            .bind(hash.0.as_slice())
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(n == 1)
    }
}
