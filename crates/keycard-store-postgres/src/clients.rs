//! The registry of client applications.

use crate::rows::{opt_text, text, time_col};
use crate::{PgStore, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::oidc::{Client, ClientKind, ClientStore, GrantType, IdTokenAlg};
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

const COLS: &str = "id, name, logo_url, kind, secret_hash, redirect_uris, \
     post_logout_redirect_uris, backchannel_logout_uri, grant_types, scopes, first_party, \
     id_token_alg, enabled, created_at, updated_at";

fn list(row: &PgRow, col: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(&text(row, col)?).map_err(|_| StoreError::Corrupt(col.to_owned()))
}

fn json(v: &[String]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

fn client(row: &PgRow) -> StoreResult<Client> {
    let corrupt = |c: &str| StoreError::Corrupt(format!("oauth_clients.{c}"));
    let secret: Option<Vec<u8>> = row.try_get("secret_hash").map_err(db_err)?;
    Ok(Client {
        id: text(row, "id")?,
        name: text(row, "name")?,
        logo_url: opt_text(row, "logo_url")?,
        kind: ClientKind::parse(&text(row, "kind")?).ok_or_else(|| corrupt("kind"))?,
        secret_hash: secret
            .map(|b| b.try_into().map(TokenHash))
            .transpose()
            .map_err(|_| corrupt("secret_hash"))?,
        redirect_uris: list(row, "redirect_uris")?,
        post_logout_redirect_uris: list(row, "post_logout_redirect_uris")?,
        backchannel_logout_uri: opt_text(row, "backchannel_logout_uri")?,
        grant_types: list(row, "grant_types")?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant_types")))
            .collect::<StoreResult<_>>()?,
        scopes: list(row, "scopes")?,
        first_party: row.try_get("first_party").map_err(db_err)?,
        id_token_alg: IdTokenAlg::parse(&text(row, "id_token_alg")?)
            .ok_or_else(|| corrupt("id_token_alg"))?,
        enabled: row.try_get("enabled").map_err(db_err)?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

fn grants(c: &Client) -> String {
    let names: Vec<String> = c
        .grant_types
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect();
    json(&names)
}

#[async_trait]
impl ClientStore for PgStore {
    async fn insert_client(&self, c: &Client, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oauth_clients ({COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO NOTHING"
        )))
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.logo_url.as_deref())
        .bind(c.kind.as_str())
        .bind(c.secret_hash.as_ref().map(|h| h.0.to_vec()))
        .bind(json(&c.redirect_uris))
        .bind(json(&c.post_logout_redirect_uris))
        .bind(c.backchannel_logout_uri.as_deref())
        .bind(grants(c))
        .bind(json(&c.scopes))
        .bind(c.first_party)
        .bind(c.id_token_alg.as_str())
        .bind(c.enabled)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::ClientTaken);
        }
        crate::audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_client(&self, c: &Client, event: &AuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_clients SET name = $2, logo_url = $3, kind = $4, redirect_uris = $5, \
             post_logout_redirect_uris = $6, backchannel_logout_uri = $7, grant_types = $8, \
             scopes = $9, first_party = $10, id_token_alg = $11, enabled = $12, updated_at = $13, \
             secret_hash = $14 WHERE id = $1",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.logo_url.as_deref())
        .bind(c.kind.as_str())
        .bind(json(&c.redirect_uris))
        .bind(json(&c.post_logout_redirect_uris))
        .bind(c.backchannel_logout_uri.as_deref())
        .bind(grants(c))
        .bind(json(&c.scopes))
        .bind(c.first_party)
        .bind(c.id_token_alg.as_str())
        .bind(c.enabled)
        .bind(c.updated_at)
        .bind(c.secret_hash.as_ref().map(|h| h.0.to_vec()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        crate::audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn find_client(&self, id: &str) -> StoreResult<Option<Client>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM oauth_clients WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(client).transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM oauth_clients ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(client).collect()
    }

    async fn delete_client(&self, id: &str, event: &AuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        crate::audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret: Option<&TokenHash>,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_clients SET secret_hash = $2, updated_at = $3 \
             WHERE id = $1 AND kind = 'confidential'",
        )
        .bind(id)
        .bind(secret.map(|h| h.0.to_vec()))
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        crate::audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
