//! The apps a person allowed, and taking that back: the consent goes, and with it every grant
//! the app holds for them (each app told through back-channel logout).

use super::provider::Provider;
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::service::{ClientInfo, Principal};
use time::OffsetDateTime;

/// One app a person allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    pub client_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub scopes: Vec<String>,
    pub granted_at: OffsetDateTime,
}

impl Provider<'_> {
    /// The apps `who` allowed, newest first (an app removed since is left out).
    pub async fn apps_of(&self, who: &Principal) -> Result<Vec<AppAccess>> {
        let store = self.kc.store();
        let consents = store.list_consents(who.user_id).await?;
        let mut out = Vec::with_capacity(consents.len());
        for (client_id, scopes, granted_at) in consents {
            if let Some(c) = store.find_client(&client_id).await? {
                out.push(AppAccess {
                    client_id,
                    name: c.name,
                    logo_url: c.logo_url,
                    scopes,
                    granted_at,
                });
            }
        }
        Ok(out)
    }

    /// Withdraws `who`'s consent to `client_id` and ends its grants. `NotFound` when there was
    /// neither.
    pub async fn withdraw(&self, who: &Principal, client_id: &str, by: &ClientInfo) -> Result<()> {
        let (user, now) = (who.user_id, self.kc.now());
        let mut ev = self.kc.audit_event(
            AuditKind::ConsentWithdrawn,
            Some(user),
            Some(who.session_id),
            by,
        );
        ev.detail = serde_json::json!({ "client_id": client_id });
        let client = client_id.to_owned();
        let done = self
            .kc
            .ending_sessions(user, move |store| async move {
                store.withdraw_consent(user, &client, now, &ev).await
            })
            .await?;
        if done { Ok(()) } else { Err(Error::NotFound) }
    }
}
