//! Email addresses, parsed once at the edge.

use crate::error::Error;
use std::fmt;

/// A syntactically plausible email address, trimmed and lower-cased: one account per address
/// whatever case it is typed in. Deliverability is proven later by verification, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim().to_lowercase();
        let bad = |msg: &str| Error::invalid("email", "invalid_email", msg.to_owned());
        if s.is_empty() {
            return Err(bad("email is required"));
        }
        if s.len() > MAX_LEN {
            return Err(bad("email is longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("email must not contain spaces or control characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("email must contain an @"));
        };
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
            && !domain.contains(['@', '[', ']', '(', ')', ',', ';', ':', '<', '>', '"', '\\']);
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad("email is not a valid address"));
        }
        Ok(Self(s))
    }

    /// For values read back from storage, which were parsed on the way in.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases() {
        let e = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
        assert_eq!(e.local_part(), "ada.lovelace");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@.example.com",
            "a@example..com",
            "a@b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
