//! The keys counters are stored under. The subject (an email as typed, a network) is hashed, so
//! the tables hold no address and no text someone typed into the email field by mistake (a
//! password, often), and every key has the same small size whatever was sent.

use aws_lc_rs::digest;
use std::fmt::Write as _;
use std::net::IpAddr;

pub(crate) fn key(scope: &str, subject: &str) -> String {
    let d = digest::digest(&digest::SHA256, subject.as_bytes());
    let mut out = String::with_capacity(scope.len() + 33);
    out.push_str(scope);
    out.push(':');
    for b in &d.as_ref()[..16] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The network a client counts as: its IPv4 address, or its IPv6 /64 (one subscriber usually
/// holds a whole /64 and can pick any address in it).
pub(crate) fn network(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
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
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(network(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            network(Some("2001:db8:1:2:ffff::9")),
            network(Some("2001:db8:1:2::7"))
        );
        assert_eq!(network(Some("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(network(Some("192.0.2.7")), "192.0.2.7");
        assert_eq!(network(None), "unknown");
        assert_eq!(network(Some("junk")), "unknown");
    }

    #[test]
    fn keys_are_hashed_and_scoped() {
        let k = key("login-account", "someone@example.com");
        assert!(k.starts_with("login-account:"));
        assert_eq!(k.len(), "login-account:".len() + 32);
        assert!(!k.contains("example"));
        assert_ne!(k, key("register-email", "someone@example.com"));
        assert_eq!(account("  Someone@Example.com "), "someone@example.com");
        assert_eq!(account(" NOT AN EMAIL "), "not an email");
    }
}
