//! Setting up, removing and listing second factors, and new recovery codes.

use super::{Mfa, recovery, totp};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::service::{ClientInfo, Keycard, Principal};
use time::{Duration, OffsetDateTime};

/// An unconfirmed secret is forgotten after this long (it is replaced by the next start anyway).
const PENDING_TTL: Duration = Duration::minutes(15);

/// The account's second factors, as its owner sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MfaStatus {
    /// When the authenticator app was confirmed; `None` without one.
    pub totp: Option<OffsetDateTime>,
    pub recovery_codes_left: usize,
    /// Passkeys, which also complete a second step once two-step verification is on.
    pub passkeys: usize,
}

impl MfaStatus {
    /// Whether a password alone signs the account in no more.
    pub fn enabled(&self) -> bool {
        self.totp.is_some()
    }

    /// What completes a second step, in the order a client should offer them.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.totp.is_some() {
            m.push("totp");
        }
        if self.enabled() && self.passkeys > 0 {
            m.push("passkey");
        }
        if self.recovery_codes_left > 0 {
            m.push("recovery_code");
        }
        m
    }
}

/// What an authenticator app needs to be set up: the secret to type in and the URI a QR code
/// carries. Shown once; only its sealed form is stored.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

impl Keycard {
    /// Second factors of `user`.
    pub(crate) async fn mfa_status(&self, user: UserId) -> Result<MfaStatus> {
        let counts = self.store().count_second_factors(user).await?;
        let Some(confirmed) = counts.totp_confirmed_at else {
            return Ok(MfaStatus::default());
        };
        Ok(MfaStatus {
            totp: Some(confirmed),
            recovery_codes_left: usize::try_from(counts.recovery_codes).unwrap_or(usize::MAX),
            passkeys: if self.passkeys_enabled() {
                usize::try_from(counts.passkeys).unwrap_or(usize::MAX)
            } else {
                0
            },
        })
    }
}

impl Mfa<'_> {
    /// The signed-in person's second factors, for them to see; remembered with their session
    /// like the account itself, so `GET /v1/me` costs no query when the session is remembered.
    /// (What lets anyone in reads the database: [`Keycard::mfa_status`].)
    pub async fn status(&self, who: &Principal) -> Result<MfaStatus> {
        let cache = self.kc.session_cache();
        if let Some(known) = cache.second_factors(who.session_id, who.user_id) {
            return Ok(known);
        }
        let ticket = cache.ticket();
        let found = self.kc.mfa_status(who.user_id).await?;
        cache.put_second_factors(ticket, who.session_id, found.clone());
        Ok(found)
    }

    /// Starts setting up an authenticator app: a new secret, unconfirmed until its first code
    /// ([`Self::confirm_totp`]). `issuer` names the service in the app.
    pub async fn start_totp(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        issuer: &str,
        by: &ClientInfo,
    ) -> Result<TotpEnrolment> {
        let kc = self.kc;
        kc.reauthenticate(who, current_password, by).await?;
        let secret = totp::new_secret()?;
        let sealed = kc.mfa_key().seal(&who.user_id.to_string(), &secret)?;
        if !kc
            .store()
            .put_pending_totp(who.user_id, &sealed, kc.now())
            .await?
        {
            return Err(Error::MfaAlreadyEnabled);
        }
        let account = match &who.user.email {
            Some(e) => e.as_str().to_owned(),
            None => who.user_id.to_string(),
        };
        Ok(TotpEnrolment {
            secret: totp::base32(&secret),
            otpauth_uri: totp::otpauth_uri(&secret, issuer, &account)?,
        })
    }

    /// Confirms the authenticator app being set up with a code from it: from now on a password
    /// sign-in needs a second step. Returns the new recovery codes (shown once).
    pub async fn confirm_totp(
        &self,
        who: &Principal,
        code: &str,
        by: &ClientInfo,
    ) -> Result<Vec<String>> {
        let kc = self.kc;
        let now = kc.now();
        let pending = match kc.store().find_totp(who.user_id).await? {
            Some(t) if t.confirmed_at.is_some() => return Err(Error::MfaAlreadyEnabled),
            Some(t) if now - t.created_at <= PENDING_TTL => t,
            _ => return Err(Error::MfaNotEnabled),
        };
        let secret = kc
            .mfa_key()
            .open(&who.user_id.to_string(), &pending.sealed_secret)?;
        let step = totp::as_code(code)
            .and_then(|c| totp::matched_step(&secret, &c, now))
            .ok_or_else(|| {
                Error::invalid(
                    "code",
                    "invalid_mfa_code",
                    "the code is not the app's current one",
                )
            })?;
        let codes = recovery::generate()?;
        let hashes = kc
            .password_hasher()
            .hash_lookup_secrets(normalized(&codes))
            .await?;
        let ev = kc.audit_event(
            AuditKind::MfaEnabled,
            Some(who.user_id),
            Some(who.session_id),
            by,
        );
        let mail = kc.security_notice(&who.user, "mfa_enabled", by, &[])?;
        let (user, sealed) = (who.user_id, pending.sealed_secret);
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let confirmed = kc
            .changing_user(user, move |store| async move {
                store
                    .confirm_totp(user, &sealed, step, now, &hashes, &ev, mail.as_ref())
                    .await
            })
            .await?;
        if !confirmed {
            return Err(Error::MfaNotEnabled);
        }
        kc.mail_queued();
        Ok(codes)
    }

    /// Removes the authenticator app and its recovery codes: a password signs in alone again.
    pub async fn remove_totp(&self, who: &Principal, by: &ClientInfo) -> Result<()> {
        let kc = self.kc;
        kc.reauthenticate(who, None, by).await?;
        let ev = kc.audit_event(
            AuditKind::MfaDisabled,
            Some(who.user_id),
            Some(who.session_id),
            by,
        );
        let mail = kc.security_notice(&who.user, "mfa_disabled", by, &[])?;
        let user = who.user_id;
        if !kc
            .changing_user(user, move |store| async move {
                store.remove_totp(user, &ev, mail.as_ref()).await
            })
            .await?
        {
            return Err(Error::MfaNotEnabled);
        }
        kc.mail_queued();
        Ok(())
    }

    /// A new set of recovery codes in place of the old ones (all of them, used or not).
    pub async fn regenerate_recovery_codes(
        &self,
        who: &Principal,
        by: &ClientInfo,
    ) -> Result<Vec<String>> {
        let kc = self.kc;
        kc.reauthenticate(who, None, by).await?;
        if !kc.mfa_status(who.user_id).await?.enabled() {
            return Err(Error::MfaNotEnabled);
        }
        let codes = recovery::generate()?;
        let hashes = kc
            .password_hasher()
            .hash_lookup_secrets(normalized(&codes))
            .await?;
        let ev = kc.audit_event(
            AuditKind::RecoveryCodesRegenerated,
            Some(who.user_id),
            Some(who.session_id),
            by,
        );
        let mail = kc.security_notice(&who.user, "recovery_codes_regenerated", by, &[])?;
        let (user, now) = (who.user_id, kc.now());
        kc.changing_user(user, move |store| async move {
            store
                .replace_recovery_codes(user, &hashes, now, &ev, mail.as_ref())
                .await
        })
        .await?;
        kc.mail_queued();
        Ok(codes)
    }
}

fn normalized(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .collect()
}
