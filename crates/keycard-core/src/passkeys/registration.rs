//! Adding, naming, listing and removing passkeys.

use super::store::{CeremonyKind, StoredPasskey};
use super::{CeremonyStart, Passkeys};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::service::{ClientInfo, Principal};
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{Credential, Passkey, PasskeyRegistration, RegisterPublicKeyCredential};

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    /// Synced across the owner's devices (by their platform's password manager).
    pub synced: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&StoredPasskey> for PasskeyInfo {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            synced: p.backup_eligible,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

/// A name of 1 to 64 characters; `None` gives the default.
fn passkey_name(raw: Option<&str>) -> Result<String> {
    let name = raw
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey");
    checked_name(name)
}

fn checked_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "invalid_name",
            "a passkey's name has 1 to 64 characters, none of them control characters",
        ));
    }
    Ok(name.to_owned())
}

pub(crate) fn rejected(why: impl std::fmt::Display) -> Error {
    tracing::info!(reason = %why, "passkey refused");
    Error::PasskeyRejected
}

impl Passkeys<'_> {
    pub async fn list(&self, who: &Principal) -> Result<Vec<PasskeyInfo>> {
        let all = self.kc.store().list_passkeys(who.user_id).await?;
        Ok(all.iter().map(PasskeyInfo::from).collect())
    }

    /// Starts adding a passkey: the options for `navigator.credentials.create()`. Needs a
    /// recent sign-in.
    pub async fn begin_registration(
        &self,
        who: &Principal,
        by: &ClientInfo,
    ) -> Result<CeremonyStart> {
        let rp = self.rp()?;
        self.kc.reauthenticate(who, None, by).await?;
        let existing = self.kc.store().list_passkeys(who.user_id).await?;
        let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
        let user = &who.user;
        let account = user
            .email
            .as_ref()
            .map_or_else(|| who.user_id.to_string(), |e| e.as_str().to_owned());
        let display = user.name.clone().unwrap_or_else(|| account.clone());
        let (ccr, state) = rp
            .start_passkey_registration(who.user_id.0, &account, &display, Some(exclude))
            .map_err(|e| Error::Internal(format!("passkey registration: {e}")))?;
        let mut options = serde_json::to_value(&ccr)
            .map_err(|e| Error::Internal(format!("passkey options: {e}")))?;
        // Discoverable, so that signing in needs no address: the authenticator names the
        // account (webauthn-rs asks for none by default, and does not check it on return).
        if let Some(sel) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
        }
        let id = self
            .keep(CeremonyKind::Register, Some(who.user_id), None, &state)
            .await?;
        Ok(CeremonyStart {
            ceremony_id: id,
            options,
        })
    }

    /// Finishes adding a passkey with what the authenticator answered.
    pub async fn finish_registration(
        &self,
        who: &Principal,
        ceremony_id: &str,
        credential: &serde_json::Value,
        name: Option<&str>,
        by: &ClientInfo,
    ) -> Result<PasskeyInfo> {
        let rp = self.rp()?;
        let name = passkey_name(name)?;
        let ceremony = self
            .take(ceremony_id, CeremonyKind::Register)
            .await?
            .filter(|c| c.user_id == Some(who.user_id))
            .ok_or_else(|| rejected("unknown, spent or expired ceremony"))?;
        let state: PasskeyRegistration = serde_json::from_str(&ceremony.state)
            .map_err(|e| Error::Internal(format!("stored ceremony state: {e}")))?;
        let reg: RegisterPublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(rejected)?;
        let passkey: Passkey = rp
            .finish_passkey_registration(&reg, &state)
            .map_err(rejected)?;
        let cred = Credential::from(passkey);
        let now = self.kc.now();
        let stored = StoredPasskey {
            id: Uuid::now_v7(),
            user_id: who.user_id,
            credential_id: cred.cred_id.to_vec(),
            name,
            credential: serde_json::to_string(&cred)
                .map_err(|e| Error::Internal(format!("passkey: {e}")))?,
            sign_count: i64::from(cred.counter),
            backup_eligible: cred.backup_eligible,
            created_at: now,
            last_used_at: None,
        };
        let mut ev = self.kc.audit_event(
            AuditKind::PasskeyAdded,
            Some(who.user_id),
            Some(who.session_id),
            by,
        );
        ev.detail = serde_json::json!({ "passkey_id": stored.id, "name": stored.name, "synced": stored.backup_eligible });
        let mail = self
            .kc
            .security_notice(&who.user, "passkey_added", by, &[])?;
        let info = PasskeyInfo::from(&stored);
        if !self
            .kc
            .changing_user(who.user_id, move |store| async move {
                store.add_passkey(&stored, &ev, mail.as_ref()).await
            })
            .await?
        {
            return Err(rejected("credential id registered already"));
        }
        self.kc.mail_queued();
        Ok(info)
    }

    pub async fn rename(&self, who: &Principal, id: Uuid, name: &str) -> Result<PasskeyInfo> {
        let name = checked_name(name)?;
        if !self
            .kc
            .store()
            .rename_passkey(who.user_id, id, &name)
            .await?
        {
            return Err(Error::NotFound);
        }
        self.list(who)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(Error::NotFound)
    }

    /// Removes a passkey: it signs in no more. Needs a recent sign-in.
    pub async fn remove(&self, who: &Principal, id: Uuid, by: &ClientInfo) -> Result<()> {
        self.kc.reauthenticate(who, None, by).await?;
        let mut ev = self.kc.audit_event(
            AuditKind::PasskeyRemoved,
            Some(who.user_id),
            Some(who.session_id),
            by,
        );
        ev.detail = serde_json::json!({ "passkey_id": id });
        let mail = self
            .kc
            .security_notice(&who.user, "passkey_removed", by, &[])?;
        let user = who.user_id;
        if !self
            .kc
            .changing_user(user, move |store| async move {
                store.remove_passkey(user, id, &ev, mail.as_ref()).await
            })
            .await?
        {
            return Err(Error::NotFound);
        }
        self.kc.mail_queued();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_printable_and_default() {
        assert_eq!(passkey_name(None).unwrap(), "Passkey");
        assert_eq!(passkey_name(Some("  ")).unwrap(), "Passkey");
        assert_eq!(passkey_name(Some(" Work laptop ")).unwrap(), "Work laptop");
        assert!(passkey_name(Some(&"x".repeat(65))).is_err());
        assert!(passkey_name(Some("a\u{0}b")).is_err());
        assert!(checked_name("  ").is_err());
    }
}
