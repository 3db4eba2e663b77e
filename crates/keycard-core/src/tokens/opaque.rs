//! Opaque one-purpose secrets other than refresh tokens: browser-session cookies, social-flow
//! state, nonces, PKCE verifiers. 256 random bits, base64url; stored, where at all, as SHA-256.

use super::TokenHash;
use crate::error::{Error, Result};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `prefix` + 43 base64url characters of fresh randomness.
pub fn random_secret(prefix: &str) -> Result<String> {
    let mut b = [0u8; 32];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Internal("system random generator failed".into()))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b)))
}

impl TokenHash {
    /// SHA-256 of a high-entropy secret (a plain hash suffices: nothing to guess).
    pub fn of(secret: &str) -> Self {
        let d = digest(&SHA256, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
}

/// The RFC 7636 S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(TokenHash::of(verifier).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_challenges_follow_rfc7636() {
        let a = random_secret("x_").unwrap();
        assert_eq!(a.len(), 2 + 43);
        assert_ne!(a, random_secret("x_").unwrap());
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
