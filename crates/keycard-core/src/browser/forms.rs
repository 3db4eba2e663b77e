//! Tokens for the hosted pages' forms (synchronizer tokens, OWASP CSRF cheat sheet): an HMAC, under
//! a key derived from the server's secret, of what binds the form to one browser (its session
//! cookie once signed in, before that a random cookie of its own) and of the form's purpose. A
//! page on another site can make a browser send the cookie but cannot read the token; every
//! instance sharing the secret checks every other's tokens.

use crate::tokens::SecretKey;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone)]
pub struct FormTokens(hmac::Key);

impl std::fmt::Debug for FormTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormTokens(<redacted>)")
    }
}

impl FormTokens {
    pub fn new(kek: &SecretKey) -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            &kek.derive("keycard form tokens v1"),
        ))
    }

    fn tag(&self, binding: &str, form: &str) -> hmac::Tag {
        // Length-prefixed, so no (binding, form) pair can be confused with another.
        let mut msg = Vec::with_capacity(binding.len() + form.len() + 16);
        msg.extend_from_slice(&(binding.len() as u64).to_be_bytes());
        msg.extend_from_slice(binding.as_bytes());
        msg.extend_from_slice(form.as_bytes());
        hmac::sign(&self.0, &msg)
    }

    pub fn issue(&self, binding: &str, form: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.tag(binding, form).as_ref())
    }

    /// Constant-time check of a token sent with a form.
    pub fn verify(&self, binding: &str, form: &str, token: &str) -> bool {
        let Ok(sent) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        let mut msg = Vec::with_capacity(binding.len() + form.len() + 16);
        msg.extend_from_slice(&(binding.len() as u64).to_be_bytes());
        msg.extend_from_slice(binding.as_bytes());
        msg.extend_from_slice(form.as_bytes());
        hmac::verify(&self.0, &msg, &sent).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_for_its_binding_and_form_only() {
        let kek = SecretKey::generate().unwrap();
        let forms = FormTokens::new(&kek);
        let t = forms.issue("browser-a", "login");
        assert!(forms.verify("browser-a", "login", &t));
        assert!(!forms.verify("browser-b", "login", &t));
        assert!(!forms.verify("browser-a", "logout", &t));
        assert!(!forms.verify("browser-a", "login", "garbage!"));
        assert!(!forms.verify("browser-a", "login", ""));
        let other = FormTokens::new(&SecretKey::generate().unwrap());
        assert!(!other.verify("browser-a", "login", &t));
        // The same secret on another instance accepts it.
        assert!(FormTokens::new(&kek).verify("browser-a", "login", &t));
    }
}
