//! Operating people's accounts: what an operator — an app holding `keycard:admin` (see
//! [`crate::oidc::ADMIN_SCOPE`]) — may look up and change. Every change is audited with the app
//! that made it.

mod store;

pub use store::{AccountAdminStore, EventFilter};

use crate::accounts::{Email, User};
use crate::audit::{AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::service::{ClientInfo, Keycard};
use crate::sessions::{Session, SessionKind};
use crate::social::Identity;
use std::sync::Arc;

/// The most events one page lists.
pub const MAX_EVENTS_PAGE: u32 = 200;
/// Bounds an operator's note on a disabling, which is kept in the audit trail.
const MAX_REASON_CHARS: usize = 500;

/// An account as an operator sees it: the profile, its status and how one gets in.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub user: User,
    pub has_password: bool,
    pub identities: Vec<Identity>,
    /// Active sessions by kind: API, browser, app grants.
    pub sessions: SessionCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub api: usize,
    pub browser: usize,
    pub grants: usize,
}

impl SessionCounts {
    fn of(sessions: &[Session]) -> Self {
        let count = |k| sessions.iter().filter(|s| s.kind == k).count();
        Self {
            api: count(SessionKind::Api),
            browser: count(SessionKind::Browser),
            grants: count(SessionKind::Grant),
        }
    }
}

/// The use case behind the admin API's `/admin/v1/users` and `/admin/v1/events`.
pub struct AccountAdmin<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn account_admin(self: &Arc<Self>) -> AccountAdmin<'_> {
        AccountAdmin { kc: self }
    }
}

impl AccountAdmin<'_> {
    /// The account registered with this address, if any (a list, so that the answer has one
    /// shape whether or not it is found).
    pub async fn find_by_email(&self, email: &str) -> Result<Vec<AccountView>> {
        let email = Email::parse(email)?;
        match self.kc.store().find_login(&email).await? {
            Some((user, hash)) => Ok(vec![self.view(user, hash.is_some()).await?]),
            None => Ok(Vec::new()),
        }
    }

    pub async fn get(&self, id: UserId) -> Result<AccountView> {
        let user = self
            .kc
            .store()
            .find_user(id)
            .await?
            .ok_or(Error::NotFound)?;
        let has_password = self.kc.store().find_password_hash(id).await?.is_some();
        self.view(user, has_password).await
    }

    async fn view(&self, user: User, has_password: bool) -> Result<AccountView> {
        let store = self.kc.store();
        let identities = store.list_identities(user.id).await?;
        let sessions = store.list_active_sessions(user.id, self.kc.now()).await?;
        Ok(AccountView {
            user,
            has_password,
            identities,
            sessions: SessionCounts::of(&sessions),
        })
    }

    fn event(&self, kind: AuditKind, user: UserId, admin: &str, by: &ClientInfo) -> AuditEvent {
        let mut ev = self.kc.audit_event(kind, Some(user), None, by);
        ev.detail = serde_json::json!({ "by_client": admin });
        ev
    }

    /// Disables the account: it can no longer sign in or get tokens, and every session and app
    /// grant it has ends at once (apps that take back-channel logout are told). Disabling a
    /// disabled account changes nothing but is audited again.
    pub async fn disable(
        &self,
        id: UserId,
        reason: Option<&str>,
        admin: &str,
        by: &ClientInfo,
    ) -> Result<AccountView> {
        let reason = reason.map(parse_reason).transpose()?.flatten();
        let mut ev = self.event(AuditKind::AccountDisabled, id, admin, by);
        if let Some(r) = &reason {
            ev.detail["reason"] = serde_json::Value::from(r.as_str());
        }
        let now = self.kc.now();
        self.kc
            .ending_sessions(id, move |store| async move {
                store.disable_user(id, now, &ev).await
            })
            .await?
            .ok_or(Error::NotFound)?;
        metrics::counter!("keycard_accounts_disabled_total").increment(1);
        self.get(id).await
    }

    pub async fn enable(&self, id: UserId, admin: &str, by: &ClientInfo) -> Result<AccountView> {
        let ev = self.event(AuditKind::AccountEnabled, id, admin, by);
        let now = self.kc.now();
        self.kc
            .changing_user(id, move |store| async move {
                store.enable_user(id, now, &ev).await
            })
            .await?
            .ok_or(Error::NotFound)?;
        self.get(id).await
    }

    /// Forces a password reset: the current password stops working at once, every session and
    /// app grant ends, and a reset link is mailed to the account's address. For an account
    /// whose password may be known to someone else (a breach, a shared laptop). Returns how
    /// many sessions ended.
    pub async fn force_password_reset(
        &self,
        id: UserId,
        admin: &str,
        by: &ClientInfo,
    ) -> Result<u64> {
        let kc = self.kc;
        let user = kc.store().find_user(id).await?.ok_or(Error::NotFound)?;
        if user.disabled_at.is_some() {
            return Err(Error::AccountDisabled);
        }
        if user.email.is_none() {
            return Err(Error::invalid(
                "email",
                "no_email",
                "the account has no address to mail a reset link to",
            ));
        }
        let ev = self.event(AuditKind::PasswordRevoked, id, admin, by);
        let now = kc.now();
        let ended = kc
            .ending_sessions(id, move |store| async move {
                store.revoke_password(id, now, &ev).await
            })
            .await?
            .ok_or(Error::NotFound)?;
        // In the person's language, not the operator's: Keycard does not know it, so English.
        let mut to_person = by.clone();
        to_person.locale = None;
        // The password is gone and the sessions ended whatever happens to the mail: that is
        // logged rather than answered as a failure of what did happen.
        if let Err(e) = kc
            .password_reset()
            .mail_link(
                &user,
                &to_person,
                crate::lifecycle::AskedBy::Operator { admin },
            )
            .await
        {
            tracing::error!(error = %e, user.id = %id, "a forced reset could not queue its link");
        }
        Ok(ended)
    }

    /// Audit events, newest first, by person and/or kind; see [`EventFilter`].
    pub async fn events(&self, mut filter: EventFilter) -> Result<Vec<AuditEvent>> {
        filter.limit = filter.limit.clamp(1, MAX_EVENTS_PAGE);
        Ok(self.kc.store().list_events(&filter).await?)
    }
}

/// An operator's note: no control characters but line breaks, bounded; blank means none.
fn parse_reason(raw: &str) -> Result<Option<String>> {
    if raw.chars().count() > MAX_REASON_CHARS {
        return Err(Error::invalid(
            "reason",
            "invalid_reason",
            "reason is longer than 500 characters",
        ));
    }
    if raw.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(
            "reason",
            "invalid_reason",
            "reason must not contain control characters",
        ));
    }
    let r = raw.trim();
    Ok((!r.is_empty()).then(|| r.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded_and_plain() {
        assert_eq!(
            parse_reason("  fraud report 42 \n").unwrap().as_deref(),
            Some("fraud report 42")
        );
        assert_eq!(parse_reason("   ").unwrap(), None);
        assert!(parse_reason("a\u{7}b").is_err());
        assert!(parse_reason(&"x".repeat(501)).is_err());
        assert!(parse_reason(&"x".repeat(500)).is_ok());
    }
}
