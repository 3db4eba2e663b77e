//! Tokens: signed JWT access tokens, opaque rotating refresh tokens, and the key store that signs
//! every kind of JWT Keycard issues.

mod access;
mod kek;
mod keys;
mod opaque;
mod refresh;

pub use access::{AccessClaims, TokenKind};
pub use kek::SecretKey;
pub use keys::{KeyStore, SigningAlg, StoredKey};
pub use opaque::{pkce_challenge, random_secret};
pub use refresh::{RefreshToken, Successors, TokenHash};

/// The access token and refresh token handed to a client after sign-in or refresh.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: RefreshToken,
    pub refresh_expires_in: i64,
}
