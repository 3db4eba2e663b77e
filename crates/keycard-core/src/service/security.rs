//! Sensitive changes (the address, the password, second factors, passkeys): the re-
//! authentication they need, and the notice each mails to the account's address.

use crate::error::{Error, Result};
use crate::mail::{Mail, MailKind, PendingMail};
use crate::service::{ClientInfo, Keycard, Principal};
use crate::throttle::Gate;

impl Keycard {
    /// A sensitive change (address, second factors) may go ahead: the session signed in within
    /// the policy's `recent_sign_in` (10 minutes by default) — through the second factor, when
    /// the account has one —, or `current_password` is right, which is enough only for an
    /// account without a second factor, since a password alone would then not be a full
    /// sign-in (ASVS 7.5.1).
    pub(crate) async fn reauthenticate(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        by: &ClientInfo,
    ) -> Result<()> {
        let second_factor = self.mfa_status(who.user_id).await?.enabled();
        if let Some(current) = current_password {
            self.check_current_password(who, current, by).await?;
            if !second_factor {
                return Ok(());
            }
        }
        let session = self
            .store()
            .find_session_with_user(who.session_id)
            .await?
            .map(|(s, _)| s);
        // With a second factor on, only a sign-in that went through it counts (not one from
        // before it was set up).
        match session {
            Some(s)
                if self.now() - s.auth_time <= self.policy().recent_sign_in
                    && (!second_factor || s.amr.iter().any(|m| m == "mfa")) =>
            {
                Ok(())
            }
            _ => Err(Error::ReauthenticationRequired),
        }
    }

    /// The current password, checked under the sign-in's limits: a session left open (or
    /// stolen) must not become a way to guess the password at hashing speed. Failures count
    /// against the account and the network as wrong sign-in passwords do, and lock alike.
    async fn check_current_password(
        &self,
        who: &Principal,
        current: &str,
        by: &ClientInfo,
    ) -> Result<()> {
        // The sign-in's account key: by address; an account without one has no password to
        // sign in with, and is counted by its id.
        let account = match &who.user.email {
            Some(e) => e.as_str().to_owned(),
            None => format!("user:{}", who.user_id),
        };
        let attempt = match self
            .throttle()
            .begin_login(&account, by.ip.as_deref())
            .await?
        {
            Gate::Open(a) => a,
            Gate::Closed(r) => return Err(self.refused(r, by).await),
        };
        let verdict = async {
            let stored = self.store().find_password_hash(who.user_id).await?;
            Ok::<_, Error>(
                self.policy().password.is_plausible(current)
                    && matches!(
                        self.password_hasher()
                            .verify(current, stored.as_deref())
                            .await?,
                        crate::passwords::Verification::Valid { .. }
                    ),
            )
        }
        .await;
        match verdict {
            Ok(true) => {
                self.throttle().login_succeeded(attempt).await;
                Ok(())
            }
            // Stays counted, as a wrong sign-in password does.
            Ok(false) => Err(Error::invalid(
                "current_password",
                "invalid_current_password",
                "the current password is not correct",
            )),
            Err(e) => {
                self.throttle().login_abandoned(attempt).await;
                Err(e)
            }
        }
    }

    /// The notice mailed to the account's address for a change to how it signs in (`change`:
    /// `mfa_enabled`, `mfa_disabled`, `recovery_codes_regenerated`, `recovery_code_used`).
    /// `None` for an account without an address.
    pub(crate) fn security_notice(
        &self,
        who: &crate::accounts::User,
        change: &str,
        client: &ClientInfo,
        extra: &[(&str, serde_json::Value)],
    ) -> Result<Option<PendingMail>> {
        let Some(email) = &who.email else {
            return Ok(None);
        };
        let mut fields = serde_json::Map::new();
        fields.insert(
            "link".into(),
            format!("{}/account", self.policy().issuer).into(),
        );
        fields.insert("change".into(), change.into());
        for (k, v) in extra {
            fields.insert((*k).to_owned(), v.clone());
        }
        let locale = client.locale.as_deref().unwrap_or("en");
        let mail = Mail::new(
            MailKind::SecurityChange,
            email.clone(),
            locale,
            fields,
            self.now(),
        );
        Ok(Some(self.seal_mail(&mail)?))
    }
}
