//! The one domain error type. Each variant carries a stable machine-readable code; the HTTP layer
//! maps variants to statuses in exactly one place.

use crate::social::SocialFailure;
use crate::store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request could not be authenticated. Kept coarse on purpose: clients see only the code,
/// never which check failed on a token (that detail goes to the logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential was presented.
    Missing,
    /// The token is malformed, forged, expired or for another audience.
    InvalidToken,
    /// The token is well-formed but its session has ended.
    SessionEnded,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input failed a rule; `field` names the offending member, `code` is stable.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        code: &'static str,
        message: String,
    },
    /// Deliberately says nothing about which of email or password was wrong.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("authentication required")]
    Unauthenticated(AuthFailure),
    /// An already-spent refresh token was presented: the session has been revoked.
    #[error("refresh token reuse detected; the session has been revoked")]
    RefreshTokenReused,
    /// The refresh token is unknown, expired, or its session ended.
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    #[error("not found")]
    NotFound,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A client application with this id is already registered.
    #[error("a client with this id is already registered")]
    ClientExists,
    /// The account is disabled by an operator: right credentials, but no session. Only said to
    /// someone who proved to be the account's owner (a right password, a provider's sign-in).
    #[error("this account is disabled")]
    AccountDisabled,
    /// A verification link that is spent, expired, unknown, or for an address the account no
    /// longer has: one answer for all.
    #[error("this verification link is not valid (used, expired, or for another address)")]
    InvalidVerification,
    /// A password-reset link that is spent, expired, unknown, or for an address the account no
    /// longer has: one answer for all.
    #[error("this password reset link is not valid (used, expired, or replaced)")]
    InvalidResetToken,
    /// An email-change link (to confirm or to undo) that is spent, expired, unknown, or
    /// overtaken by another change: one answer for all.
    #[error("this email change link is not valid (used, expired, or overtaken)")]
    InvalidEmailChange,
    /// The operation needs a recent sign-in (or the current password) and this session's is
    /// older.
    #[error("confirm with your current password, or sign in again")]
    ReauthenticationRequired,
    /// The second step's code is wrong, spent, or out of its time window.
    #[error("the code is not correct")]
    InvalidMfaCode,
    /// The second step's challenge is unknown, spent, expired, or failed too often: sign in
    /// with the password again.
    #[error("this sign-in expired; sign in again")]
    InvalidMfaChallenge,
    /// A factor of this kind is already set up.
    #[error("an authenticator app is already set up; remove it first")]
    MfaAlreadyEnabled,
    /// The operation needs a second factor the account does not have (or one not yet started).
    #[error("no authenticator app is set up")]
    MfaNotEnabled,
    /// Passkeys are off (the public URL has no domain name to be their relying party).
    #[error("passkeys are not available on this server")]
    PasskeysUnavailable,
    /// A new passkey was refused (its ceremony unknown, spent or expired, or its answer not
    /// valid).
    #[error("the passkey could not be added; try again")]
    PasskeyRejected,
    /// A passkey assertion proves nothing (unknown credential, wrong origin or relying party,
    /// bad signature, counter gone back, ceremony spent or expired).
    #[error("that passkey did not sign in")]
    InvalidPasskey,
    #[error("the email address is already verified")]
    AlreadyVerified,
    /// Too many attempts from this network or on this account: refused before any password
    /// was checked. The same for an account that exists and one that does not.
    #[error("{}", throttled_message(*.limit))]
    Throttled {
        limit: crate::throttle::Limit,
        retry_after_secs: u64,
    },
    /// A sign-in through a provider did not complete; see [`SocialFailure`].
    #[error("{0}")]
    Social(#[from] SocialFailure),
    /// A request to the OpenID Provider's protocol endpoints failed (RFC 6749 §5.2 and kin).
    #[error("{0}")]
    OAuth(#[from] crate::oidc::OAuthError),
    /// Password hashing is saturated; retry after the given number of seconds.
    #[error("the service is busy; retry shortly")]
    Overloaded { retry_after_secs: u64 },
    /// The database cannot be reached. The cause is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected state. The cause is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            code,
            message: message.into(),
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } => code,
            Self::InvalidCredentials => "invalid_credentials",
            Self::EmailTaken => "email_taken",
            Self::Unauthenticated(AuthFailure::Missing) => "unauthenticated",
            Self::Unauthenticated(AuthFailure::InvalidToken) => "invalid_token",
            Self::Unauthenticated(AuthFailure::SessionEnded) => "session_ended",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::NotFound => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::ClientExists => "client_exists",
            Self::AccountDisabled => "account_disabled",
            Self::InvalidVerification => "invalid_verification_token",
            Self::InvalidResetToken => "invalid_reset_token",
            Self::InvalidEmailChange => "invalid_email_change_token",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::AlreadyVerified => "already_verified",
            Self::InvalidMfaCode => "invalid_mfa_code",
            Self::PasskeysUnavailable => "passkeys_unavailable",
            Self::PasskeyRejected => "passkey_rejected",
            Self::InvalidPasskey => "invalid_passkey",
            Self::InvalidMfaChallenge => "invalid_mfa_challenge",
            Self::MfaAlreadyEnabled => "mfa_already_enabled",
            Self::MfaNotEnabled => "mfa_not_enabled",
            Self::Throttled { limit, .. } => limit.code(),
            Self::Social(f) => f.code(),
            Self::OAuth(e) => e.code.as_str(),
            Self::Overloaded { .. } => "overloaded",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

fn throttled_message(limit: crate::throttle::Limit) -> &'static str {
    use crate::throttle::Limit;
    match limit {
        Limit::LoginPerAccount => {
            "too many failed sign-ins for this account; wait before trying again"
        }
        Limit::LoginPerIp => "too many failed sign-ins from your network; wait before trying again",
        Limit::RegisterPerIp => "too many sign-ups from your network; wait before trying again",
        Limit::SocialPerIp => "too many sign-ins from your network; wait before trying again",
        Limit::DeviceStartPerIp => {
            "too many device sign-ins started from your network; wait before trying again"
        }
        Limit::DeviceCodePerIp => {
            "too many device codes tried from your network; wait before trying again"
        }
        Limit::RegisterPerEmail => {
            "too many sign-up attempts for this address; wait before trying again"
        }
        Limit::VerificationResend => {
            "a verification link was sent a moment ago; wait before asking for another"
        }
        Limit::ForgotPerIp => {
            "too many password resets asked for from your network; wait before trying again"
        }
        Limit::ForgotPerEmail => {
            "too many password resets asked for this address; wait before trying again"
        }
        Limit::LinkTokenPerIp => "too many links tried from your network; wait before trying again",
        Limit::MfaPerAccount => "too many wrong codes for this account; wait before trying again",
        Limit::MfaPerIp => "too many wrong codes from your network; wait before trying again",
        Limit::PasskeyPerIp => {
            "too many passkey sign-ins started from your network; wait before trying again"
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) | StoreError::Unreachable(m) => Self::Unavailable(m),
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::IdentityTaken => Self::Social(SocialFailure::IdentityInUse),
            StoreError::ClientTaken => Self::ClientExists,
            StoreError::AccountDisabled => Self::AccountDisabled,
            StoreError::Corrupt(m) | StoreError::Other(m) => Self::Internal(m),
        }
    }
}
