//! Refresh-token rotation: reuse detection, and the grace in which a retried rotation gets the
//! successor it already issued.

use super::{ClientInfo, Keycard, detached};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::ids::{RefreshTokenId, SessionId};
use crate::sessions::RevokeReason;
use crate::sessions::Session;
use crate::store::{NextRefreshToken, Rotation};
use crate::tokens::{RefreshToken, TokenPair};
use std::sync::Arc;

impl Keycard {
    /// Rotates a refresh token. A spent token revokes its whole session (reuse detection),
    /// unless it is a retry of its own rotation within the grace window, which gets the same
    /// successor again (DESIGN.md §4). Runs to its end even if the caller goes away.
    pub async fn refresh(
        self: &Arc<Self>,
        presented: &RefreshToken,
        client: &ClientInfo,
    ) -> Result<(SessionId, TokenPair)> {
        let (session, successor) = self.rotate(presented, client, None).await?;
        let tokens = self.tokens_for(&session, successor)?;
        Ok((session.id, tokens))
    }

    /// Rotates a refresh token of Keycard's own sessions (`app` = `None`) or of one app's grant,
    /// and returns the session with the successor. A token presented by the wrong party (an
    /// app's to Keycard's own API, or to another app) ends its session: it has leaked.
    pub(crate) async fn rotate(
        self: &Arc<Self>,
        presented: &RefreshToken,
        client: &ClientInfo,
        app: Option<String>,
    ) -> Result<(Session, RefreshToken)> {
        let (this, presented, client) = (self.clone(), presented.clone(), client.clone());
        detached(async move { this.refresh_inner(&presented, &client, app).await }).await
    }

    async fn refresh_inner(
        &self,
        presented: &RefreshToken,
        client: &ClientInfo,
        app: Option<String>,
    ) -> Result<(Session, RefreshToken)> {
        let now = self.now();
        let secret = self.successors.of(presented);
        let next = NextRefreshToken {
            id: RefreshTokenId::new(),
            hash: secret.hash(),
        };
        let grace = self.policy.refresh_reuse_grace;
        let replay_since = grace.is_positive().then(|| now - grace);
        let outcome = self
            .store
            .rotate_refresh_token(
                &presented.hash(),
                &next,
                now,
                now + self.policy.session_idle_timeout,
                replay_since,
            )
            .await?;
        match outcome {
            Rotation::Rotated(session) | Rotation::Replayed(session)
                if session.client_id != app =>
            {
                metrics::counter!("keycard_refreshes_total", "outcome" => "wrong_client")
                    .increment(1);
                tracing::warn!(session.id = %session.id, "refresh token presented by another client: revoking session");
                self.revoke_leaked(session.user_id, session.id, "wrong_client", client)
                    .await?;
                Err(Error::InvalidRefreshToken)
            }
            Rotation::Rotated(session) => {
                metrics::counter!("keycard_refreshes_total", "outcome" => "success").increment(1);
                Ok((session, secret))
            }
            Rotation::Replayed(session) => {
                metrics::counter!("keycard_refreshes_total", "outcome" => "replay").increment(1);
                tracing::info!(session.id = %session.id, "refresh retried within the reuse grace: the same successor again");
                Ok((session, secret))
            }
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                metrics::counter!("keycard_refreshes_total", "outcome" => "reuse").increment(1);
                tracing::warn!(session.id = %session_id, user.id = %user_id, "refresh token reuse: revoking session");
                self.revoke_leaked(user_id, session_id, "reuse", client)
                    .await?;
                Err(Error::RefreshTokenReused)
            }
            Rotation::SessionEnded | Rotation::Unknown => {
                metrics::counter!("keycard_refreshes_total", "outcome" => "invalid").increment(1);
                Err(Error::InvalidRefreshToken)
            }
        }
    }

    async fn revoke_leaked(
        &self,
        user_id: crate::ids::UserId,
        session_id: SessionId,
        why: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let now = self.now();
        let mut ev = self.audit(
            AuditKind::RefreshTokenReuseDetected,
            Some(user_id),
            Some(session_id),
            client,
        );
        ev.detail = serde_json::json!({ "reason": why });
        self.ending_sessions(user_id, move |store| async move {
            store
                .revoke_session(
                    user_id,
                    session_id,
                    RevokeReason::RefreshTokenReuse,
                    now,
                    &ev,
                )
                .await
        })
        .await?;
        Ok(())
    }
}
