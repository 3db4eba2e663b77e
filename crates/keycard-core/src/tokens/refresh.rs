//! Opaque refresh tokens: 256 random bits, shown to the client once, stored only as SHA-256.

use super::SecretKey;
use crate::error::{Error, Result};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// Prefix that makes a leaked token recognisable to secret scanners.
const PREFIX: &str = "kcrt_";

/// The client-held secret. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// What the database holds: a plain SHA-256 suffices because the token has 256 bits of entropy.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl RefreshToken {
    pub fn generate() -> Result<Self> {
        let mut b = [0u8; 32];
        SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| Error::Internal("system random generator failed".into()))?;
        Ok(Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(b))))
    }

    /// Wraps what a client sent; any string is accepted and simply fails to match if bogus.
    pub fn from_client(s: &str) -> Self {
        Self(s.trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// Derives the token a rotation issues from the token presented: HMAC-SHA256 under a key of
/// the server's, so it is as unguessable as a random one to anyone without that key, and the
/// same every time. That is what lets a retried rotation (a lost response, two tabs at once)
/// hand back the very successor it issued, without storing any token in the clear (DESIGN.md §4).
#[derive(Clone)]
pub struct Successors(hmac::Key);

impl fmt::Debug for Successors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Successors(<redacted>)")
    }
}

impl Successors {
    pub fn new(kek: &SecretKey) -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            &kek.derive("keycard refresh-token successors v1"),
        ))
    }

    pub fn of(&self, presented: &RefreshToken) -> RefreshToken {
        let tag = hmac::sign(&self.0, presented.0.as_bytes());
        RefreshToken(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_prefixed_and_hashed() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("kcrt_"));
        assert_eq!(a.expose().len(), 5 + 43);
        assert_eq!(a.hash(), RefreshToken::from_client(a.expose()).hash());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(format!("{a:?}"), "RefreshToken(<redacted>)");
    }

    #[test]
    fn successors_are_stable_per_key_and_look_like_tokens() {
        let kek = SecretKey::generate().unwrap();
        let s = Successors::new(&kek);
        let a = RefreshToken::generate().unwrap();
        let next = s.of(&a);
        assert_eq!(next, s.of(&RefreshToken::from_client(a.expose())));
        assert_ne!(next, a);
        assert_ne!(s.of(&next), next);
        assert!(next.expose().starts_with("kcrt_"));
        assert_eq!(next.expose().len(), a.expose().len());
        let other = Successors::new(&SecretKey::generate().unwrap());
        assert_ne!(other.of(&a), next, "another server key, another successor");
    }
}
