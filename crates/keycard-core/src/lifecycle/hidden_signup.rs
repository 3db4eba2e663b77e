//! Sign-up that says nothing about who has an account (`KEYCARD_SIGNUP_DISCLOSURE=hidden`).
//! A new address and a taken one get the same answer after the same work (policy, limits, the
//! breach screen and one hash each): a new address gets its account, created unverified and
//! without a session, and a verification link; the owner of a taken one gets a mail saying
//! someone tried, with the ways in. Until its address is proved such an account does not sign
//! in with its password (the answer is the one a wrong password gets): otherwise signing up and
//! then signing in would tell whether the address was free.

use crate::accounts::{Email, User};
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::mail::{Mail, MailKind};
use crate::service::{ClientInfo, Keycard};
use crate::store::StoreError;
use crate::throttle::Gate;
use std::sync::Arc;

/// The use case behind sign-up in hidden mode (API and page).
pub struct HiddenSignUp<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn hidden_sign_up(self: &Arc<Self>) -> HiddenSignUp<'_> {
        HiddenSignUp { kc: self }
    }
}

impl HiddenSignUp<'_> {
    /// Takes a sign-up: `Ok` for a new address and a taken one alike. Runs to its end even if
    /// the caller goes away.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        by: &ClientInfo,
    ) -> Result<()> {
        let (kc, email, password) = (self.kc.clone(), email.to_owned(), password.to_owned());
        let (name, by) = (name.map(str::to_owned), by.clone());
        crate::service::detached(async move {
            kc.hidden_sign_up()
                .register_now(&email, &password, name.as_deref(), &by)
                .await
        })
        .await
    }

    async fn register_now(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        by: &ClientInfo,
    ) -> Result<()> {
        let kc = self.kc;
        let email = Email::parse(email)?;
        let password = kc
            .policy()
            .password
            .check(password, Some(&email), "password")?;
        let name = name.map(crate::accounts::parse_name).transpose()?.flatten();
        if let Gate::Closed(r) = kc
            .throttle()
            .begin_register(&email, by.ip.as_deref())
            .await?
        {
            return Err(kc.refused(r, by).await);
        }
        kc.screen_password(&password, "password").await?;
        let hash = kc.password_hasher().hash(&password).await?;
        let now = kc.now();
        let user = User {
            id: UserId::new(),
            email: Some(email.clone()),
            email_verified: false,
            name,
            picture_url: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        let locale = by.locale.as_deref().unwrap_or("en");
        let (link, mail) = kc.verification().link(user.id, &email, locale)?;
        let audit = [kc.audit_event(AuditKind::Registered, Some(user.id), None, by)];
        match kc
            .store()
            .create_unverified_account(&user, &hash, &link, &mail, &audit)
            .await
        {
            Ok(()) => {
                metrics::counter!("keycard_registrations_total").increment(1);
            }
            Err(StoreError::EmailTaken) => {
                // After the answer, as for a new address the mail is written with the account:
                // what the owner is told costs the caller no time.
                let (kc, locale) = (kc.clone(), locale.to_owned());
                tokio::spawn(tracing::Instrument::in_current_span(async move {
                    if let Err(e) = kc.hidden_sign_up().tell_owner(email, &locale).await {
                        tracing::error!(error = %e, "could not tell an address's owner of a sign-up attempt");
                    }
                }));
                metrics::counter!("keycard_signups_of_taken_addresses_total").increment(1);
                return Ok(());
            }
            Err(e) => return Err(Error::from(e)),
        }
        kc.mail_queued();
        Ok(())
    }

    /// Mails the owner of a taken address that someone tried, with the ways in (sign in, or
    /// reset). Never a new verification link for the account already there, even unconfirmed:
    /// its password may be a stranger's, waiting for the owner to confirm it; a reset sets the
    /// owner's own. Nothing for a disabled account.
    async fn tell_owner(&self, email: Email, locale: &str) -> Result<()> {
        let kc = self.kc;
        let Some((owner, _)) = kc.store().find_login(&email).await? else {
            return Ok(());
        };
        if owner.disabled_at.is_some() {
            return Ok(());
        }
        let mut fields = serde_json::Map::new();
        let issuer = &kc.policy().issuer;
        fields.insert("link".into(), format!("{issuer}/login").into());
        fields.insert("forgot".into(), format!("{issuer}/password/forgot").into());
        let notice = Mail::new(MailKind::SignupAttempt, email, locale, fields, kc.now());
        kc.store().queue_mail(&kc.seal_mail(&notice)?).await?;
        kc.mail_queued();
        Ok(())
    }
}
