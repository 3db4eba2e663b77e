//! Passkeys (keycard-core's `passkeys`): the credentials, and the ceremonies under way.

use crate::lifecycle::insert_mail;
use crate::rows::{opt_text, opt_time_col, text, time_col, uuid_col};
use crate::{PgStore, audit, db_err};
use async_trait::async_trait;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::mail::PendingMail;
use keycard_core::passkeys::{Ceremony, CeremonyKind, PasskeyStore, StoredPasskey};
use keycard_core::store::StoreResult;
use keycard_core::tokens::TokenHash;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

const COLS: &str = "id, user_id, credential_id, name, credential, sign_count, backup_eligible, \
                    created_at, last_used_at";

fn passkey(r: &sqlx::postgres::PgRow) -> StoreResult<StoredPasskey> {
    Ok(StoredPasskey {
        id: uuid_col(r, "id")?,
        user_id: UserId(uuid_col(r, "user_id")?),
        credential_id: r.try_get("credential_id").map_err(db_err)?,
        name: text(r, "name")?,
        credential: text(r, "credential")?,
        sign_count: r.try_get("sign_count").map_err(db_err)?,
        backup_eligible: r.try_get("backup_eligible").map_err(db_err)?,
        created_at: time_col(r, "created_at")?,
        last_used_at: opt_time_col(r, "last_used_at")?,
    })
}

#[async_trait]
impl PasskeyStore for PgStore {
    async fn list_passkeys(&self, user: UserId) -> StoreResult<Vec<StoredPasskey>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(passkey).collect()
    }

    async fn find_passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<StoredPasskey>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM passkeys WHERE credential_id = $1"
        )))
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(passkey).transpose()
    }

    async fn add_passkey(
        &self,
        p: &StoredPasskey,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, sign_count, \
             backup_eligible, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(p.id)
        .bind(p.user_id.0)
        .bind(p.credential_id.as_slice())
        .bind(&p.name)
        .bind(&p.credential)
        .bind(p.sign_count)
        .bind(p.backup_eligible)
        .bind(p.created_at)
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

    async fn rename_passkey(&self, user: UserId, id: Uuid, name: &str) -> StoreResult<bool> {
        let n = sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(n == 1)
    }

    async fn remove_passkey(
        &self,
        user: UserId,
        id: Uuid,
        event: &AuditEvent,
        mail: Option<&PendingMail>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.0)
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

    async fn use_passkey(
        &self,
        id: Uuid,
        seen: i64,
        sign_count: i64,
        credential: &str,
        backup_eligible: bool,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE passkeys SET sign_count = $3, credential = $4, last_used_at = $5, \
               backup_eligible = $6 \
             WHERE id = $1 AND sign_count = $2 AND ($3 > $2 OR $3 = 0)",
        )
        .bind(id)
        .bind(seen)
        .bind(sign_count)
        .bind(credential)
        .bind(now)
        .bind(backup_eligible)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn put_ceremony(&self, c: &Ceremony, now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id_hash, kind, user_id, binding, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.id_hash.0.as_slice())
        .bind(c.kind.as_str())
        .bind(c.user_id.map(|u| u.0))
        .bind(c.binding.as_deref())
        .bind(&c.state)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn take_ceremony(
        &self,
        id_hash: &TokenHash,
        kind: CeremonyKind,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Ceremony>> {
        // Taken whatever it holds (spent by any attempt); only a live one of the kind is used.
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 \
             RETURNING kind, user_id, binding, state, expires_at",
        )
        .bind(id_hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(r) = row else {
            return Ok(None);
        };
        let expires_at = time_col(&r, "expires_at")?;
        if text(&r, "kind")? != kind.as_str() || expires_at <= now {
            return Ok(None);
        }
        let user_id: Option<Uuid> = r.try_get("user_id").map_err(db_err)?;
        let user_id = user_id.map(UserId);
        Ok(Some(Ceremony {
            id_hash: *id_hash,
            kind,
            user_id,
            binding: opt_text(&r, "binding")?,
            state: text(&r, "state")?,
            expires_at,
        }))
    }
}
