//! How client secrets are kept: an HMAC-SHA256 under a key derived from the server's secret, so
//! a leaked table is useless without that key, even for a secret a deployment chose itself.

use crate::tokens::{SecretKey, TokenHash};
use aws_lc_rs::hmac;

#[derive(Clone)]
pub struct ClientSecrets(hmac::Key);

impl std::fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecrets(<redacted>)")
    }
}

impl ClientSecrets {
    pub fn new(kek: &SecretKey) -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            &kek.derive("keycard client secrets v1"),
        ))
    }

    pub fn hash(&self, secret: &str) -> TokenHash {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.0, secret.as_bytes()).as_ref());
        TokenHash(out)
    }
}
