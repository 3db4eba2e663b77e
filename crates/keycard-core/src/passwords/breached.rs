//! Screening new passwords against a breach corpus through a Pwned-Passwords-compatible range
//! API, by k-anonymity: only the first five hex digits of the password's SHA-1 leave Keycard,
//! and the answer lists every suffix under that prefix (padded with zero-count decoys, so even
//! its size says little). Optional (`KEYCARD_PWNED_URL`); an answer that does not come, or comes
//! too late, never blocks the person: it is logged and counted, and the shipped list of common
//! passwords still applies.

use async_trait::async_trait;
use aws_lc_rs::digest;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Fetches one range: the body of `GET {api}/range/{prefix}`, lines of `SUFFIX:COUNT`.
#[async_trait]
pub trait RangeSource: Send + Sync {
    async fn range(&self, prefix: &str) -> Result<String, String>;
}

/// The screen in front of a new password.
#[derive(Clone)]
pub struct BreachScreen {
    source: Arc<dyn RangeSource>,
    /// The longest a sign-up waits for the answer.
    timeout: Duration,
}

impl std::fmt::Debug for BreachScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreachScreen")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl BreachScreen {
    pub fn new(source: Arc<dyn RangeSource>, timeout: Duration) -> Self {
        Self { source, timeout }
    }

    /// `Some(true)` when the corpus lists the password, `Some(false)` when it does not, `None`
    /// when it could not be asked in time (the caller lets the password through).
    pub async fn is_breached(&self, password: &[u8]) -> Option<bool> {
        let (prefix, suffix) = split(password);
        let answer = tokio::time::timeout(self.timeout, self.source.range(&prefix)).await;
        let outcome = match answer {
            Ok(Ok(body)) => Some(listed(&body, &suffix)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the breached-password check failed; the password is let through");
                None
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.timeout.as_millis() as u64,
                    "the breached-password check timed out; the password is let through"
                );
                None
            }
        };
        let label = match outcome {
            Some(true) => "breached",
            Some(false) => "clean",
            None => "unknown",
        };
        metrics::counter!("keycard_breach_checks_total", "outcome" => label).increment(1);
        outcome
    }
}

/// The SHA-1 of the password in uppercase hex, split after five digits.
fn split(password: &[u8]) -> (String, String) {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, password);
    let mut hex = String::with_capacity(40);
    for b in d.as_ref() {
        let _ = write!(hex, "{b:02X}");
    }
    let suffix = hex.split_off(5);
    (hex, suffix)
}

/// Whether `suffix` is in the range with a count above zero (padding lines count zero).
fn listed(body: &str, suffix: &str) -> bool {
    body.lines().any(|line| {
        line.trim().split_once(':').is_some_and(|(s, count)| {
            s.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|n| n > 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_and_suffix_are_the_sha1_in_uppercase_hex() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        let (p, s) = split(b"password");
        assert_eq!(p, "5BAA6");
        assert_eq!(s, "1E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }

    #[test]
    fn a_listed_suffix_counts_and_padding_does_not() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:9659365\r\nFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:0\r\n";
        assert!(listed(body, "1E4C9B93F3F0682250B6CF8331B7EE68FD8"));
        assert!(listed(body, "1e4c9b93f3f0682250b6cf8331b7ee68fd8"));
        assert!(!listed(body, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"));
        assert!(!listed(body, "0000000000000000000000000000000000A"));
        assert!(!listed("garbage", "1E4C9B93F3F0682250B6CF8331B7EE68FD8"));
    }

    struct Never;

    #[async_trait]
    impl RangeSource for Never {
        async fn range(&self, _: &str) -> Result<String, String> {
            std::future::pending().await
        }
    }

    struct Broken;

    #[async_trait]
    impl RangeSource for Broken {
        async fn range(&self, _: &str) -> Result<String, String> {
            Err("connection refused".into())
        }
    }

    #[tokio::test]
    async fn no_answer_in_time_or_a_failure_lets_the_password_through() {
        let slow = BreachScreen::new(Arc::new(Never), Duration::from_millis(20));
        assert_eq!(slow.is_breached(b"password").await, None);
        let broken = BreachScreen::new(Arc::new(Broken), Duration::from_secs(1));
        assert_eq!(broken.is_breached(b"password").await, None);
    }
}
