//! Social sign-in (PostgreSQL): pending flows, identities, and the accounts and browser sessions they open.

use crate::browser::insert_browser_session;
use crate::rows::{self, bytes, opt_text, text, time_col, uuid_col};
use crate::{PgStore, db_err};
use async_trait::async_trait;
use keycard_core::accounts::User;
use keycard_core::audit::AuditEvent;
use keycard_core::ids::{IdentityId, UserId};
use keycard_core::social::{
    Identity, LoginCode, NewBrowserSession, PendingFlow, SocialStore, Unlinked,
};
use keycard_core::store::{StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

const IDENTITY_COLS: &str = "id, user_id, provider, issuer, subject, email, email_verified, \
     name, picture_url, linked_at, last_used_at";

fn hash_col(row: &PgRow, col: &str) -> StoreResult<TokenHash> {
    bytes(row, col)?
        .try_into()
        .map(TokenHash)
        .map_err(|_| StoreError::Corrupt(col.to_owned()))
}

fn identity(row: &PgRow) -> StoreResult<Identity> {
    Ok(Identity {
        id: IdentityId(uuid_col(row, "id")?),
        user_id: UserId(uuid_col(row, "user_id")?),
        provider: text(row, "provider")?,
        issuer: text(row, "issuer")?,
        subject: text(row, "subject")?,
        email: opt_text(row, "email")?,
        email_verified: row.try_get("email_verified").map_err(db_err)?,
        name: opt_text(row, "name")?,
        picture_url: opt_text(row, "picture_url")?,
        linked_at: time_col(row, "linked_at")?,
        last_used_at: time_col(row, "last_used_at")?,
    })
}

async fn insert_identity(conn: &mut PgConnection, i: &Identity) -> StoreResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO identities ({IDENTITY_COLS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )))
    .bind(i.id.0)
    .bind(i.user_id.0)
    .bind(&i.provider)
    .bind(&i.issuer)
    .bind(&i.subject)
    .bind(i.email.as_deref())
    .bind(i.email_verified)
    .bind(i.name.as_deref())
    .bind(i.picture_url.as_deref())
    .bind(i.linked_at)
    .bind(i.last_used_at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl SocialStore for PgStore {
    async fn save_flow(&self, f: &PendingFlow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO social_flows (state_hash, provider, issuer, browser_hash, nonce, \
             pkce_verifier, return_to, link_user_id, created_at, expires_at, app_challenge) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&f.state_hash.0[..])
        .bind(&f.provider)
        .bind(&f.issuer)
        .bind(&f.browser_hash.0[..])
        .bind(&f.nonce)
        .bind(&f.pkce_verifier)
        .bind(&f.return_to)
        .bind(f.link_user.map(|u| u.0))
        .bind(f.created_at)
        .bind(f.expires_at)
        .bind(f.app_challenge.as_deref())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn take_flow(&self, state_hash: &TokenHash) -> StoreResult<Option<PendingFlow>> {
        let row = sqlx::query(
            "DELETE FROM social_flows WHERE state_hash = $1 \
             RETURNING state_hash, provider, issuer, browser_hash, nonce, pkce_verifier, \
             return_to, link_user_id, created_at, expires_at, app_challenge",
        )
        .bind(&state_hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            let link: Option<uuid::Uuid> = r.try_get("link_user_id").map_err(db_err)?;
            Ok(PendingFlow {
                state_hash: hash_col(&r, "state_hash")?,
                provider: text(&r, "provider")?,
                issuer: text(&r, "issuer")?,
                browser_hash: hash_col(&r, "browser_hash")?,
                nonce: text(&r, "nonce")?,
                pkce_verifier: text(&r, "pkce_verifier")?,
                return_to: text(&r, "return_to")?,
                link_user: link.map(UserId),
                created_at: time_col(&r, "created_at")?,
                expires_at: time_col(&r, "expires_at")?,
                app_challenge: opt_text(&r, "app_challenge")?,
            })
        })
        .transpose()
    }

    async fn prune_flows(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let codes = sqlx::query("DELETE FROM login_codes WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM social_flows WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() + codes.rows_affected())
    }

    async fn find_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<(Identity, User)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {IDENTITY_COLS} FROM identities WHERE issuer = $1 AND subject = $2"
        )))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let identity = identity(&row)?;
        let user = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM users WHERE id = $1",
            rows::USER_COLS
        )))
        .bind(identity.user_id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        match user {
            Some(u) => Ok(Some((identity, rows::user(&u)?))),
            None => Ok(None),
        }
    }

    async fn list_identities(&self, user: UserId) -> StoreResult<Vec<Identity>> {
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {IDENTITY_COLS} FROM identities WHERE user_id = $1 ORDER BY linked_at, id"
        )))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(identity).collect()
    }

    async fn create_social_account(
        &self,
        user: &User,
        identity: &Identity,
        session: &NewBrowserSession,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        crate::accounts::insert_user(&mut tx, user).await?;
        insert_identity(&mut tx, identity).await?;
        insert_browser_session(&mut tx, session, events).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn sign_in_identity(
        &self,
        i: &Identity,
        session: Option<&NewBrowserSession>,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE identities SET email = $1, email_verified = $2, name = $3, picture_url = $4, \
             last_used_at = $5 WHERE id = $6",
        )
        .bind(i.email.as_deref())
        .bind(i.email_verified)
        .bind(i.name.as_deref())
        .bind(i.picture_url.as_deref())
        .bind(i.last_used_at)
        .bind(i.id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        match session {
            Some(s) => insert_browser_session(&mut tx, s, events).await?,
            None => {
                for e in events {
                    crate::audit::insert(&mut tx, e).await?;
                }
            }
        }
        tx.commit().await.map_err(db_err)
    }

    async fn link_identity(
        &self,
        identity: &Identity,
        session: Option<&NewBrowserSession>,
        events: &[AuditEvent],
        mail: Option<&keycard_core::mail::PendingMail>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_identity(&mut tx, identity).await?;
        if let Some(m) = mail {
            crate::lifecycle::insert_mail(&mut tx, m).await?;
        }
        match session {
            Some(s) => insert_browser_session(&mut tx, s, events).await?,
            None => {
                for e in events {
                    crate::audit::insert(&mut tx, e).await?;
                }
            }
        }
        tx.commit().await.map_err(db_err)
    }

    async fn save_login_code(&self, code: &LoginCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO login_codes (code_hash, user_id, challenge, provider, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&code.code_hash.0[..])
        .bind(code.user_id.0)
        .bind(&code.challenge)
        .bind(&code.provider)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn take_login_code(&self, code_hash: &TokenHash) -> StoreResult<Option<LoginCode>> {
        let row = sqlx::query(
            "DELETE FROM login_codes WHERE code_hash = $1 \
             RETURNING code_hash, user_id, challenge, provider, created_at, expires_at",
        )
        .bind(&code_hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(LoginCode {
                code_hash: hash_col(&r, "code_hash")?,
                user_id: UserId(uuid_col(&r, "user_id")?),
                challenge: text(&r, "challenge")?,
                provider: text(&r, "provider")?,
                created_at: time_col(&r, "created_at")?,
                expires_at: time_col(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        event: &AuditEvent,
    ) -> StoreResult<Unlinked> {
        let mut tx = self.begin().await?;
        // The user row is locked first, so concurrent unlinks of one account take turns.
        let owner = sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if owner.is_none() {
            return Ok(Unlinked::NotFound);
        }
        let ways: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM identities WHERE user_id = $1) \
             + (SELECT COUNT(*) FROM password_credentials WHERE user_id = $1)",
        )
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let mine = sqlx::query("SELECT id FROM identities WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if mine.is_none() {
            return Ok(Unlinked::NotFound);
        }
        if ways <= 1 {
            return Ok(Unlinked::LastWay);
        }
        sqlx::query("DELETE FROM identities WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        crate::audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Unlinked::Removed)
    }
}
