//! The audit trail: one row per security-relevant event, written by every flow, in the same
//! transaction as the change it records where there is one.

use crate::ids::{AuditId, SessionId, UserId};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Registered,
    LoginSucceeded,
    LoginFailed,
    TokenRefreshed,
    RefreshTokenReuseDetected,
    Logout,
    LogoutAll,
    PasswordChanged,
    PasswordRehashed,
    ProfileUpdated,
    SessionRevoked,
    /// A sign-in or sign-up refused by a limit (the first refusal of an episode).
    Throttled,
    /// A failed sign-in made the account wait before its next attempt.
    AccountLocked,
    /// A provider identity joined an account (by the person, or automatically by verified email).
    IdentityLinked,
    IdentityUnlinked,
    /// A sign-in through a provider was refused (state, nonce, issuer, signature…): the detail
    /// says which rule.
    SocialLoginFailed,
    /// An operator registered a client application (the detail names it).
    ClientRegistered,
    /// A client's registration was changed (by the seed file).
    ClientUpdated,
    ClientRemoved,
    ClientSecretRotated,
    /// A person allowed an application the scopes in the detail.
    ConsentGranted,
    /// A person withdrew an application's access (its consent and grants).
    ConsentWithdrawn,
    /// An application got tokens for a person (an authorization code redeemed).
    AppAuthorized,
    /// A person allowed a device's sign-in request (RFC 8628) from their browser.
    DeviceApproved,
    DeviceDenied,
    /// A spent authorization code was presented again: what it issued is revoked.
    CodeReuseDetected,
    /// An operator disabled the account (the detail names the admin app and the reason).
    AccountDisabled,
    AccountEnabled,
    /// The account's address was proved by its verification link.
    EmailVerified,
    /// A password-reset link was mailed (by the person's request, or an operator's).
    PasswordResetRequested,
    /// The password was set through a reset link: every session ended.
    PasswordReset,
    /// An operator forced a reset: the password signs in no more and every session ended.
    PasswordRevoked,
    /// A new address was asked for; its confirmation link was mailed to it.
    EmailChangeRequested,
    /// The new address was confirmed and is now the account's (the old one was told).
    EmailChanged,
    /// The old address took the account back: every session ended.
    EmailChangeUndone,
    /// A password held and the account asked for its second factor (a challenge was issued).
    MfaChallenged,
    /// A second step failed (the detail says how).
    MfaFailed,
    /// An authenticator app (TOTP) was confirmed on the account, with new recovery codes.
    MfaEnabled,
    /// The authenticator app was removed.
    MfaDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// A recovery code was spent on a second step (the detail counts what is left).
    RecoveryCodeUsed,
    PasskeyAdded,
    PasskeyRemoved,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::TokenRefreshed => "token_refreshed",
            Self::RefreshTokenReuseDetected => "refresh_token_reuse_detected",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::PasswordRehashed => "password_rehashed",
            Self::ProfileUpdated => "profile_updated",
            Self::SessionRevoked => "session_revoked",
            Self::Throttled => "throttled",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::ClientRegistered => "client_registered",
            Self::ClientUpdated => "client_updated",
            Self::ClientRemoved => "client_removed",
            Self::ClientSecretRotated => "client_secret_rotated",
            Self::ConsentGranted => "consent_granted",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::AppAuthorized => "app_authorized",
            Self::CodeReuseDetected => "code_reuse_detected",
            Self::DeviceApproved => "device_approved",
            Self::DeviceDenied => "device_denied",
            Self::SocialLoginFailed => "social_login_failed",
            Self::AccountLocked => "account_locked",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::EmailVerified => "email_verified",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::PasswordRevoked => "password_revoked",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::EmailChangeUndone => "email_change_undone",
            Self::MfaChallenged => "mfa_challenged",
            Self::MfaFailed => "mfa_failed",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Registered,
            Self::LoginSucceeded,
            Self::LoginFailed,
            Self::TokenRefreshed,
            Self::RefreshTokenReuseDetected,
            Self::Logout,
            Self::LogoutAll,
            Self::PasswordChanged,
            Self::PasswordRehashed,
            Self::ProfileUpdated,
            Self::SessionRevoked,
            Self::Throttled,
            Self::AccountLocked,
            Self::IdentityLinked,
            Self::IdentityUnlinked,
            Self::ClientRegistered,
            Self::ClientUpdated,
            Self::ClientRemoved,
            Self::ClientSecretRotated,
            Self::ConsentGranted,
            Self::ConsentWithdrawn,
            Self::AppAuthorized,
            Self::CodeReuseDetected,
            Self::DeviceApproved,
            Self::DeviceDenied,
            Self::SocialLoginFailed,
            Self::AccountDisabled,
            Self::AccountEnabled,
            Self::EmailVerified,
            Self::PasswordResetRequested,
            Self::PasswordReset,
            Self::PasswordRevoked,
            Self::EmailChangeRequested,
            Self::EmailChanged,
            Self::EmailChangeUndone,
            Self::MfaChallenged,
            Self::MfaFailed,
            Self::MfaEnabled,
            Self::MfaDisabled,
            Self::RecoveryCodesRegenerated,
            Self::RecoveryCodeUsed,
            Self::PasskeyAdded,
            Self::PasskeyRemoved,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One audit row. `detail` is a small JSON object for context (never a secret or a password).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditId,
    pub at: OffsetDateTime,
    pub kind: AuditKind,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// The event as a structured log line (target `keycard::audit`), in the span of the request
    /// that caused it, so it carries that request's id. Written by the stores as the event is
    /// recorded, inside its transaction: should that transaction fail afterwards, its error is
    /// logged too. The detail holds nothing secret by construction.
    pub fn log(&self) {
        tracing::info!(
            target: "keycard::audit",
            event_id = %self.id,
            kind = self.kind.as_str(),
            user_id = self.user_id.map(|u| u.to_string()).as_deref().unwrap_or("-"),
            session_id = self.session_id.map(|s| s.to_string()).as_deref().unwrap_or("-"),
            client_ip = self.ip.as_deref().unwrap_or("-"),
            detail = %self.detail,
            "security event"
        );
    }
}
