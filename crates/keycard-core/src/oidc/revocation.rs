//! What resource servers and apps ask about tokens afterwards: revocation (RFC 7009) and
//! introspection (RFC 7662). Both answer for the asking client's own tokens only, and say
//! nothing about a token that is unknown, foreign or malformed beyond "not active".

use super::Client;
use super::provider::Provider;
use crate::audit::AuditKind;
use crate::error::Result;
use crate::service::ClientInfo;
use crate::sessions::{RevokeReason, Session, SessionKind};
use crate::tokens::RefreshToken;
use serde_json::json;

impl Provider<'_> {
    /// The grant `token` (a refresh or access token) belongs to, if it is `client`'s.
    async fn grant_of(&self, client: &Client, token: &str) -> Result<Option<Session>> {
        let presented = RefreshToken::from_client(token);
        if let Some(s) = self
            .kc
            .store()
            .find_session_by_refresh_token(&presented.hash())
            .await?
        {
            let mine = s.kind == SessionKind::Grant && s.client_id.as_deref() == Some(&client.id);
            return Ok(mine.then_some(s));
        }
        Ok(match self.verify_app_token(token).await {
            Ok((claims, Some(s))) if claims.client_id == client.id => Some(s),
            _ => None,
        })
    }

    /// Revokes the grant of `token`: its refresh tokens and, for anyone who asks Keycard, its
    /// access tokens. A token that is not `client`'s changes nothing and is no error (RFC 7009
    /// §2.2: the answer is the same, so it tells nothing).
    pub async fn revoke(&self, client: &Client, token: &str, by: &ClientInfo) -> Result<()> {
        let Some(grant) = self.grant_of(client, token).await? else {
            return Ok(());
        };
        if !grant.is_active(self.kc.now()) {
            return Ok(());
        }
        let (user, id, now) = (grant.user_id, grant.id, self.kc.now());
        let mut ev = self
            .kc
            .audit_event(AuditKind::SessionRevoked, Some(user), Some(id), by);
        ev.detail = json!({ "client_id": client.id, "via": "revocation" });
        self.kc
            .changing_user(user, move |store| async move {
                store
                    .revoke_session(user, id, RevokeReason::RevokedByClient, now, &ev)
                    .await
            })
            .await?;
        tracing::info!(client_id = %client.id, session.id = %id, "grant revoked by its app");
        Ok(())
    }

    /// The introspection answer (RFC 7662 §2.2) for an access token Keycard issued to an app:
    /// active while it is unexpired and its grant lasts.
    pub async fn introspect(&self, token: &str) -> Result<serde_json::Value> {
        let inactive = json!({ "active": false });
        let (claims, session) = match self.verify_app_token(token).await {
            Ok(found) => found,
            Err(crate::Error::Unauthenticated(_)) => return Ok(inactive),
            Err(e) => return Err(e),
        };
        let mut out = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        });
        if let Some(s) = session {
            out["sid"] = s.id.to_string().into();
            out["auth_time"] = s.auth_time.unix_timestamp().into();
        }
        Ok(out)
    }
}
