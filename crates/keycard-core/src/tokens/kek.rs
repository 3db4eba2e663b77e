//! The key-encryption key: private signing keys are stored encrypted with it (AES-256-GCM), so a
//! database dump alone cannot mint tokens.

use crate::error::{Error, Result};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fmt;

/// 256 bits from `KEYCARD_SECRET_KEY` (base64 or base64url of 32 bytes).
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| Error::Internal("system random generator failed".into()))?;
        Ok(Self(k))
    }

    /// Parses the configured form; the message says what is wrong without echoing the value.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(s))
            .map_err(|_| "must be base64 (e.g. `openssl rand -base64 32`)".to_owned())?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("must decode to exactly 32 bytes, got {}", b.len()))?;
        Ok(Self(arr))
    }

    /// A sealing key for one purpose of its own, derived from this one (see [`Self::derive`]).
    pub fn derived(&self, label: &str) -> Self {
        Self(self.derive(label))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A key for one purpose other than sealing (HMAC-SHA256 of the label under this key), so
    /// no two uses share key material.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(aws_lc_rs::hmac::sign(&k, label.as_bytes()).as_ref());
        out
    }

    fn key(&self) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| Error::Internal("bad key-encryption key".into()))
    }

    /// `nonce || ciphertext || tag`, bound to `context` (the key id) so rows cannot be swapped.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal("system random generator failed".into()))?;
        let mut buf = plaintext.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Internal("sealing a signing key failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let wrong = || {
            Error::Internal(
                "cannot decrypt a stored signing key: KEYCARD_SECRET_KEY differs from the one the keys were made with"
                    .into(),
            )
        };
        let (nonce, ct) = sealed.split_at_checked(NONCE_LEN).ok_or_else(wrong)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buf = ct.to_vec();
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = SecretKey::generate().unwrap();
        let sealed = k.seal("kid-1", b"private").unwrap();
        assert_eq!(k.open("kid-1", &sealed).unwrap(), b"private");
        assert!(k.open("kid-2", &sealed).is_err(), "context must be bound");
        assert!(
            SecretKey::generate()
                .unwrap()
                .open("kid-1", &sealed)
                .is_err()
        );
    }

    #[test]
    fn parses_both_alphabets_and_rejects_wrong_length() {
        let k = SecretKey::generate().unwrap();
        assert!(SecretKey::parse(&k.to_base64()).is_ok());
        assert!(SecretKey::parse(&URL_SAFE_NO_PAD.encode([7u8; 32])).is_ok());
        assert!(
            SecretKey::parse("c2hvcnQ=")
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(SecretKey::parse("not base64!").is_err());
        assert_eq!(format!("{k:?}"), "SecretKey(<redacted>)");
    }
}
