//! Email verification: a single-use link (256 random bits, stored as a SHA-256, valid 24 hours
//! by default) mailed to the address; following it marks the address verified. An account that
//! has not verified can still sign in (conversion matters), but its `email_verified` stays false
//! in its profile and ID tokens, and no provider identity is linked to it automatically.

use super::store::NewVerification;
use crate::accounts::User;
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::mail::{Mail, MailKind};
use crate::service::{ClientInfo, Keycard, Principal};
use crate::tokens::{TokenHash, random_secret};
use std::sync::Arc;

/// Verification links' tokens start with this, so a leaked one is recognisable.
pub const VERIFICATION_PREFIX: &str = "kcev_";

/// The use case behind `/v1/auth/verify-email` and the `/verify-email` page.
pub struct Verification<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn verification(self: &Arc<Self>) -> Verification<'_> {
        Verification { kc: self }
    }
}

impl Verification<'_> {
    /// Mails `user` a link that verifies their address (nothing for an account without one, or
    /// already verified), in a task of its own: a caller that goes away does not leave the link
    /// unwritten. `locale` is the language of the mail.
    pub async fn send(&self, user: &User, locale: &str) -> Result<bool> {
        let (kc, user, locale) = (self.kc.clone(), user.clone(), locale.to_owned());
        crate::service::detached(async move { kc.verification().send_now(&user, &locale).await })
            .await
    }

    async fn send_now(&self, user: &User, locale: &str) -> Result<bool> {
        let Some(email) = user.email.as_ref().filter(|_| !user.email_verified) else {
            return Ok(false);
        };
        let (v, pending) = self.link(user.id, email, locale)?;
        self.kc.store().create_verification(&v, &pending).await?;
        self.kc.mail_queued();
        Ok(true)
    }

    /// A new link for `email` of `user`, and the mail that carries it (sealed), to store
    /// together.
    pub(crate) fn link(
        &self,
        user: crate::ids::UserId,
        email: &crate::accounts::Email,
        locale: &str,
    ) -> Result<(NewVerification, crate::mail::PendingMail)> {
        let kc = self.kc;
        let token = random_secret(VERIFICATION_PREFIX)?;
        let now = kc.now();
        let v = NewVerification {
            token_hash: TokenHash::of(&token),
            user_id: user,
            email: email.as_str().to_owned(),
            created_at: now,
            expires_at: now + kc.policy().email_verification_ttl,
        };
        let mut fields = serde_json::Map::new();
        fields.insert(
            "link".into(),
            format!("{}/verify-email?token={token}", kc.policy().issuer).into(),
        );
        // No name: whoever signed up chose it, and the address is not proved yet, so it must
        // not put words of a stranger's into a mail from Keycard's domain.
        fields.insert(
            "expires_hours".into(),
            (kc.policy().email_verification_ttl.whole_hours()).into(),
        );
        let mail = Mail::new(MailKind::VerifyEmail, email.clone(), locale, fields, now);
        Ok((v, kc.seal_mail(&mail)?))
    }

    /// Sends a new link to the signed-in person, at most once a minute.
    pub async fn resend(&self, who: &Principal, by: &ClientInfo) -> Result<()> {
        let user = &who.user;
        if user.email.is_none() {
            return Err(Error::invalid(
                "email",
                "no_email",
                "this account has no email address to verify",
            ));
        }
        if user.email_verified {
            return Err(Error::AlreadyVerified);
        }
        let now = self.kc.now();
        let pause = self.kc.policy().email_verification_resend_pause;
        if let Some(last) = self.kc.store().last_verification_at(user.id).await? {
            let wait = last + pause - now;
            if wait.is_positive() {
                // Rounded up: a client that waits exactly this long is not refused again.
                let secs = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
                return Err(Error::Throttled {
                    limit: crate::throttle::Limit::VerificationResend,
                    retry_after_secs: u64::try_from(secs).unwrap_or(1).max(1),
                });
            }
        }
        // The allowance of mailed links per network and per address (shared with password
        // resets): whoever registered accounts with other people's addresses cannot use them
        // to fill those inboxes.
        if let Some(email) = &user.email
            && let crate::throttle::Gate::Closed(r) = self
                .kc
                .throttle()
                .begin_forgot(email, by.ip.as_deref())
                .await?
        {
            return Err(self.kc.refused(r, by).await);
        }
        let locale = by.locale.as_deref().unwrap_or("en");
        self.send(user, locale).await?;
        Ok(())
    }

    /// Follows a link: the address it was sent to is verified. A spent, expired, unknown or
    /// outdated link is `InvalidVerification`, whichever it was. The link that confirms a new
    /// address (`kcec_…`, see `email_change`) is followed here too: it verifies that address by
    /// making it the account's.
    pub async fn verify(&self, token: &str, by: &ClientInfo) -> Result<()> {
        if token.starts_with(super::CHANGE_PREFIX) {
            return match self.kc.email_change().confirm(token, by).await {
                Ok(_) => Ok(()),
                Err(Error::InvalidEmailChange) => Err(Error::InvalidVerification),
                Err(e) => Err(e),
            };
        }
        if !token.starts_with(VERIFICATION_PREFIX) || token.len() > 100 {
            return Err(Error::InvalidVerification);
        }
        let kc = self.kc;
        if let crate::throttle::Gate::Closed(r) =
            kc.throttle().begin_link_token(by.ip.as_deref()).await?
        {
            return Err(kc.refused(r, by).await);
        }
        // To its end even if the caller goes away: the commit and the cache's forgetting go
        // together.
        let (kc, token, by) = (self.kc.clone(), token.to_owned(), by.clone());
        crate::service::detached(async move { kc.verification().verify_now(&token, &by).await })
            .await
    }

    async fn verify_now(&self, token: &str, by: &ClientInfo) -> Result<()> {
        let kc = self.kc;
        let ev = kc.audit_event(AuditKind::EmailVerified, None, None, by);
        let hash = TokenHash::of(token);
        let now = kc.now();
        // The user is known only once the link is: the store fills it into the event.
        let verified = kc
            .store()
            .consume_verification(&hash, now, &ev)
            .await?
            .ok_or(Error::InvalidVerification)?;
        kc.session_cache().forget_user(verified.user_id);
        // Attempts made before the address was proved (a hidden-mode account's password is
        // refused until then) no longer count against it.
        if let Err(e) = kc
            .throttle()
            .forget_failures(&crate::accounts::Email::from_trusted(
                verified.email.clone(),
            ))
            .await
        {
            tracing::warn!(error = %e, "could not clear sign-in failures after a verification");
        }
        metrics::counter!("keycard_emails_verified_total").increment(1);
        Ok(())
    }
}
