use crate::rows::{opt_time_col, text, time_col, ts};
use crate::{SqliteStore, db_err};
use async_trait::async_trait;
use keycard_core::store::{KeyRepository, StoreResult};
use keycard_core::tokens::StoredKey;
use sqlx::Row;
use time::OffsetDateTime;

#[async_trait]
impl KeyRepository for SqliteStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT kid, alg, public_jwk, sealed_private_key, created_at, retire_at FROM signing_keys \
             ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    kid: text(r, "kid")?,
                    alg: text(r, "alg")?,
                    public_jwk: text(r, "public_jwk")?,
                    sealed_private_key: r.try_get("sealed_private_key").map_err(db_err)?,
                    created_at: time_col(r, "created_at")?,
                    retire_at: opt_time_col(r, "retire_at")?,
                })
            })
            .collect()
    }

    async fn add_signing_key(
        &self,
        key: &StoredKey,
        retire_others_at: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(at) = retire_others_at {
            sqlx::query(
                "UPDATE signing_keys SET retire_at = $1 WHERE retire_at IS NULL AND alg = $2",
            )
            .bind(ts(at))
            .bind(&key.alg)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private_key, created_at, retire_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.public_jwk)
        .bind(&key.sealed_private_key)
        .bind(ts(key.created_at))
        .bind(key.retire_at.map(ts))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}
