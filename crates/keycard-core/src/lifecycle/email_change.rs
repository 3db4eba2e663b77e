//! Changing the account's address. Asking needs the current password or a sign-in within the
//! last 10 minutes (`KEYCARD_RECENT_SIGN_IN`) (a session left open on a shared computer must not be enough to take the
//! account's address, and with it its password resets). The new address gets a link (single
//! use, hashed, 24 hours by default) and becomes the account's only when it is followed, proved
//! by it; the old address is then told, with a link that undoes the change for 7 days:
//! following it restores the old address — whatever happened to the account's address since —
//! ends every session, and removes the password and the provider identities that do not vouch
//! for the old address: whoever changed it may have had all of them. The old address stays
//! reserved to the account while its undo link holds.

use super::store::{NewEmailChange, UndoLink};
use crate::accounts::Email;
use crate::audit::AuditKind;
use crate::config::SignupDisclosure;
use crate::error::{Error, Result};
use crate::mail::{Mail, MailKind};
use crate::service::{ClientInfo, Keycard, Principal};
use crate::throttle::Gate;
use crate::tokens::{TokenHash, random_secret};
use std::sync::Arc;
use time::Duration;

/// Confirmation links' tokens start with this…
pub const CHANGE_PREFIX: &str = "kcec_";
/// …and undo links' with this, so a leaked one is recognisable.
pub const UNDO_PREFIX: &str = "kceu_";
/// How long the old address can undo a change.
pub const UNDO_TTL: Duration = Duration::days(7);

/// The use case behind `/v1/me/email`, `/v1/auth/email-change/…` and their pages.
pub struct EmailChange<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn email_change(self: &Arc<Self>) -> EmailChange<'_> {
        EmailChange { kc: self }
    }
}

impl EmailChange<'_> {
    /// Mails a confirmation link to `new_email`. With the hidden sign-up mode a taken address
    /// gets the same answer (and no mail); otherwise it is `EmailTaken`.
    pub async fn request(
        &self,
        who: &Principal,
        new_email: &str,
        current_password: Option<&str>,
        by: &ClientInfo,
    ) -> Result<()> {
        let kc = self.kc;
        let new = Email::parse(new_email).map_err(|_| {
            Error::invalid("new_email", "invalid_email", "not a valid email address")
        })?;
        if who.user.email.as_ref() == Some(&new) {
            return Err(Error::invalid(
                "new_email",
                "same_email",
                "this is already the account's address",
            ));
        }
        kc.reauthenticate(who, current_password, by).await?;
        let now = kc.now();
        let pause = kc.policy().email_verification_resend_pause;
        if let Some(last) = kc.store().last_email_change_at(who.user_id).await? {
            let wait = last + pause - now;
            if wait.is_positive() {
                let secs = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
                return Err(Error::Throttled {
                    limit: crate::throttle::Limit::VerificationResend,
                    retry_after_secs: u64::try_from(secs).unwrap_or(1).max(1),
                });
            }
        }
        let taken = kc.store().find_login(&new).await?.is_some();
        if taken && kc.policy().signup_disclosure == SignupDisclosure::Open {
            return Err(Error::EmailTaken);
        }
        let token = random_secret(CHANGE_PREFIX)?;
        let ttl = kc.policy().email_verification_ttl;
        let change = NewEmailChange {
            token_hash: TokenHash::of(&token),
            user_id: who.user_id,
            old_email: who.user.email.as_ref().map(|e| e.as_str().to_owned()),
            new_email: new.as_str().to_owned(),
            created_at: now,
            expires_at: now + ttl,
        };
        let mut fields = serde_json::Map::new();
        fields.insert(
            "link".into(),
            format!("{}/verify-email?token={token}", kc.policy().issuer).into(),
        );
        fields.insert("expires_hours".into(), ttl.whole_hours().into());
        let locale = by.locale.as_deref().unwrap_or("en");
        let mail = Mail::new(MailKind::ConfirmEmailChange, new, locale, fields, now);
        let mut ev = kc.audit_event(
            AuditKind::EmailChangeRequested,
            Some(who.user_id),
            Some(who.session_id),
            by,
        );
        ev.detail = serde_json::json!({ "new_email": change.new_email });
        // A taken address (hidden mode) is recorded like any other, so that the pause and the
        // answer are the same, but mailed nothing; its link could never be followed anyway.
        let sealed = if taken {
            None
        } else {
            Some(kc.seal_mail(&mail)?)
        };
        kc.store()
            .create_email_change(&change, sealed.as_ref(), &ev)
            .await?;
        kc.mail_queued();
        Ok(())
    }

    /// Follows the confirmation link: the new address becomes the account's, verified, and the
    /// old one is mailed the undo link. Returns the new address.
    pub async fn confirm(&self, token: &str, by: &ClientInfo) -> Result<String> {
        self.gate(token, CHANGE_PREFIX, by).await?;
        let (kc, token, by) = (self.kc.clone(), token.to_owned(), by.clone());
        crate::service::detached(async move { kc.email_change().confirm_now(&token, &by).await })
            .await
    }

    async fn confirm_now(&self, token: &str, by: &ClientInfo) -> Result<String> {
        let kc = self.kc;
        let hash = TokenHash::of(token);
        let now = kc.now();
        let pending = kc
            .store()
            .find_email_change(&hash, now)
            .await?
            .ok_or(Error::InvalidEmailChange)?;
        let undo_token = random_secret(UNDO_PREFIX)?;
        let undo = UndoLink {
            token_hash: TokenHash::of(&undo_token),
            expires_at: now + UNDO_TTL,
        };
        let notice = match &pending.old_email {
            Some(old) => {
                let mut fields = serde_json::Map::new();
                fields.insert(
                    "link".into(),
                    format!("{}/email/undo?token={undo_token}", kc.policy().issuer).into(),
                );
                fields.insert("new_email".into(), pending.new_email.clone().into());
                fields.insert("expires_days".into(), UNDO_TTL.whole_days().into());
                let locale = by.locale.as_deref().unwrap_or("en");
                let to = Email::from_trusted(old.clone());
                let mail = Mail::new(MailKind::EmailChanged, to, locale, fields, now);
                Some(kc.seal_mail(&mail)?)
            }
            None => None,
        };
        let mut ev = kc.audit_event(AuditKind::EmailChanged, Some(pending.user_id), None, by);
        ev.detail = serde_json::json!({
            "old_email": pending.old_email,
            "new_email": pending.new_email,
        });
        let user = pending.user_id;
        let changed = kc
            .changing_user(user, move |store| async move {
                store
                    .confirm_email_change(&hash, now, &undo, notice.as_ref(), &ev)
                    .await
            })
            .await?
            .ok_or(Error::InvalidEmailChange)?;
        kc.mail_queued();
        Ok(changed)
    }

    /// Follows the undo link: the old address is the account's again and every session ends.
    /// Returns how many sessions ended.
    pub async fn undo(&self, token: &str, by: &ClientInfo) -> Result<u64> {
        self.gate(token, UNDO_PREFIX, by).await?;
        let (kc, token, by) = (self.kc.clone(), token.to_owned(), by.clone());
        crate::service::detached(async move { kc.email_change().undo_now(&token, &by).await }).await
    }

    async fn undo_now(&self, token: &str, by: &ClientInfo) -> Result<u64> {
        let kc = self.kc;
        let hash = TokenHash::of(token);
        let now = kc.now();
        let user = kc
            .store()
            .find_email_undo(&hash, now)
            .await?
            .ok_or(Error::InvalidEmailChange)?;
        let ev = kc.audit_event(AuditKind::EmailChangeUndone, Some(user), None, by);
        let ended = kc
            .ending_sessions(user, move |store| async move {
                store.undo_email_change(&hash, now, &ev).await
            })
            .await?
            .ok_or(Error::InvalidEmailChange)?;
        Ok(ended)
    }

    /// The checks every link's token passes before it is looked up.
    async fn gate(&self, token: &str, prefix: &str, by: &ClientInfo) -> Result<()> {
        if !token.starts_with(prefix) || token.len() > 100 {
            return Err(Error::InvalidEmailChange);
        }
        let kc = self.kc;
        if let Gate::Closed(r) = kc.throttle().begin_link_token(by.ip.as_deref()).await? {
            return Err(kc.refused(r, by).await);
        }
        Ok(())
    }
}
