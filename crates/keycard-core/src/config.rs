//! The rules the service enforces, with production defaults. The binary fills this from its
//! configuration; tests build it directly.

use crate::passwords::{HashParams, PasswordPolicy};
use crate::throttle::ThrottlePolicy;
use time::Duration;

#[derive(Debug, Clone)]
pub struct Policy {
    /// `iss` of every token Keycard signs: its public base URL.
    pub issuer: String,
    /// `aud` of access tokens for Keycard's own API.
    pub audience: String,
    pub access_token_ttl: Duration,
    /// A session ends when unused (no refresh) for this long.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, whatever its activity.
    pub session_absolute_lifetime: Duration,
    /// How long a rotated-out signing key stays published; must exceed the access-token lifetime.
    pub key_retirement_grace: Duration,
    pub password: PasswordPolicy,
    pub hash: HashParams,
    /// How long an authenticated request may rely on a remembered session instead of reading it
    /// (changes are announced, so this only bounds what an unannounced change could cost; see
    /// `sessions::SessionCache`). Zero reads the database on every request.
    pub session_cache_ttl: std::time::Duration,
    /// How long after a rotation presenting the just-spent refresh token again is a retry that
    /// gets the same successor, instead of reuse that revokes the session. Zero: never.
    pub refresh_reuse_grace: Duration,
    /// Limits on sign-in and sign-up attempts.
    pub throttle: ThrottlePolicy,
    /// A browser session (hosted pages, social sign-in) ends when unused for this long…
    pub browser_idle_timeout: Duration,
    /// …and this long after sign-in whatever its activity.
    pub browser_absolute_lifetime: Duration,
    /// How long a sign-in may stay away at a provider before its state expires.
    pub social_flow_ttl: Duration,
    /// How long an authorization code waits for its redemption.
    pub authorization_code_ttl: Duration,
    /// How long a device may wait for the person to answer (RFC 8628 `expires_in`).
    pub device_code_ttl: Duration,
    /// How long an email verification link holds.
    pub email_verification_ttl: Duration,
    /// The least time between two verification links mailed to one account on request.
    pub email_verification_resend_pause: Duration,
    /// How long a password-reset link holds.
    pub password_reset_ttl: Duration,
    /// Whether sign-up says that an address is taken.
    pub signup_disclosure: SignupDisclosure,
    /// How recent a sign-in must be for a sensitive change (the address) without the password.
    pub recent_sign_in: Duration,
    /// Passkeys' relying party: its id (a domain: the public URL's host, or the platform's apex
    /// so passkeys work across its subdomains) and the origins allowed to run ceremonies besides
    /// the public URL. See [`crate::passkeys`].
    pub passkey_rp_id: Option<String>,
    pub passkey_origins: Vec<String>,
    /// The name people see for the service (in authenticator apps and passkey prompts).
    pub service_name: String,
}

/// What sign-up tells about an address that already has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignupDisclosure {
    /// 409 `email_taken`, and a new account is signed in at once (conversion first).
    #[default]
    Open,
    /// The same answer for a new and a taken address: a new account is created unverified and
    /// signs in once its address is proved; the owner of a taken one is mailed instead.
    Hidden,
}

impl Policy {
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into().trim_end_matches('/').to_owned();
        Self {
            audience: issuer.clone(),
            issuer,
            access_token_ttl: Duration::minutes(15),
            session_idle_timeout: Duration::days(30),
            session_absolute_lifetime: Duration::days(90),
            key_retirement_grace: Duration::minutes(15) + Duration::minutes(5),
            password: PasswordPolicy::default(),
            hash: HashParams::default(),
            session_cache_ttl: std::time::Duration::from_secs(10),
            refresh_reuse_grace: Duration::seconds(5),
            throttle: ThrottlePolicy::default(),
            browser_idle_timeout: Duration::days(3),
            browser_absolute_lifetime: Duration::days(30),
            social_flow_ttl: crate::social::FLOW_TTL,
            authorization_code_ttl: crate::oidc::CODE_TTL,
            device_code_ttl: crate::devices::DEVICE_CODE_TTL,
            email_verification_ttl: Duration::hours(24),
            email_verification_resend_pause: Duration::seconds(60),
            password_reset_ttl: Duration::minutes(30),
            signup_disclosure: SignupDisclosure::Open,
            recent_sign_in: Duration::minutes(10),
            passkey_rp_id: None,
            passkey_origins: Vec::new(),
            service_name: "Keycard".into(),
        }
    }
}
