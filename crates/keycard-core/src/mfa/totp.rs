//! The authenticator app's codes: six digits from HMAC-SHA1 over 30-second steps (the only
//! parameters every app reads), one step of drift allowed either way.

use crate::error::{Error, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use totp_rs::{Builder, Secret, Totp};

/// 160 bits, the size RFC 4226 §4 recommends.
const SECRET_LEN: usize = 20;

pub(crate) fn new_secret() -> Result<Vec<u8>> {
    let mut b = vec![0u8; SECRET_LEN];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Internal("system random generator failed".into()))?;
    Ok(b)
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_skew(1)
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| Error::Internal(format!("totp: {e}")))
}

/// The secret as apps take it typed in (base32, no padding).
pub(crate) fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec())
        .to_base32()
        .trim_end_matches('=')
        .to_owned()
}

/// The `otpauth://totp/…` URI a QR code carries. `:` cannot appear in either label.
pub(crate) fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> Result<String> {
    let clean = |s: &str| s.replace(':', " ");
    totp(secret, &clean(issuer), &clean(account))?
        .to_url()
        .map_err(|e| Error::Internal(format!("otpauth uri: {e}")))
}

/// Six digits, spaces allowed between them (`123 456`), or `None`.
pub(crate) fn as_code(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The step `code` belongs to at `now` (this step or one either side), if any.
pub(crate) fn matched_step(secret: &[u8], code: &str, now: OffsetDateTime) -> Option<u64> {
    let t = totp(secret, "k", "k").ok()?;
    let secs = u64::try_from(now.unix_timestamp()).ok()?;
    t.check(code, secs)
}

#[cfg(test)]
pub(crate) fn code_at(secret: &[u8], now: OffsetDateTime) -> String {
    let secs = u64::try_from(now.unix_timestamp()).unwrap();
    totp(secret, "k", "k").unwrap().generate(secs).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn rfc_6238_vector() {
        // RFC 6238 Appendix B, SHA-1, T = 59 s: 94287082 (8 digits); the last six digits.
        let secret = b"12345678901234567890";
        let t = datetime!(1970-01-01 00:00:59 UTC);
        assert_eq!(code_at(secret, t), "287082");
        assert_eq!(matched_step(secret, "287082", t), Some(1));
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = new_secret().unwrap();
        let now = datetime!(2026-12-01 10:00:15 UTC);
        let step = u64::try_from(now.unix_timestamp()).unwrap() / 30;
        assert_eq!(
            matched_step(&secret, &code_at(&secret, now), now),
            Some(step)
        );
        let before = code_at(&secret, now - Duration::seconds(30));
        assert_eq!(matched_step(&secret, &before, now), Some(step - 1));
        let after = code_at(&secret, now + Duration::seconds(30));
        assert_eq!(matched_step(&secret, &after, now), Some(step + 1));
        let stale = code_at(&secret, now - Duration::seconds(60));
        assert_eq!(matched_step(&secret, &stale, now), None);
        let early = code_at(&secret, now + Duration::seconds(60));
        assert_eq!(matched_step(&secret, &early, now), None);
    }

    #[test]
    fn codes_are_six_digits_spaces_allowed() {
        assert_eq!(as_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(as_code("12345"), None);
        assert_eq!(as_code("1234567"), None);
        assert_eq!(as_code("12345a"), None);
    }

    #[test]
    fn uri_names_issuer_and_account() {
        let uri = otpauth_uri(b"12345678901234567890", "Keycard", "a:b@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Keycard:a%20b%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Keycard"), "{uri}");
    }
}
