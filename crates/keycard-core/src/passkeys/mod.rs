//! Passkeys (WebAuthn): a way to sign in without a password, and a second step for accounts
//! with two-step verification on.
//!
//! - The relying party is the public URL's host, or a configured domain above it (the
//!   platform's apex) so that passkeys work across its subdomains; the origins allowed to run
//!   ceremonies are the public URL's and the configured ones. Without a domain to be (a public
//!   URL on an IP address), passkeys are off.
//! - Every ceremony's state is kept here, under a random id only its hash of which is stored,
//!   for five minutes and one use, whatever its outcome: never in a cookie a client could replay.
//! - Credentials are discoverable (the authenticator names the account: no address to type) and
//!   user verification is required, so a passkey sign-in is two factors at once (`amr`:
//!   `hwk` or `swk` for a synced one, and `mfa`). The signature counter is checked by
//!   webauthn-rs against the stored one and moved forward by compare-and-set; the backup flags
//!   are kept.
//! - Adding and removing one needs a recent sign-in; both are audited and mailed.

mod registration;
mod sign_in;
mod store;

pub use registration::PasskeyInfo;
pub use store::{Ceremony, CeremonyKind, PasskeyStore, StoredPasskey};

use crate::config::Policy;
use crate::error::{Error, Result};
use crate::service::Keycard;
use crate::tokens::{TokenHash, random_secret};
use std::sync::Arc;
use time::Duration;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

/// Ceremony ids start with this.
pub const CEREMONY_PREFIX: &str = "kcwa_";
/// As long as the authenticator's own timeout (WebAuthn's recommended five minutes).
const CEREMONY_TTL: Duration = Duration::minutes(5);

/// The use case behind `/v1/me/passkeys…` and `/v1/auth/passkey/…`.
pub struct Passkeys<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn passkeys(self: &Arc<Self>) -> Passkeys<'_> {
        Passkeys { kc: self }
    }
}

/// What a client needs to run a ceremony: its id (sent back with the result) and the options
/// for `navigator.credentials.create()` or `.get()` (`{publicKey: …}` as JSON).
#[derive(Debug, Clone)]
pub struct CeremonyStart {
    pub ceremony_id: String,
    pub options: serde_json::Value,
}

/// The relying party of `policy`, or `None` (after saying why) when there is no domain to be.
pub fn relying_party(policy: &Policy) -> Option<Webauthn> {
    let public = Url::parse(&policy.issuer).ok();
    let rp_id = policy
        .passkey_rp_id
        .clone()
        .or_else(|| public.as_ref().and_then(|u| u.domain().map(str::to_owned)));
    let Some(rp_id) = rp_id else {
        tracing::info!(
            "passkeys are off: the public URL has no domain name (set KEYCARD_PASSKEY_RP_ID and KEYCARD_PASSKEY_ORIGINS)"
        );
        return None;
    };
    let within = |u: &Url| {
        u.domain()
            .is_some_and(|d| d == rp_id || d.ends_with(&format!(".{rp_id}")))
    };
    let origins: Vec<Url> = public
        .into_iter()
        .chain(
            policy
                .passkey_origins
                .iter()
                .filter_map(|o| Url::parse(o).ok()),
        )
        .filter(within)
        .collect();
    let Some((first, rest)) = origins.split_first() else {
        tracing::warn!(
            rp_id,
            "passkeys are off: no origin lies within the relying party id"
        );
        return None;
    };
    let mut builder = match WebauthnBuilder::new(&rp_id, first) {
        Ok(b) => b.rp_name(&policy.service_name),
        Err(e) => {
            tracing::warn!(rp_id, error = %e, "passkeys are off: the relying party is refused");
            return None;
        }
    };
    for o in rest {
        builder = builder.append_allowed_origin(o);
    }
    match builder.build() {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(rp_id, error = %e, "passkeys are off");
            None
        }
    }
}

impl Passkeys<'_> {
    fn rp(&self) -> Result<&Webauthn> {
        self.kc.passkey_rp().ok_or(Error::PasskeysUnavailable)
    }

    /// Keeps a ceremony's state and returns its id.
    async fn keep(
        &self,
        kind: CeremonyKind,
        user: Option<crate::ids::UserId>,
        binding: Option<String>,
        state: &impl serde::Serialize,
    ) -> Result<String> {
        let id = random_secret(CEREMONY_PREFIX)?;
        let now = self.kc.now();
        let state = serde_json::to_string(state)
            .map_err(|e| Error::Internal(format!("ceremony state: {e}")))?;
        let c = Ceremony {
            id_hash: TokenHash::of(&id),
            kind,
            user_id: user,
            binding,
            state,
            expires_at: now + CEREMONY_TTL,
        };
        self.kc.store().put_ceremony(&c, now).await?;
        Ok(id)
    }

    /// Takes the ceremony `id` of `kind` out (once); `None` when unknown, spent or expired.
    async fn take(&self, id: &str, kind: CeremonyKind) -> Result<Option<Ceremony>> {
        if !id.starts_with(CEREMONY_PREFIX) || id.len() > 100 {
            return Ok(None);
        }
        Ok(self
            .kc
            .store()
            .take_ceremony(&TokenHash::of(id), kind, self.kc.now())
            .await?)
    }
}

/// `hwk` for a passkey bound to one device, `swk` for a synced one (RFC 8176), and `mfa`: user
/// verification was required, so possession and a PIN or biometric were both proved.
pub(crate) fn amr_of(backup_eligible: bool) -> Vec<String> {
    let key = if backup_eligible { "swk" } else { "hwk" };
    vec![key.to_owned(), "mfa".to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_a_domain_with_origins_inside_it() {
        assert!(relying_party(&Policy::new("http://127.0.0.1:8080")).is_none());
        let local = relying_party(&Policy::new("http://localhost:8080")).unwrap();
        assert_eq!(
            local.get_allowed_origins()[0].as_str(),
            "http://localhost:8080/"
        );
        let mut p = Policy::new("https://id.example.com");
        p.passkey_rp_id = Some("example.com".into());
        p.passkey_origins = vec![
            "https://shop.example.com".into(),
            "https://evil.test".into(),
        ];
        let apex = relying_party(&p).unwrap();
        let origins: Vec<&str> = apex
            .get_allowed_origins()
            .iter()
            .map(|u| u.as_str())
            .collect();
        assert_eq!(
            origins,
            ["https://id.example.com/", "https://shop.example.com/"]
        );
        // A relying party the public URL is not within, and no origin that is: off.
        p.passkey_rp_id = Some("other.test".into());
        p.passkey_origins.clear();
        assert!(relying_party(&p).is_none());
    }
}
