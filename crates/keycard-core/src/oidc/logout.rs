//! OpenID Connect Back-Channel Logout 1.0: when a person's grant to an app ends (sign-out here,
//! "sign out everywhere", a session ended from the list, a password change), an app that
//! registered a `backchannel_logout_uri` receives a signed logout token naming the person and
//! the sign-in, so it can end its own session at once.

use super::Client;
use crate::error::Result;
use crate::ids::{SessionId, UserId};
use crate::service::Keycard;
use crate::sessions::{Session, SessionKind};
use serde::Serialize;
use std::collections::HashSet;
use uuid::Uuid;

/// The `typ` of logout tokens (Back-Channel Logout §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Delivers logout tokens to apps, off the request path, with its own retries. Keycard's core
/// knows no HTTP; the server supplies this.
pub trait LogoutChannel: Send + Sync {
    fn deliver(&self, client_id: &str, uri: &str, logout_token: String);
}

#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: String,
    sid: Option<String>,
    events: serde_json::Value,
}

impl Keycard {
    /// Runs a write that may end sessions of `user`, then sends a logout token for each app
    /// grant it ended.
    pub(crate) async fn ending_sessions<T, F, Fut>(&self, user: UserId, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(std::sync::Arc<dyn crate::store::Store>) -> Fut,
        Fut: Future<Output = crate::store::StoreResult<T>> + Send + 'static,
    {
        let grants = |sessions: Vec<Session>| -> Vec<Session> {
            sessions
                .into_iter()
                .filter(|s| s.kind == SessionKind::Grant)
                .collect()
        };
        let now = self.now();
        let before = grants(self.store().list_active_sessions(user, now).await?);
        let out = self.changing_user(user, write).await?;
        if !before.is_empty() {
            // The write is done: a failure from here on costs the apps their news, never the
            // caller an error for a change that happened.
            let after = match self.store().list_active_sessions(user, now).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "no back-channel logout: could not list the grants left");
                    return Ok(out);
                }
            };
            let still: HashSet<SessionId> = after.into_iter().map(|s| s.id).collect();
            let ended: Vec<Session> = before
                .into_iter()
                .filter(|s| !still.contains(&s.id))
                .collect();
            self.send_logouts(&ended).await;
        }
        Ok(out)
    }

    /// Sends the logout tokens for `ended` grants whose apps take them. Failures are logged:
    /// the grants have ended whatever the apps hear.
    pub(crate) async fn send_logouts(&self, ended: &[Session]) {
        let Some(channel) = self.logout_channel() else {
            return;
        };
        for grant in ended {
            let Some(client_id) = grant.client_id.as_deref() else {
                continue;
            };
            let client = match self.store().find_client(client_id).await {
                Ok(Some(c)) if c.enabled => c,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, client_id, "no back-channel logout: client lookup failed");
                    continue;
                }
            };
            let Some(uri) = client.backchannel_logout_uri.as_deref() else {
                continue;
            };
            match self.logout_token(&client, grant) {
                Ok(token) => channel.deliver(&client.id, uri, token),
                Err(e) => tracing::error!(error = %e, client_id, "could not sign a logout token"),
            }
        }
    }

    fn logout_token(&self, client: &Client, grant: &Session) -> Result<String> {
        let now = self.now().unix_timestamp();
        let claims = LogoutClaims {
            iss: &self.policy().issuer,
            aud: &client.id,
            iat: now,
            exp: now + 120,
            jti: Uuid::new_v4().to_string(),
            sub: grant.user_id.to_string(),
            sid: Some(grant.origin.unwrap_or(grant.id).to_string()),
            events: serde_json::json!({ EVENT: {} }),
        };
        self.keys()
            .sign_with(client.id_token_alg, LOGOUT_TOKEN_TYP, &claims)
    }
}
