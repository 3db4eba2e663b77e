//! The client registry's use case: `keycard.clients().add(…)`. Secrets are generated here
//! (256 random bits), shown once, and stored only as a SHA-256.

use super::{Client, ClientKind, ClientSpec};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::service::{ClientInfo, Keycard};
use crate::tokens::random_secret;
use std::sync::Arc;

/// Client secrets are recognisable in logs and secret scanners by this prefix.
const SECRET_PREFIX: &str = "kccs_";

pub struct Clients<'a> {
    kc: &'a Arc<Keycard>,
}

/// A registration's result: the client, and its secret when one was made (shown once).
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Registered")
            .field("client", &self.client.id)
            .finish_non_exhaustive()
    }
}

/// What the seed file did to one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    Created,
    Updated,
    Unchanged,
}

impl Keycard {
    pub fn clients(self: &Arc<Self>) -> Clients<'_> {
        Clients { kc: self }
    }
}

impl Clients<'_> {
    fn event(&self, kind: AuditKind, id: &str, by: &ClientInfo) -> crate::audit::AuditEvent {
        let mut ev = self.kc.audit_event(kind, None, None, by);
        ev.detail = serde_json::json!({ "client_id": id });
        ev
    }

    fn build(&self, spec: &ClientSpec, secret: Option<&str>) -> Client {
        let now = self.kc.now();
        Client {
            id: spec.id.clone(),
            name: spec.name.trim().to_owned(),
            logo_url: spec.logo_url.clone(),
            kind: spec.kind,
            secret_hash: secret.map(|s| self.kc.client_secrets().hash(s)),
            redirect_uris: spec.redirect_uris.clone(),
            post_logout_redirect_uris: spec.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: spec.backchannel_logout_uri.clone(),
            grant_types: spec.grant_types.clone(),
            scopes: spec.scopes.clone(),
            first_party: spec.first_party,
            id_token_alg: spec.id_token_alg,
            enabled: spec.enabled,
            created_at: now,
            updated_at: now,
        }
    }

    /// Registers a client; a confidential one gets a fresh secret, returned once.
    pub async fn add(&self, spec: &ClientSpec, by: &ClientInfo) -> Result<Registered> {
        spec.check()?;
        let secret = match spec.kind {
            ClientKind::Confidential => Some(random_secret(SECRET_PREFIX)?),
            ClientKind::Public => None,
        };
        let client = self.build(spec, secret.as_deref());
        let ev = self.event(AuditKind::ClientRegistered, &client.id, by);
        self.kc.store().insert_client(&client, &ev).await?;
        tracing::info!(client_id = %client.id, kind = client.kind.as_str(), "client registered");
        Ok(Registered { client, secret })
    }

    /// The web origins of the enabled apps' redirect URIs: the browser apps that may call the
    /// provider's JSON endpoints (CORS).
    pub async fn web_origins(&self) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for c in self.list().await?.into_iter().filter(|c| c.enabled) {
            for uri in &c.redirect_uris {
                if let Ok(u) = url::Url::parse(uri)
                    && matches!(u.scheme(), "https" | "http")
                {
                    out.insert(u.origin().ascii_serialization());
                }
            }
        }
        Ok(out)
    }

    pub async fn list(&self) -> Result<Vec<Client>> {
        Ok(self.kc.store().list_clients().await?)
    }

    pub async fn get(&self, id: &str) -> Result<Client> {
        self.kc
            .store()
            .find_client(id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn remove(&self, id: &str, by: &ClientInfo) -> Result<()> {
        let ev = self.event(AuditKind::ClientRemoved, id, by);
        if self.kc.store().delete_client(id, &ev).await? {
            tracing::info!(client_id = %id, "client removed");
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Enables or disables a client. A disabled client can get no token, and the tokens it has
    /// stop working where Keycard is asked (userinfo, introspection, refresh).
    pub async fn set_enabled(&self, id: &str, enabled: bool, by: &ClientInfo) -> Result<Client> {
        let mut client = self.get(id).await?;
        if client.enabled == enabled {
            return Ok(client);
        }
        client.enabled = enabled;
        client.updated_at = self.kc.now();
        let mut ev = self.event(AuditKind::ClientUpdated, id, by);
        ev.detail["enabled"] = enabled.into();
        if !self.kc.store().update_client(&client, &ev).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(client_id = %id, enabled, "client enabled state changed");
        Ok(client)
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_secret(&self, id: &str, by: &ClientInfo) -> Result<String> {
        let client = self.get(id).await?;
        if client.kind != ClientKind::Confidential {
            return Err(Error::invalid(
                "id",
                "public_client",
                "a public client has no secret to rotate",
            ));
        }
        let secret = random_secret(SECRET_PREFIX)?;
        let ev = self.event(AuditKind::ClientSecretRotated, id, by);
        let done = self
            .kc
            .store()
            .set_client_secret(
                id,
                Some(&self.kc.client_secrets().hash(&secret)),
                self.kc.now(),
                &ev,
            )
            .await?;
        if !done {
            return Err(Error::NotFound);
        }
        tracing::info!(client_id = %id, "client secret rotated");
        Ok(secret)
    }

    /// Applies one `[[clients]]` entry of the settings file: creates the client, or brings an
    /// existing one in line with the file. The secret, when the file gives one, is the
    /// client's secret from then on (the file is the deployment's record).
    pub async fn seed(&self, spec: &ClientSpec, secret: Option<&str>) -> Result<Seeded> {
        spec.check()?;
        if spec.kind == ClientKind::Confidential && secret.is_none() {
            return Err(Error::invalid(
                "secret",
                "secret_required",
                "a confidential client in the settings file needs its secret",
            ));
        }
        let by = ClientInfo::default();
        let wanted = self.build(spec, secret);
        let Some(known) = self.kc.store().find_client(&spec.id).await? else {
            let ev = self.event(AuditKind::ClientRegistered, &spec.id, &by);
            self.kc.store().insert_client(&wanted, &ev).await?;
            return Ok(Seeded::Created);
        };
        let mut changed = wanted;
        changed.created_at = known.created_at;
        changed.updated_at = known.updated_at;
        if changed == known {
            return Ok(Seeded::Unchanged);
        }
        changed.updated_at = self.kc.now();
        // One write for the registration and its secret: a type change never leaves a
        // confidential client without a secret, nor a public one with one.
        let mut ev = self.event(AuditKind::ClientUpdated, &spec.id, &by);
        ev.detail["secret_changed"] = (changed.secret_hash != known.secret_hash).into();
        if !self.kc.store().update_client(&changed, &ev).await? {
            return Err(Error::NotFound);
        }
        Ok(Seeded::Updated)
    }
}
