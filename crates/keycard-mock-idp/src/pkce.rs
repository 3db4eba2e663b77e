//! RFC 7636, S256 only: `plain` would let an intercepted authorization request redeem the code.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// Whether `method` and `challenge` are an S256 challenge: 32 bytes, base64url.
pub(crate) fn acceptable(challenge: &str, method: &str) -> bool {
    method == "S256" && challenge.len() == 43 && B64.decode(challenge).is_ok()
}

pub(crate) fn matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes())) == challenge
}
