//! The provider's RS256 signing key (made fresh at start, as nothing outlives a test run) and the
//! JWTs it signs.

use anyhow::{Context, Result};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

pub struct Signer {
    key: KeyPair,
    kid: String,
    jwks: Value,
}

impl Signer {
    pub fn generate() -> Result<Self> {
        let key = KeyPair::generate(KeySize::Rsa2048).context("generating the RSA key")?;
        let public = key.public_key();
        let n = B64.encode(public.modulus().big_endian_without_leading_zero());
        let e = B64.encode(public.exponent().big_endian_without_leading_zero());
        let kid = format!("mock-{}", &n[..12]);
        let jwks = json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
        }]});
        Ok(Self { key, kid, jwks })
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// A compact JWS (RS256) of `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        self.sign_with_kid(claims, &self.kid.clone())
    }

    /// Signed by this key, but naming another key id (a rotation the client has not seen).
    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> Result<String> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        Ok(format!("{input}.{}", B64.encode(sig)))
    }

    /// Unsigned (`alg: none`): what an attacker sends hoping the client skips verification.
    pub fn unsigned(&self, claims: &Value) -> String {
        let header = json!({ "alg": "none", "typ": "JWT" });
        format!(
            "{}.{}.",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        )
    }

    /// HS256 keyed with the public key's modulus: the key-confusion attack on clients that let
    /// the token choose the algorithm.
    pub fn hmac_with_public_key(&self, claims: &Value) -> String {
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let key = aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            self.key
                .public_key()
                .modulus()
                .big_endian_without_leading_zero(),
        );
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", B64.encode(tag.as_ref()))
    }
}
