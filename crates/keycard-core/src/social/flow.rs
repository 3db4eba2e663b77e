//! A sign-in that left for a provider and has not come back yet.

use crate::ids::UserId;
use crate::tokens::TokenHash;
use time::{Duration, OffsetDateTime};

/// How long a person may take at the provider by default (RFC 9700 asks for short-lived state).
pub const FLOW_TTL: Duration = Duration::minutes(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFlow {
    /// SHA-256 of the `state` sent to the provider: a leaked table cannot forge a callback.
    pub state_hash: TokenHash,
    pub provider: String,
    /// The issuer this flow must come back from (mix-up defence, RFC 9207).
    pub issuer: String,
    /// SHA-256 of the flow cookie of the browser that started it.
    pub browser_hash: TokenHash,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Already checked against the allowed origins when the flow started.
    pub return_to: String,
    /// Set when a signed-in person links this provider to their account.
    pub link_user: Option<UserId>,
    /// A native app's PKCE challenge (S256): the callback then hands the app a one-time login
    /// code bound to it (RFC 8252), exchanged at `POST /v1/auth/social/exchange`.
    pub app_challenge: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// How long a native app's login code can be exchanged.
pub const LOGIN_CODE_TTL: Duration = Duration::seconds(60);

/// A one-time login code for a native app, stored hashed until it is exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode {
    pub code_hash: TokenHash,
    pub user_id: UserId,
    /// The app's PKCE challenge; the exchange must bring its verifier.
    pub challenge: String,
    pub provider: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}
