//! What makes a password acceptable: length (counted in Unicode code points after NFKC), a byte
//! cap against hash DoS, a blocklist of common passwords and of the account's own email, and no
//! composition rules (NIST 800-63B §3.1.1.2).

use crate::accounts::Email;
use crate::error::Error;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock};
use unicode_normalization::UnicodeNormalization;

/// The most common passwords, most frequent first; see COMMON-PASSWORDS-SOURCE.md.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

static COMMON: LazyLock<Arc<HashSet<&'static str>>> = LazyLock::new(|| {
    Arc::new(
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect(),
    )
});

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// Minimum length in code points. 8 by default (the NIST floor when combined with a second
    /// factor); DESIGN.md explains why deployments without MFA should raise it to 15.
    pub min_chars: usize,
    /// Hard cap in bytes of the normalized password: argon2 cost grows with input and an
    /// unbounded input is a cheap DoS. Always at least 64 characters' worth.
    pub max_bytes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_bytes: 1024,
        }
    }
}

/// A password that passed the policy, NFKC-normalized so that the same visible password typed on
/// different keyboards hashes the same. Never printed.
pub struct Password(String);

impl Password {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// NFKC-normalizes a password as typed. Used for verification too, so that login accepts exactly
/// what registration stored.
pub fn normalize(raw: &str) -> String {
    raw.nfkc().collect()
}

impl PasswordPolicy {
    /// Checks a new password for the account with `email` (if it has one). `field` names the
    /// input in errors.
    pub fn check(
        &self,
        raw: &str,
        email: Option<&Email>,
        field: &'static str,
    ) -> Result<Password, Error> {
        let pw = normalize(raw);
        // Both as typed and as normalised: NFKC can lengthen (`ﬁ` is `fi`) or shorten what was
        // sent, and the documented limits are on what was sent.
        let chars = pw.chars().count().min(raw.chars().count());
        if chars < self.min_chars {
            return Err(Error::invalid(
                field,
                "password_too_short",
                format!("password must be at least {} characters", self.min_chars),
            ));
        }
        if pw.len() > self.max_bytes || raw.len() > self.max_bytes {
            return Err(Error::invalid(
                field,
                "password_too_long",
                format!("password must be at most {} bytes", self.max_bytes),
            ));
        }
        let lower = pw.to_lowercase();
        if COMMON.contains(lower.as_str()) {
            return Err(Error::invalid(
                field,
                "password_too_common",
                "this password is among the most commonly used and easily guessed; choose another",
            ));
        }
        let local = email
            .map(|e| e.local_part().to_lowercase())
            .unwrap_or_default();
        if local.chars().count() >= 3 && lower.contains(&local) {
            return Err(Error::invalid(
                field,
                "password_contains_email",
                "password must not contain your email address",
            ));
        }
        Ok(Password(pw))
    }

    /// Bounds an attempted password before hashing it at login, so an oversized input costs
    /// nothing. Anything over the cap can never have been set, so it simply fails to verify.
    pub fn is_plausible(&self, raw: &str) -> bool {
        raw.len() <= self.max_bytes * 4 && !raw.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("grace.hopper@example.com").unwrap()
    }

    fn code(r: Result<Password, Error>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn ships_at_least_ten_thousand_common_passwords() {
        assert!(COMMON.len() >= 10_000, "only {}", COMMON.len());
    }

    #[test]
    fn length_is_counted_in_code_points() {
        let p = PasswordPolicy::default();
        assert_eq!(code(p.check("Tr4in-7x", Some(&email()), "password")), "ok");
        assert_eq!(
            code(p.check("short1!", Some(&email()), "password")),
            "password_too_short"
        );
        // Seven two-byte characters are seven characters, not fourteen.
        assert_eq!(
            code(p.check("ééééééé", Some(&email()), "password")),
            "password_too_short"
        );
        assert_eq!(code(p.check("éééééééé", Some(&email()), "password")), "ok");
    }

    #[test]
    fn long_passwords_accepted_up_to_the_cap() {
        let p = PasswordPolicy::default();
        let long64: String = "correct horse battery staple "
            .repeat(3)
            .chars()
            .take(64)
            .collect();
        assert_eq!(code(p.check(&long64, Some(&email()), "password")), "ok");
        assert_eq!(
            code(p.check(&"ab9!".repeat(256), Some(&email()), "password")),
            "ok"
        );
        assert_eq!(
            code(p.check(&"ab9!".repeat(257), Some(&email()), "password")),
            "password_too_long"
        );
    }

    #[test]
    fn rejects_common_and_email_derived_passwords() {
        let p = PasswordPolicy::default();
        assert_eq!(
            code(p.check("password", Some(&email()), "password")),
            "password_too_common"
        );
        assert_eq!(
            code(p.check("PASSWORD1", Some(&email()), "password")),
            "password_too_common"
        );
        assert_eq!(
            code(p.check("12345678", Some(&email()), "password")),
            "password_too_common"
        );
        assert_eq!(
            code(p.check("grace.hopper", Some(&email()), "password")),
            "password_contains_email"
        );
        assert_eq!(
            code(p.check("xxGrace.Hopper99", Some(&email()), "password")),
            "password_contains_email"
        );
    }

    #[test]
    fn no_composition_rules() {
        let p = PasswordPolicy::default();
        assert_eq!(
            code(p.check("zebra lamp quietly", Some(&email()), "password")),
            "ok"
        );
    }

    #[test]
    fn nfkc_makes_compatible_forms_equal() {
        // U+FB01 (the "fi" ligature) and full-width letters fold to their ASCII forms.
        assert_eq!(normalize("ﬁsh"), "fish");
        assert_eq!(normalize("ｐａｓｓ"), "pass");
        let p = PasswordPolicy::default();
        assert_eq!(
            code(p.check("ｐａｓｓｗｏｒｄ", Some(&email()), "password")),
            "password_too_common"
        );
    }

    #[test]
    fn length_limits_hold_as_typed_and_as_normalised() {
        let p = PasswordPolicy::default();
        let email = Email::parse("someone@example.com").unwrap();
        // Seven ligatures are fourteen letters once normalised, but seven characters as sent.
        let err = p.check("ﬁﬂﬁﬂﬁﬂﬁ", Some(&email), "password").unwrap_err();
        assert_eq!(err.code(), "password_too_short");
        assert!(p.check("ﬁﬂﬁﬂﬁﬂﬁﬂ zebra", Some(&email), "password").is_ok());
    }

    #[test]
    fn debug_does_not_leak() {
        let pw = PasswordPolicy::default()
            .check("Tr4in-7x-secret", Some(&email()), "password")
            .unwrap();
        assert_eq!(format!("{pw:?}"), "Password(<redacted>)");
    }
}
