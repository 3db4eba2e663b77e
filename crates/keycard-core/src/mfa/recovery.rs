//! Recovery codes: ten one-time codes of 50 bits each (`xxxxx-xxxxx`, Crockford's base32, so
//! `0`/`o` and `1`/`i`/`l` are read alike), stored as argon2id hashes under one salt per set.

use crate::error::{Error, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

pub const RECOVERY_CODES: usize = 10;
const LEN: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new set, formatted for the person to write down.
pub(crate) fn generate() -> Result<Vec<String>> {
    let mut bytes = [0u8; RECOVERY_CODES * LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("system random generator failed".into()))?;
    Ok(bytes
        .chunks(LEN)
        .map(|chunk| {
            // 256 is a multiple of 32: every character is equally likely.
            let s: String = chunk
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect())
}

/// The code as hashed: lower case, without separators, look-alikes folded. `None` when the
/// input cannot be a recovery code at all.
pub(crate) fn normalize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(LEN);
    for c in input.chars() {
        let c = match c.to_ascii_lowercase() {
            '-' | ' ' => continue,
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_that_normalize_to_themselves() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut seen = std::collections::HashSet::new();
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            let n = normalize(c).unwrap();
            assert_eq!(n, c.replace('-', ""));
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn typing_slips_are_forgiven_but_not_wrong_length() {
        assert_eq!(normalize(" ABCDE-FGH0O ").as_deref(), Some("abcdefgh00"));
        assert_eq!(normalize("IL1ab cdefg").as_deref(), Some("111abcdefg"));
        assert_eq!(normalize("abcde-fgh"), None);
        assert_eq!(normalize("abcde-fgh#j"), None);
        assert_eq!(normalize("123456"), None);
    }
}
