//! Sessions: one row per signed-in device or per-app grant, whatever kind, in one list the user
//! can see and end. Every token Keycard issues belongs to exactly one session.

mod browser;
mod cache;
mod device;

pub use browser::{BrowserSecret, BrowserStore, NewBrowserSession};
pub use cache::{SessionCache, Ticket};
pub use device::device_label;

use crate::ids::{SessionId, UserId};
use time::OffsetDateTime;

/// How the session was created. All kinds live in one table so "sign out everywhere" and the
/// device list cover them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Token pair issued by the JSON API.
    Api,
    /// Hosted-pages sign-in (browser SSO cookie).
    Browser,
    /// Tokens issued to another application through Keycard as OpenID Provider.
    Grant,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Browser => "browser",
            Self::Grant => "grant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api" => Some(Self::Api),
            "browser" => Some(Self::Browser),
            "grant" => Some(Self::Grant),
            _ => None,
        }
    }
}

/// Why a session ended; kept for the audit trail and support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    LogoutAll,
    PasswordChanged,
    RevokedByUser,
    RefreshTokenReuse,
    /// The authorization code that opened this grant was presented again.
    CodeReuse,
    /// The app revoked its own grant (RFC 7009).
    RevokedByClient,
    /// An operator disabled the account.
    AccountDisabled,
    /// The password was set through a reset link (or an operator forced a reset).
    PasswordReset,
    /// The old address undid a change of the account's address.
    EmailChangeUndone,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::RevokedByUser => "revoked_by_user",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::CodeReuse => "code_reuse",
            Self::RevokedByClient => "revoked_by_client",
            Self::AccountDisabled => "account_disabled",
            Self::PasswordReset => "password_reset",
            Self::EmailChangeUndone => "email_change_undone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub kind: SessionKind,
    /// The application a grant session belongs to; `None` for Keycard's own sessions.
    pub client_id: Option<String>,
    /// Human label such as "Firefox on Linux", derived once from the User-Agent.
    pub device: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    /// Ends when not refreshed before this instant; pushed forward by each refresh.
    pub idle_expires_at: OffsetDateTime,
    /// Ends at this instant whatever the activity.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// How the person proved who they are (RFC 8176 `amr`: `pwd`, or the social provider's id);
    /// empty for sessions from before this was recorded.
    pub amr: Vec<String>,
    /// When the person last actively signed in; for a grant, the sign-in it came from.
    pub auth_time: OffsetDateTime,
    /// What an app's grant allows; empty for Keycard's own sessions.
    pub scopes: Vec<String>,
    /// The browser session an app's grant was issued from, so ending that session ends it too.
    pub origin: Option<SessionId>,
}

impl Session {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.expires_at
    }

    /// How strong the sign-in behind this session was (the `acr` of its tokens).
    pub fn acr(&self) -> &'static str {
        acr_of(&self.amr)
    }
}

/// Authentication context classes (OpenID Connect `acr`), what an app may ask for with
/// `acr_values` and read back in its tokens: one factor (a password, or a provider)…
pub const ACR_ONE_FACTOR: &str = "urn:keycard:acr:1fa";
/// …or two (a second step after it, `amr` holding `mfa`).
pub const ACR_MULTI_FACTOR: &str = "urn:keycard:acr:mfa";

/// The class of a sign-in proved by `amr`.
pub fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        ACR_MULTI_FACTOR
    } else {
        ACR_ONE_FACTOR
    }
}
