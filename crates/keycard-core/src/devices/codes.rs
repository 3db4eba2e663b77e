//! User codes (RFC 8628 §6.1): eight characters from an alphabet without vowels (no words can
//! form) and without characters people confuse, shown as `BCDF-GHJK`, typed in any case, with or
//! without the dash.

use crate::error::{Error, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// 20 consonants: 20⁸ ≈ 2.6·10¹⁰ codes (34.5 bits), against at most a few guesses a minute
/// per network for the ten minutes a code lives.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const LENGTH: usize = 8;

pub fn generate() -> Result<String> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(LENGTH);
    while out.len() < LENGTH {
        let mut b = [0u8; 1];
        rng.fill(&mut b)
            .map_err(|_| Error::Internal("system random generator failed".into()))?;
        // Rejection sampling keeps every character equally likely (240 = 12 × 20).
        if b[0] < 240 {
            out.push(ALPHABET[usize::from(b[0] % 20)] as char);
        }
    }
    Ok(out)
}

/// What the person typed, in the stored form; `None` when it cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// `BCDFGHJK` → `BCDF-GHJK`.
pub fn display(code: &str) -> String {
    if code.len() == LENGTH {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_vowel_free_and_read_back_however_typed() {
        for _ in 0..200 {
            let c = generate().unwrap();
            assert_eq!(c.len(), LENGTH);
            assert!(!c.chars().any(|ch| "AEIOUY01".contains(ch)), "{c}");
            assert_eq!(normalize(&display(&c)), Some(c.clone()));
            assert_eq!(normalize(&display(&c).to_lowercase()), Some(c.clone()));
        }
        assert_eq!(normalize("bcdf ghjk"), Some("BCDFGHJK".into()));
        assert_eq!(normalize("BCDF-GHJ"), None);
        assert_eq!(normalize("BCDF-GHJA"), None, "a vowel is never in a code");
        assert_eq!(normalize(""), None);
    }
}
