//! Authorization codes and consents.

use crate::rows::{opt_text, opt_time_col, text, time_col, uuid_col};
use crate::sessions::insert_session;
use crate::{PgStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::{SessionId, UserId};
use keycard_core::oidc::{AuthCode, GrantStore, Redemption};
use keycard_core::sessions::{RevokeReason, Session};
use keycard_core::store::{NewRefreshToken, StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

fn code(row: &PgRow) -> StoreResult<AuthCode> {
    let hash: Vec<u8> = row.try_get("code_hash").map_err(db_err)?;
    let words = |c: &str| -> StoreResult<Vec<String>> {
        Ok(text(row, c)?
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    };
    Ok(AuthCode {
        hash: TokenHash(
            hash.try_into()
                .map_err(|_| StoreError::Corrupt("oauth_codes.code_hash".into()))?,
        ),
        client_id: text(row, "client_id")?,
        user_id: UserId(uuid_col(row, "user_id")?),
        browser_session_id: SessionId(uuid_col(row, "browser_session_id")?),
        redirect_uri: text(row, "redirect_uri")?,
        scopes: words("scope")?,
        nonce: opt_text(row, "nonce")?,
        code_challenge: opt_text(row, "code_challenge")?,
        amr: words("amr")?,
        auth_time: time_col(row, "auth_time")?,
        created_at: time_col(row, "created_at")?,
        expires_at: time_col(row, "expires_at")?,
        used_at: opt_time_col(row, "used_at")?,
    })
}

#[async_trait]
impl GrantStore for PgStore {
    async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, browser_session_id, \
             redirect_uri, scope, nonce, code_challenge, amr, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(c.hash.0.as_slice())
        .bind(&c.client_id)
        .bind(c.user_id.0)
        .bind(c.browser_session_id.0)
        .bind(&c.redirect_uri)
        .bind(c.scopes.join(" "))
        .bind(c.nonce.as_deref())
        .bind(c.code_challenge.as_deref())
        .bind(c.amr.join(" "))
        .bind(c.auth_time)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn find_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthCode>> {
        sqlx::query("SELECT * FROM oauth_codes WHERE code_hash = $1")
            .bind(hash.0.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(code)
            .transpose()
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        grant: &Session,
        refresh: Option<&NewRefreshToken>,
        event: &AuditEvent,
        replay_event: &AuditEvent,
    ) -> StoreResult<Redemption> {
        let mut tx = self.begin().await?;
        let spent = sqlx::query(
            "UPDATE oauth_codes SET used_at = $2, grant_session_id = $3 \
             WHERE code_hash = $1 AND used_at IS NULL",
        )
        .bind(hash.0.as_slice())
        .bind(now)
        .bind(grant.id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if spent == 1 {
            insert_session(&mut tx, grant).await?;
            if let Some(r) = refresh {
                crate::sessions::insert_refresh(&mut tx, r.id, grant.id, &r.hash, r.issued_at)
                    .await?;
            }
            audit::insert(&mut tx, event).await?;
            tx.commit().await.map_err(db_err)?;
            return Ok(Redemption::Redeemed);
        }
        let row = sqlx::query("SELECT grant_session_id FROM oauth_codes WHERE code_hash = $1")
            .bind(hash.0.as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(Redemption::Unknown);
        };
        let prior: Option<uuid::Uuid> = row.try_get("grant_session_id").map_err(db_err)?;
        let prior = prior.map(SessionId);
        if let Some(id) = prior {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
                 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id.0)
            .bind(now)
            .bind(RevokeReason::CodeReuse.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        audit::insert(&mut tx, replay_event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Redemption::Replayed { grant: prior })
    }

    async fn prune_codes(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected())
    }

    async fn find_consent(&self, user: UserId, client: &str) -> StoreResult<Option<Vec<String>>> {
        let row =
            sqlx::query("SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user.0)
                .bind(client)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(|r| {
            Ok(text(&r, "scope")?
                .split_whitespace()
                .map(str::to_owned)
                .collect())
        })
        .transpose()
    }

    async fn list_consents(
        &self,
        user: UserId,
    ) -> StoreResult<Vec<(String, Vec<String>, OffsetDateTime)>> {
        let rows = sqlx::query(
            "SELECT client_id, scope, granted_at FROM oauth_consents WHERE user_id = $1 \
             ORDER BY granted_at DESC, client_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    text(r, "client_id")?,
                    text(r, "scope")?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    time_col(r, "granted_at")?,
                ))
            })
            .collect()
    }

    async fn withdraw_consent(
        &self,
        user: UserId,
        client: &str,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let consents =
            sqlx::query("DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user.0)
                .bind(client)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        let grants = sqlx::query(
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND client_id = $2 AND kind = 'grant' AND revoked_at IS NULL \
               AND expires_at > $3 AND idle_expires_at > $3",
        )
        .bind(user.0)
        .bind(client)
        .bind(now)
        .bind(RevokeReason::RevokedByUser.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        // No way back in through what was already under way: unused codes are spent, approved
        // device requests denied.
        sqlx::query(
            "UPDATE oauth_codes SET used_at = $3 \
             WHERE user_id = $1 AND client_id = $2 AND used_at IS NULL",
        )
        .bind(user.0)
        .bind(client)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE oauth_device_requests SET state = 'denied' \
             WHERE user_id = $1 AND client_id = $2 AND state = 'approved'",
        )
        .bind(user.0)
        .bind(client)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if consents + grants > 0 {
            audit::insert(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(consents + grants > 0)
    }

    async fn save_consent(
        &self,
        user: UserId,
        client: &str,
        scopes: &[String],
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO oauth_consents (user_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
        )
        .bind(user.0)
        .bind(client)
        .bind(scopes.join(" "))
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)
    }
}
