//! Signing in with a passkey: without a password (the authenticator names the account), and as
//! the second step of a sign-in.

use super::store::{Ceremony, CeremonyKind, StoredPasskey};
use super::{CeremonyStart, Passkeys, amr_of};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::service::{ClientInfo, SignedIn};
use crate::sessions::SessionKind;
use crate::throttle::Gate;
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PublicKeyCredential,
};

/// A passkey that proved itself: which, and whether it is synced.
#[derive(Debug, Clone)]
pub(crate) struct Proved {
    pub passkey_id: uuid::Uuid,
    pub backup_eligible: bool,
}

fn failed(why: impl std::fmt::Display) -> Error {
    tracing::info!(reason = %why, "passkey assertion refused");
    Error::InvalidPasskey
}

impl Passkeys<'_> {
    /// Starts a sign-in with a passkey: options for `navigator.credentials.get()`, with
    /// `mediation: "conditional"` so the browser can offer passkeys in the address field's
    /// autofill. Counted against the network's sign-in starts.
    pub async fn begin_sign_in(&self, client: &ClientInfo) -> Result<CeremonyStart> {
        let rp = self.rp()?;
        if let Gate::Closed(r) = self
            .kc
            .throttle()
            .begin_passkey(client.ip.as_deref())
            .await?
        {
            return Err(self.kc.refused(r, client).await);
        }
        let (rcr, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(format!("passkey sign-in: {e}")))?;
        let id = self.keep(CeremonyKind::SignIn, None, None, &state).await?;
        Ok(CeremonyStart {
            ceremony_id: id,
            options: serde_json::to_value(&rcr)
                .map_err(|e| Error::Internal(format!("passkey options: {e}")))?,
        })
    }

    /// Finishes a sign-in with a passkey into a session of `kind`.
    pub async fn finish_sign_in(
        &self,
        ceremony_id: &str,
        credential: &serde_json::Value,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let outcome = self
            .finish_sign_in_inner(ceremony_id, credential, kind, client)
            .await;
        let label = match &outcome {
            Ok(_) => "success",
            Err(Error::InvalidPasskey) => "invalid_passkey",
            Err(Error::AccountDisabled) => "account_disabled",
            Err(_) => "error",
        };
        metrics::counter!("keycard_passkey_sign_ins_total", "outcome" => label).increment(1);
        outcome
    }

    async fn finish_sign_in_inner(
        &self,
        ceremony_id: &str,
        credential: &serde_json::Value,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let rp = self.rp()?;
        let ceremony = self
            .take(ceremony_id, CeremonyKind::SignIn)
            .await?
            .ok_or_else(|| failed("unknown, spent or expired ceremony"))?;
        let state: DiscoverableAuthentication = serde_json::from_str(&ceremony.state)
            .map_err(|e| Error::Internal(format!("stored ceremony state: {e}")))?;
        let assertion: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(failed)?;
        let (user_handle, credential_id) = rp
            .identify_discoverable_authentication(&assertion)
            .map_err(failed)?;
        let stored = self
            .kc
            .store()
            .find_passkey_by_credential(credential_id)
            .await?
            .filter(|p| p.user_id.0 == user_handle)
            .ok_or_else(|| failed("no such passkey for that account"))?;
        let cred = stored_credential(&stored)?;
        let result = rp
            .finish_discoverable_authentication_v2(&assertion, state, &cred)
            .map_err(failed)?;
        let proved = self.record_use(&stored, cred, &result).await?;
        let user = self
            .kc
            .store()
            .find_user(stored.user_id)
            .await?
            .ok_or_else(|| failed("the account is gone"))?;
        if user.disabled_at.is_some() {
            let mut ev = self
                .kc
                .audit_event(AuditKind::LoginFailed, Some(user.id), None, client);
            ev.detail = serde_json::json!({ "method": "passkey", "reason": "account_disabled" });
            self.kc.store().record_audit(&ev).await?;
            return Err(Error::AccountDisabled);
        }
        let detail = serde_json::json!({ "method": "passkey", "passkey_id": proved.passkey_id });
        self.kc
            .open_signed_in(
                user,
                kind,
                client,
                amr_of(proved.backup_eligible),
                Some(detail),
            )
            .await
    }

    /// Options for the second step of the sign-in behind challenge `binding` (its hash), with
    /// `user`'s passkeys.
    pub(crate) async fn begin_second_factor(
        &self,
        user: UserId,
        binding: String,
    ) -> Result<CeremonyStart> {
        let rp = self.rp()?;
        let stored = self.kc.store().list_passkeys(user).await?;
        if stored.is_empty() {
            return Err(Error::MfaNotEnabled);
        }
        let keys = stored
            .iter()
            .map(|p| stored_credential(p).map(Passkey::from))
            .collect::<Result<Vec<_>>>()?;
        let (rcr, state) = rp
            .start_passkey_authentication(&keys)
            .map_err(|e| Error::Internal(format!("passkey second step: {e}")))?;
        let id = self
            .keep(
                CeremonyKind::SecondFactor,
                Some(user),
                Some(binding),
                &state,
            )
            .await?;
        Ok(CeremonyStart {
            ceremony_id: id,
            options: serde_json::to_value(&rcr)
                .map_err(|e| Error::Internal(format!("passkey options: {e}")))?,
        })
    }

    /// The passkey that answered the second-step ceremony `ceremony_id` of `user`'s challenge
    /// `binding`; `None` when it proves nothing.
    pub(crate) async fn prove_second_factor(
        &self,
        user: UserId,
        binding: &str,
        ceremony_id: &str,
        credential: &serde_json::Value,
    ) -> Result<Option<Proved>> {
        // With passkeys off, a passkey answer proves nothing.
        let Some(rp) = self.kc.passkey_rp() else {
            return Ok(None);
        };
        let Some(ceremony): Option<Ceremony> = self
            .take(ceremony_id, CeremonyKind::SecondFactor)
            .await?
            .filter(|c| c.user_id == Some(user) && c.binding.as_deref() == Some(binding))
        else {
            return Ok(None);
        };
        let state: PasskeyAuthentication = serde_json::from_str(&ceremony.state)
            .map_err(|e| Error::Internal(format!("stored ceremony state: {e}")))?;
        let Ok(assertion) = serde_json::from_value::<PublicKeyCredential>(credential.clone())
        else {
            return Ok(None);
        };
        let Some(stored) = self
            .kc
            .store()
            .find_passkey_by_credential(assertion.get_credential_id())
            .await?
            .filter(|p| p.user_id == user)
        else {
            return Ok(None);
        };
        let result = match rp.finish_passkey_authentication(&assertion, &state) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(reason = %e, "passkey second step refused");
                return Ok(None);
            }
        };
        let cred = stored_credential(&stored)?;
        match self.record_use(&stored, cred, &result).await {
            Ok(p) => Ok(Some(p)),
            Err(Error::InvalidPasskey) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores what the use changed (counter, backup state), moving the counter forward only
    /// from the value read: of two uses racing, one wins.
    async fn record_use(
        &self,
        stored: &StoredPasskey,
        mut cred: Credential,
        result: &AuthenticationResult,
    ) -> Result<Proved> {
        if !result.user_verified() {
            return Err(failed("no user verification"));
        }
        // webauthn-rs compared the counter with the credential as the ceremony began (a second
        // step's ceremony holds a copy up to five minutes old); the stored one may have moved
        // since. A counter that does not move past it is a cloned key's.
        let counter = i64::from(result.counter());
        if (counter > 0 || stored.sign_count > 0) && counter <= stored.sign_count {
            return Err(failed("the counter did not move past the stored one"));
        }
        let mut passkey = Passkey::from(cred.clone());
        passkey.update_credential(result);
        cred = Credential::from(passkey);
        let json =
            serde_json::to_string(&cred).map_err(|e| Error::Internal(format!("passkey: {e}")))?;
        let moved = self
            .kc
            .store()
            .use_passkey(
                stored.id,
                stored.sign_count,
                i64::from(cred.counter),
                &json,
                cred.backup_eligible,
                self.kc.now(),
            )
            .await?;
        if !moved {
            return Err(failed("the counter moved meanwhile"));
        }
        Ok(Proved {
            passkey_id: stored.id,
            backup_eligible: cred.backup_eligible,
        })
    }
}

fn stored_credential(p: &StoredPasskey) -> Result<Credential> {
    serde_json::from_str(&p.credential)
        .map_err(|e| Error::Internal(format!("stored passkey {}: {e}", p.id)))
}
