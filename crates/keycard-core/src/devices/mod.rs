//! Sign-in across devices (RFC 8628, the device authorization grant): a TV, a console or a
//! shared laptop asks for a code, the person opens `/device` on a phone where they are signed
//! in (or signs in there), checks which app and which device ask, and allows or denies; the
//! device polls the token endpoint until then.

pub mod codes;
mod store;

pub use store::{DeviceRequest, DeviceState, DeviceStore, Polled};

use crate::accounts::User;
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::oidc::{Client, GrantType, OAuthCode, OAuthError};
use crate::service::{ClientInfo, Keycard};
use crate::sessions::{Session, device_label};
use crate::throttle::Gate;
use crate::tokens::{RefreshToken, TokenHash, random_secret};
use std::sync::Arc;
use time::Duration;

/// How long a device may wait for the person (RFC 8628 §3.2 `expires_in`).
pub const DEVICE_CODE_TTL: Duration = Duration::minutes(10);
/// The first polling interval, in seconds.
pub const POLL_INTERVAL: i64 = 5;
/// Device codes are recognisable in logs and secret scanners by this prefix.
const DEVICE_CODE_PREFIX: &str = "kcdc_";

/// What the device gets to show and to poll with.
#[derive(Debug)]
pub struct DeviceStart {
    pub device_code: String,
    /// Normalised; show it with [`codes::display`].
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

pub struct Devices<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn devices(self: &Arc<Self>) -> Devices<'_> {
        Devices { kc: self }
    }
}

fn oauth(code: OAuthCode, why: &str) -> Error {
    Error::OAuth(OAuthError::new(code, why))
}

impl Devices<'_> {
    /// A device authorization request of `client` (RFC 8628 §3.1).
    pub async fn start(
        &self,
        client: &Client,
        scope: Option<&str>,
        by: &ClientInfo,
    ) -> Result<DeviceStart> {
        if !client.grant_types.contains(&GrantType::DeviceCode) {
            return Err(oauth(
                OAuthCode::UnauthorizedClient,
                "this application may not use the device grant",
            ));
        }
        let scopes = match scope {
            Some(raw) => crate::oidc::scopes_of(raw),
            None => client
                .scopes
                .iter()
                .filter(|s| *s != "offline_access")
                .cloned()
                .collect(),
        };
        if scopes.is_empty() || scopes.iter().any(|s| !client.scopes.contains(s)) {
            return Err(oauth(
                OAuthCode::InvalidScope,
                "a requested scope is not allowed for this application",
            ));
        }
        if let Gate::Closed(r) = self
            .kc
            .throttle()
            .begin_device_start(by.ip.as_deref())
            .await?
        {
            return Err(self.kc.refused(r, by).await);
        }
        let device_code = random_secret(DEVICE_CODE_PREFIX)?;
        let now = self.kc.now();
        let ttl = self.kc.policy().device_code_ttl;
        for _ in 0..5 {
            let req = DeviceRequest {
                device_hash: TokenHash::of(&device_code),
                user_code: codes::generate()?,
                client_id: client.id.clone(),
                scopes: scopes.clone(),
                device: device_label(by.user_agent.as_deref()),
                created_at: now,
                expires_at: now + ttl,
                interval: POLL_INTERVAL,
                last_polled_at: None,
                state: DeviceState::Pending,
            };
            if self.kc.store().insert_device_request(&req).await? {
                return Ok(DeviceStart {
                    device_code,
                    user_code: req.user_code,
                    expires_in: ttl.whole_seconds(),
                    interval: POLL_INTERVAL,
                });
            }
        }
        Err(Error::Internal("no free user code after 5 tries".into()))
    }

    /// The pending request behind a code the person typed, and its app; `None` for a code
    /// that is malformed, unknown, expired or already answered. Each try counts against the
    /// network's allowance, so codes cannot be guessed quickly.
    pub async fn lookup(
        &self,
        typed: &str,
        by: &ClientInfo,
    ) -> Result<Option<(DeviceRequest, Client)>> {
        match self
            .kc
            .throttle()
            .begin_device_code(by.ip.as_deref())
            .await?
        {
            Gate::Open(()) => {}
            Gate::Closed(r) => return Err(self.kc.refused(r, by).await),
        }
        let Some(code) = codes::normalize(typed) else {
            return Ok(None);
        };
        let store = self.kc.store();
        let Some(req) = store.find_device_request(&code).await? else {
            return Ok(None);
        };
        if req.state != DeviceState::Pending || self.kc.now() >= req.expires_at {
            return Ok(None);
        }
        Ok(store
            .find_client(&req.client_id)
            .await?
            .filter(|c| c.enabled)
            .map(|c| (req, c)))
    }

    /// The person's answer for the request with `user_code` (normalised), from their browser
    /// session; false when the request is no longer pending.
    pub async fn decide(
        &self,
        browser: &(Session, User),
        user_code: &str,
        allow: bool,
        by: &ClientInfo,
    ) -> Result<bool> {
        let (session, user) = browser;
        let decision = if allow {
            DeviceState::Approved {
                user_id: user.id,
                session_id: session.id,
                amr: session.amr.clone(),
                auth_time: session.auth_time,
            }
        } else {
            DeviceState::Denied
        };
        let kind = if allow {
            AuditKind::DeviceApproved
        } else {
            AuditKind::DeviceDenied
        };
        let mut ev = self
            .kc
            .audit_event(kind, Some(user.id), Some(session.id), by);
        ev.detail = serde_json::json!({ "user_code": codes::display(user_code) });
        Ok(self
            .kc
            .store()
            .decide_device_request(user_code, &decision, self.kc.now(), &ev)
            .await?)
    }

    /// The token endpoint's answer to a device's poll (RFC 8628 §3.5): the grant once the
    /// person allowed, else `authorization_pending`, `slow_down`, `access_denied` or
    /// `expired_token`.
    pub(crate) async fn redeem(
        &self,
        client: &Client,
        device_code: &str,
        by: &ClientInfo,
    ) -> Result<(Session, User, Option<RefreshToken>)> {
        let kc = self.kc;
        let hash = TokenHash::of(device_code);
        let now = kc.now();
        let Some(polled) = kc.store().poll_device_request(&hash, now).await? else {
            return Err(oauth(OAuthCode::InvalidGrant, "the device code is unknown"));
        };
        let req = polled.request;
        if req.client_id != client.id {
            return Err(oauth(
                OAuthCode::InvalidGrant,
                "the device code was issued to another client",
            ));
        }
        if now >= req.expires_at {
            return Err(oauth(
                OAuthCode::ExpiredToken,
                "the device code has expired",
            ));
        }
        if polled.too_soon {
            return Err(oauth(
                OAuthCode::SlowDown,
                "polling too often: wait 5 seconds more",
            ));
        }
        let (user_id, amr, auth_time) = match req.state {
            DeviceState::Pending => {
                return Err(oauth(
                    OAuthCode::AuthorizationPending,
                    "the person has not answered yet",
                ));
            }
            DeviceState::Denied => {
                return Err(oauth(
                    OAuthCode::AccessDenied,
                    "the person denied the request",
                ));
            }
            DeviceState::Used => {
                return Err(oauth(
                    OAuthCode::InvalidGrant,
                    "the device code has already been used",
                ));
            }
            DeviceState::Approved {
                user_id,
                amr,
                auth_time,
                ..
            } => (user_id, amr, auth_time),
        };
        let user = kc
            .store()
            .find_user(user_id)
            .await?
            .ok_or_else(|| oauth(OAuthCode::InvalidGrant, "the account no longer exists"))?;
        let mut grant = kc.new_grant(user_id, &client.id, by, amr, auth_time, req.scopes.clone());
        grant.device = req.device.clone();
        // The device lives on its own: signing out on the phone that allowed it does not end
        // it (the session list, "sign out everywhere" and taking the app's access back do).
        grant.origin = None;
        let refresh = if client.grant_types.contains(&GrantType::RefreshToken) {
            Some(kc.new_refresh(grant.id)?)
        } else {
            None
        };
        let mut ev = kc.audit_event(AuditKind::AppAuthorized, Some(user_id), Some(grant.id), by);
        ev.detail = serde_json::json!({ "client_id": client.id, "via": "device", "scope": req.scopes.join(" ") });
        let stored = {
            let (grant, refresh_row) = (grant.clone(), refresh.as_ref().map(|(_, r)| r.clone()));
            kc.changing_user(user_id, move |store| async move {
                store
                    .redeem_device_request(&hash, &grant, refresh_row.as_ref(), &ev)
                    .await
            })
            .await?
        };
        if !stored {
            return Err(oauth(
                OAuthCode::InvalidGrant,
                "the device code has already been used",
            ));
        }
        Ok((grant, user, refresh.map(|(s, _)| s)))
    }

    /// Deletes requests expired for an hour.
    pub async fn prune(&self) -> Result<u64> {
        let before = self.kc.now() - Duration::hours(1);
        Ok(self.kc.store().prune_device_requests(before).await?)
    }
}
