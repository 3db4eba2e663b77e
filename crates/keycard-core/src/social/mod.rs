//! Sign-in through identity providers (OpenID Connect and OAuth 2.0): the flow from the button to
//! a browser session, the identities linked to an account, and the rules that decide whether a
//! provider's answer finds, links or creates an account. The providers themselves are adapters
//! behind [`IdentityProvider`] (the outbound HTTP lives outside the core).

mod flow;
mod identity;
mod login;
mod provider;
mod store;

pub use crate::sessions::NewBrowserSession;
pub use flow::{FLOW_TTL, LOGIN_CODE_TTL, LoginCode, PendingFlow};
pub use identity::Identity;
pub use login::{CallbackParams, SocialLogin, SocialSession, SocialSignedIn, Started};
pub use provider::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderInfo, ProviderProfile,
    Providers,
};
pub use store::{SocialStore, Unlinked};

/// Why a social sign-in ended without one. Each has a stable code; none is a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocialFailure {
    #[error("no such sign-in provider is enabled")]
    UnknownProvider,
    /// Missing, unknown, already used, expired, or started in another browser.
    #[error("this sign-in link has expired or was already used; start again")]
    InvalidState,
    #[error("the sign-in was cancelled at the provider")]
    Denied,
    /// Timeout, connection refused, a 5xx: worth another try later.
    #[error("the provider could not be reached; try again in a moment")]
    ProviderUnavailable,
    /// The provider answered something that does not hold up (bad signature, wrong issuer,
    /// nonce or audience, garbage).
    #[error("the provider's answer could not be verified")]
    ProviderRejected,
    /// An account with this email exists and cannot be linked automatically.
    #[error(
        "an account with this email already exists; sign in to it first, then link this provider"
    )]
    AccountExists,
    /// The provider identity already belongs to another account.
    #[error("this provider account is already linked to another Keycard account")]
    IdentityInUse,
    /// A native app's login code is unknown, used, expired, or its verifier does not match.
    #[error("the login code is invalid, used or expired, or the code verifier does not match")]
    InvalidLoginCode,
    /// Unlinking would leave the account without any way to sign in.
    #[error(
        "this is the account's only way to sign in; set a password or link another provider first"
    )]
    LastSignInMethod,
}

impl SocialFailure {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::InvalidState => "invalid_state",
            Self::Denied => "access_denied",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::ProviderRejected => "provider_rejected",
            Self::AccountExists => "account_exists",
            Self::IdentityInUse => "identity_in_use",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::InvalidLoginCode => "invalid_login_code",
        }
    }
}
