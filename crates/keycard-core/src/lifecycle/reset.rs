//! Password reset: a single-use link (256 random bits, stored as a SHA-256, valid 30 minutes by
//! default) mailed to the account's address; following it sets a new password. Asking for one
//! answers alike, in words and in time, whether the address has an account or not: the answer is
//! given once the limits let the request through, and the account is looked up afterwards.
//!
//! Setting the password through the link ends every session (a thief's included) and every
//! app's grant, proves the address (the link was read there), clears the sign-in failures that
//! may have locked the account (a lock must never keep the owner out for good), and mails the
//! address a notice. An account with no password (made through a provider) gets one this way.
//! The provider identities whose provider does not vouch for the account's address are removed
//! too: whoever linked them need not have been the address's owner (someone may have signed up
//! with it, linked their own provider account, and waited for the owner to confirm the address
//! unsuspecting); the owner links the others again.

use super::store::{CompletedReset, NewPasswordReset};
use crate::accounts::{Email, User};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::mail::{Mail, MailKind};
use crate::service::{ClientInfo, Keycard};
use crate::throttle::Gate;
use crate::tokens::{TokenHash, random_secret};
use std::sync::Arc;

/// Reset links' tokens start with this, so a leaked one is recognisable.
pub const RESET_PREFIX: &str = "kcpr_";

/// The use case behind `/v1/auth/password/forgot`, `/v1/auth/password/reset` and their pages.
pub struct PasswordReset<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn password_reset(self: &Arc<Self>) -> PasswordReset<'_> {
        PasswordReset { kc: self }
    }
}

/// Who asked for a reset link: the person (by address) or an operator (by account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AskedBy<'a> {
    Person,
    Operator { admin: &'a str },
}

impl PasswordReset<'_> {
    /// Asks for a reset link for `email`. `Ok` says only that the request was taken: the link is
    /// mailed afterwards, and only if the address has an account that is not disabled.
    pub async fn request(&self, email: &str, by: &ClientInfo) -> Result<()> {
        let email = Email::parse(email)?;
        let kc = self.kc;
        if let Gate::Closed(r) = kc.throttle().begin_forgot(&email, by.ip.as_deref()).await? {
            return Err(kc.refused(r, by).await);
        }
        let (kc, by) = (kc.clone(), by.clone());
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let Some(user) = (match kc.store().find_login(&email).await {
                Ok(found) => found.map(|(u, _)| u),
                Err(e) => {
                    tracing::error!(error = %e, "could not look up the account of a password-reset request");
                    return;
                }
            }) else {
                metrics::counter!("keycard_password_reset_requests_total", "outcome" => "no_account").increment(1);
                return;
            };
            if let Err(e) = kc
                .password_reset()
                .mail_link(&user, &by, AskedBy::Person)
                .await
            {
                tracing::error!(error = %e, user.id = %user.id, "could not queue a password-reset mail");
            }
        }));
        Ok(())
    }

    /// Writes a reset link for `user` with the mail that carries it (nothing for a disabled
    /// account or one without an address). `true` when a link was queued.
    pub(crate) async fn mail_link(
        &self,
        user: &User,
        by: &ClientInfo,
        asked: AskedBy<'_>,
    ) -> Result<bool> {
        let kc = self.kc;
        let Some(email) = user.email.clone() else {
            return Ok(false);
        };
        let mut ev = kc.audit_event(AuditKind::PasswordResetRequested, Some(user.id), None, by);
        ev.detail = match asked {
            AskedBy::Person => serde_json::json!({ "by": "person" }),
            AskedBy::Operator { admin } => serde_json::json!({ "by": "operator", "admin": admin }),
        };
        if user.disabled_at.is_some() {
            // An operator's decision stands: no way back in is mailed around it.
            ev.detail["sent"] = false.into();
            ev.detail["reason"] = "account_disabled".into();
            kc.store().record_audit(&ev).await?;
            metrics::counter!("keycard_password_reset_requests_total", "outcome" => "disabled")
                .increment(1);
            return Ok(false);
        }
        let token = random_secret(RESET_PREFIX)?;
        let now = kc.now();
        let ttl = kc.policy().password_reset_ttl;
        let link = NewPasswordReset {
            token_hash: TokenHash::of(&token),
            user_id: user.id,
            email: email.as_str().to_owned(),
            created_at: now,
            expires_at: now + ttl,
        };
        let mut fields = serde_json::Map::new();
        fields.insert(
            "link".into(),
            format!("{}/password/reset?token={token}", kc.policy().issuer).into(),
        );
        fields.insert("expires_minutes".into(), ttl.whole_minutes().into());
        let locale = by.locale.as_deref().unwrap_or("en");
        let mail = Mail::new(MailKind::PasswordReset, email, locale, fields, now);
        kc.store()
            .create_password_reset(&link, &kc.seal_mail(&mail)?, &ev)
            .await?;
        kc.mail_queued();
        metrics::counter!("keycard_password_reset_requests_total", "outcome" => "mailed")
            .increment(1);
        Ok(true)
    }

    /// The address a link's token resets, if it still holds (for the page the link opens:
    /// looking spends nothing, since mail scanners open links too).
    pub async fn holds(&self, token: &str, by: &ClientInfo) -> Result<String> {
        if !token.starts_with(RESET_PREFIX) || token.len() > 100 {
            return Err(Error::InvalidResetToken);
        }
        let kc = self.kc;
        if let Gate::Closed(r) = kc.throttle().begin_link_token(by.ip.as_deref()).await? {
            return Err(kc.refused(r, by).await);
        }
        let link = kc
            .store()
            .find_password_reset(&TokenHash::of(token), kc.now())
            .await?
            .ok_or(Error::InvalidResetToken)?;
        Ok(link.email)
    }

    /// Sets a new password through a reset link's token; returns how many sessions ended. A
    /// spent, expired, unknown or replaced link is `InvalidResetToken`, whichever it was; a
    /// password the policy refuses leaves the link unspent, to try again.
    pub async fn reset(&self, token: &str, new_password: &str, by: &ClientInfo) -> Result<u64> {
        if !token.starts_with(RESET_PREFIX) || token.len() > 100 {
            return Err(Error::InvalidResetToken);
        }
        let kc = self.kc;
        if let Gate::Closed(r) = kc.throttle().begin_link_token(by.ip.as_deref()).await? {
            return Err(kc.refused(r, by).await);
        }
        // To its end even if the caller goes away: the password, the ended sessions and the
        // notice land together, and the apps hear of their ended grants.
        let (kc, token, password, by) = (
            kc.clone(),
            token.to_owned(),
            new_password.to_owned(),
            by.clone(),
        );
        crate::service::detached(async move {
            kc.password_reset().reset_now(&token, &password, &by).await
        })
        .await
    }

    async fn reset_now(&self, token: &str, new_password: &str, by: &ClientInfo) -> Result<u64> {
        let kc = self.kc;
        let token_hash = TokenHash::of(token);
        let link = kc
            .store()
            .find_password_reset(&token_hash, kc.now())
            .await?
            .ok_or(Error::InvalidResetToken)?;
        let user = kc
            .store()
            .find_user(link.user_id)
            .await?
            .ok_or(Error::InvalidResetToken)?;
        if user.disabled_at.is_some() {
            return Err(Error::AccountDisabled);
        }
        let email = Email::from_trusted(link.email.clone());
        let password = kc
            .policy()
            .password
            .check(new_password, Some(&email), "new_password")?;
        kc.screen_password(&password, "new_password").await?;
        let password_hash = kc.password_hasher().hash(&password).await?;
        let now = kc.now();
        let ev = kc.audit_event(AuditKind::PasswordReset, Some(user.id), None, by);
        let notice = kc.password_notice(&email, "reset", by)?;
        let user_id = user.id;
        let done = kc
            .ending_sessions(user_id, move |store| async move {
                store
                    .complete_password_reset(&CompletedReset {
                        token_hash: &token_hash,
                        user_id,
                        email: &link.email,
                        password_hash: &password_hash,
                        now,
                        audit: &ev,
                        notice: &notice,
                    })
                    .await
            })
            .await?
            .ok_or(Error::InvalidResetToken)?;
        kc.mail_queued();
        // The owner is back: whatever locked the account's password sign-in is over.
        if let Err(e) = kc.throttle().forget_failures(&email).await {
            tracing::warn!(error = %e, "could not clear sign-in failures after a password reset");
        }
        if let Err(e) = kc.throttle().forget_second_factor_failures(user_id).await {
            tracing::warn!(error = %e, "could not clear second-step failures after a password reset");
        }
        metrics::counter!("keycard_password_resets_total").increment(1);
        Ok(done.sessions_ended)
    }
}
