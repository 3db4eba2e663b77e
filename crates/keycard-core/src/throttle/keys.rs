//! The keys counters are stored under. The subject (an email as typed, a network) goes through
//! HMAC-SHA256 under a key derived from `KEYCARD_SECRET_KEY`, so the tables hold no address and
//! no text someone typed into the email field by mistake (a password, often) — not even in a
//! form that could be reversed by trying every IPv4 address — and every key has the same small
//! size whatever was sent.

use aws_lc_rs::hmac;
use std::fmt::Write as _;
use std::net::IpAddr;

pub(crate) struct Keys(hmac::Key);

impl Keys {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, &secret))
    }

    pub(crate) fn key(&self, scope: &str, subject: &str) -> String {
        let tag = hmac::sign(&self.0, subject.as_bytes());
        let mut out = String::with_capacity(scope.len() + 33);
        out.push_str(scope);
        out.push(':');
        for b in &tag.as_ref()[..16] {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

/// How many times a network's own limit a wider IPv6 block gets (see [`networks`]).
pub(crate) const WIDE_FACTOR: u32 = 16;

/// The networks a client counts as: its IPv4 address; or its IPv6 /64 (one subscriber usually
/// holds a whole /64 and can pick any address in it) and, with [`WIDE_FACTOR`] times the limit,
/// its /48 (what tunnel brokers and many ISPs hand out: 65,536 /64s that would otherwise each
/// get a budget of their own).
pub(crate) fn networks(ip: Option<&str>) -> (String, Option<String>) {
    match ip.and_then(|s| s.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => (v4.to_string(), None),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => (v4.to_string(), None),
            None => {
                let s = v6.segments();
                (
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]),
                    Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])),
                )
            }
        },
        None => ("unknown".to_owned(), None),
    }
}

/// The account a sign-in targets, whether or not it exists: the email as the domain normalises
/// it, or the trimmed, lower-cased text when it is not an address at all.
pub(crate) fn account(email: &str) -> String {
    crate::accounts::Email::parse(email)
        .map(|e| e.as_str().to_owned())
        .unwrap_or_else(|_| email.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_per_48_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            networks(Some("2001:db8:1:2:aaaa::1")),
            (
                "2001:db8:1:2::/64".to_owned(),
                Some("2001:db8:1::/48".to_owned())
            )
        );
        assert_eq!(
            networks(Some("2001:db8:1:2:ffff::9")).0,
            networks(Some("2001:db8:1:2::7")).0
        );
        assert_eq!(
            networks(Some("2001:db8:1:2::1")).1,
            networks(Some("2001:db8:1:ffff::1")).1
        );
        assert_eq!(
            networks(Some("::ffff:192.0.2.7")),
            ("192.0.2.7".to_owned(), None)
        );
        assert_eq!(networks(Some("192.0.2.7")), ("192.0.2.7".to_owned(), None));
        assert_eq!(networks(None).0, "unknown");
        assert_eq!(networks(Some("junk")).0, "unknown");
    }

    #[test]
    fn keys_are_keyed_hashes_and_scoped() {
        let keys = Keys::new([7; 32]);
        let k = keys.key("login-account", "someone@example.com");
        assert!(k.starts_with("login-account:"));
        assert_eq!(k.len(), "login-account:".len() + 32);
        assert!(!k.contains("example"));
        assert_ne!(k, keys.key("register-email", "someone@example.com"));
        assert_ne!(
            k,
            Keys::new([8; 32]).key("login-account", "someone@example.com")
        );
        assert_eq!(account("  Someone@Example.com "), "someone@example.com");
        assert_eq!(account(" NOT AN EMAIL "), "not an email");
    }
}
