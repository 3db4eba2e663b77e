//! Password-reset links (keycard-core's `lifecycle::reset`): stored by hash, spent once, and
//! spent together with everything a reset changes.

use crate::lifecycle::insert_mail;
use crate::rows::{text, ts, uuid_col};
use crate::{SqliteStore, audit, db_err};
use keycard_core::audit::AuditEvent;
use keycard_core::ids::UserId;
use keycard_core::lifecycle::{CompletedReset, NewPasswordReset, ResetDone, ResetLink};
use keycard_core::mail::PendingMail;
use keycard_core::sessions::RevokeReason;
use keycard_core::store::StoreResult;
use keycard_core::tokens::TokenHash;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

impl SqliteStore {
    pub(crate) async fn create_reset(
        &self,
        r: &NewPasswordReset,
        mail: &PendingMail,
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(r.token_hash.0.as_slice())
        .bind(r.user_id.to_string())
        .bind(&r.email)
        .bind(ts(r.created_at))
        .bind(ts(r.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_mail(&mut tx, mail).await?;
        audit::insert(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn find_reset(
        &self,
        token_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ResetLink>> {
        let row = sqlx::query(
            "SELECT r.user_id, r.email FROM password_resets r JOIN users u ON u.id = r.user_id \
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 \
               AND u.email = r.email AND u.disabled_at IS NULL",
        )
        .bind(token_hash.0.as_slice())
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|row| {
            Ok(ResetLink {
                user_id: UserId(uuid_col(&row, "user_id")?),
                email: text(&row, "email")?,
            })
        })
        .transpose()
    }

    pub(crate) async fn complete_reset(
        &self,
        r: &CompletedReset<'_>,
    ) -> StoreResult<Option<ResetDone>> {
        let mut tx = self.begin().await?;
        // One writer at a time: a sign-in with the old password lands wholly before this
        // (and its session is ended here) or after it.
        let spent = sqlx::query(
            "UPDATE password_resets SET used_at = $2 \
             WHERE token_hash = $1 AND user_id = $3 AND used_at IS NULL AND expires_at > $2 \
               AND email = (SELECT u.email FROM users u \
                            WHERE u.id = password_resets.user_id AND u.disabled_at IS NULL)",
        )
        .bind(r.token_hash.0.as_slice())
        .bind(ts(r.now))
        .bind(r.user_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if spent == 0 {
            return Ok(None);
        }
        // The account's other links go too: the one that was used is the one that counts.
        spend_open_links(&mut tx, r.user_id, r.now).await?;
        // Only the provider identities whose provider vouches for this very address stay: the
        // others may have been linked by whoever held the account before its address's owner
        // took it back (someone who signed up with the address and linked their own provider
        // account, say). The owner links the others again.
        let unlinked = sqlx::query(
            "DELETE FROM identities WHERE user_id = $1 \
             AND NOT (email_verified = 1 AND email IS NOT NULL AND lower(email) = lower($2))",
        )
        .bind(r.user_id.to_string())
        .bind(r.email)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        // Second factors added while the address was not proved were added by someone who never
        // read its mail (perhaps not the owner now taking the account back): they go. Once the
        // address is proved, a reset keeps them (it proves the inbox, not the factor).
        let unproved: Option<bool> =
            sqlx::query_scalar("SELECT email_verified = 0 FROM users WHERE id = $1")
                .bind(r.user_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let factors_removed = if unproved == Some(true) {
            crate::mfa::drop_second_factors(&mut tx, r.user_id).await?
        } else {
            0
        };
        sqlx::query(
            "INSERT INTO password_credentials (user_id, hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
        )
        .bind(r.user_id.to_string())
        .bind(r.password_hash)
        .bind(ts(r.now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE users SET email_verified = 1, updated_at = $2 WHERE id = $1 AND email = $3",
        )
        .bind(r.user_id.to_string())
        .bind(ts(r.now))
        .bind(r.email)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let ended = end_sessions(&mut tx, r.user_id, r.now, RevokeReason::PasswordReset).await?;
        let mut event = r.audit.clone();
        event.detail["sessions_ended"] = ended.into();
        event.detail["identities_removed"] = unlinked.into();
        event.detail["second_factors_removed"] = factors_removed.into();
        audit::insert(&mut tx, &event).await?;
        insert_mail(&mut tx, r.notice).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(ResetDone {
            sessions_ended: ended,
            identities_removed: unlinked,
        }))
    }
}

/// Ends every session of the account not ended yet, whatever this clock thinks of their
/// expiry (another instance's clock may differ): a reset must leave no way in behind.
pub(crate) async fn end_sessions(
    conn: &mut SqliteConnection,
    user: UserId,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.to_string())
    .bind(ts(now))
    .bind(reason.as_str())
    .execute(conn)
    .await
    .map_err(db_err)?
    .rows_affected())
}

/// Spends the account's reset links still open (a password change, a disabling, a forced reset
/// or a reset make them moot).
pub(crate) async fn spend_open_links(
    conn: &mut SqliteConnection,
    user: UserId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.to_string())
        .bind(ts(now))
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}
