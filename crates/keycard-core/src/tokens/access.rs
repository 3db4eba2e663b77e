//! Access tokens: short-lived JWTs (RFC 9068 profile) that carry the session id, so Keycard's own
//! endpoints can reject them the moment the session ends.

use super::keys::{KeyStore, SigningAlg};
use crate::error::{AuthFailure, Error, Result};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The kinds of JWT Keycard signs. Each has its own `typ`, and a verifier for one kind rejects
/// the others (RFC 8725 §3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
}

impl TokenKind {
    pub fn typ(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// Session id: the token dies with its session.
    pub sid: String,
    /// RFC 9068 requires client_id; for Keycard's own API the client is Keycard itself.
    pub client_id: String,
    /// How the session's person proved who they are (RFC 8176: `pwd`, `otp`, `mfa`, a
    /// provider's id), so an API can ask for a second factor before a sensitive action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// When they did (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The sign-in's class: `urn:keycard:acr:1fa` or `urn:keycard:acr:mfa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// Tolerated clock difference for `nbf`/`iat` only; `exp` is exact.
const LEEWAY_SECS: i64 = 5;

/// Bound on remembered verifications (~300 bytes each).
const VERIFIED_CACHE_MAX: usize = 50_000;

impl KeyStore {
    /// Verifies an access token: algorithm allowlist (EdDSA only, so `none` and HS256 keyed with
    /// our public key are refused before any key is touched), `typ`, known `kid`, signature,
    /// `iss`, `aud`, `exp`, `nbf`. Every failure is the same opaque error to the caller.
    pub fn verify_access(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<AccessClaims> {
        let deny = |why: &str| {
            tracing::debug!(reason = why, "access token rejected");
            Error::Unauthenticated(AuthFailure::InvalidToken)
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut cache_key = [0u8; 32];
        cache_key.copy_from_slice(digest.as_ref());
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
            .cloned();
        let claims = match cached {
            // The cache is shared by all callers: re-check what a caller may ask differently.
            Some(c) if c.iss == issuer && c.aud == audience => c,
            Some(_) => return Err(deny("issuer or audience mismatch")),
            None => {
                let claims = self.verify_signed(token, issuer, audience, deny)?;
                let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= VERIFIED_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(cache_key, claims.clone());
                claims
            }
        };
        // Time is checked on every use, cached or not.
        let now = now.unix_timestamp();
        if claims.exp <= now {
            return Err(deny("expired"));
        }
        if claims.nbf > now + LEEWAY_SECS || claims.iat > now + LEEWAY_SECS {
            return Err(deny("not yet valid"));
        }
        Ok(claims)
    }

    fn verify_signed(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        deny: impl Fn(&str) -> Error,
    ) -> Result<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| deny("malformed header"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(deny("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(TokenKind::Access.typ()) {
            return Err(deny("wrong typ"));
        }
        if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() {
            return Err(deny("embedded key references are not accepted"));
        }
        let kid = header.kid.ok_or_else(|| deny("no kid"))?;
        let (alg, key) = self.verifier(&kid).ok_or_else(|| deny("unknown kid"))?;
        if alg != SigningAlg::EdDSA {
            return Err(deny("kid of another algorithm"));
        }
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
        // Time is checked below against our clock, not the library's.
        v.validate_exp = false;
        v.validate_nbf = false;
        jsonwebtoken::decode::<AccessClaims>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|_| deny("signature or claims invalid"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::SecretKey;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use time::macros::datetime;

    const ISS: &str = "https://id.example.com";
    const AUD: &str = "https://id.example.com";

    fn now() -> OffsetDateTime {
        datetime!(2026-11-24 12:00 UTC)
    }

    fn store() -> KeyStore {
        let ks = KeyStore::new(SecretKey::generate().unwrap());
        let keys: Vec<_> = SigningAlg::ALL
            .into_iter()
            .map(|a| ks.generate(a, now()).unwrap())
            .collect();
        ks.load(&keys, now()).unwrap();
        ks
    }

    fn claims(at: OffsetDateTime) -> AccessClaims {
        let t = at.unix_timestamp();
        AccessClaims {
            iss: ISS.into(),
            sub: "user-1".into(),
            aud: AUD.into(),
            exp: t + 900,
            iat: t,
            nbf: t,
            jti: "j1".into(),
            sid: "s1".into(),
            client_id: "keycard".into(),
            amr: vec!["pwd".into()],
            auth_time: Some(t),
            acr: Some(crate::sessions::ACR_ONE_FACTOR.into()),
        }
    }

    fn verify(ks: &KeyStore, tok: &str) -> Result<AccessClaims> {
        ks.verify_access(tok, ISS, AUD, now())
    }

    fn parts(tok: &str) -> (serde_json::Value, serde_json::Value, String) {
        let p: Vec<&str> = tok.split('.').collect();
        let h = serde_json::from_slice(&B64.decode(p[0]).unwrap()).unwrap();
        let c = serde_json::from_slice(&B64.decode(p[1]).unwrap()).unwrap();
        (h, c, p[2].to_owned())
    }

    fn assemble(h: &serde_json::Value, c: &serde_json::Value, sig: &str) -> String {
        format!(
            "{}.{}.{}",
            B64.encode(serde_json::to_vec(h).unwrap()),
            B64.encode(serde_json::to_vec(c).unwrap()),
            sig
        )
    }

    #[test]
    fn valid_token_round_trips_with_expected_header() {
        let ks = store();
        let tok = ks.sign("at+jwt", &claims(now())).unwrap();
        let (h, _, _) = parts(&tok);
        assert_eq!(h["alg"], "EdDSA");
        assert_eq!(h["typ"], "at+jwt");
        assert!(h["kid"].is_string());
        assert_eq!(verify(&ks, &tok).unwrap(), claims(now()));
    }

    #[test]
    fn alg_none_is_rejected() {
        let ks = store();
        let tok = ks.sign("at+jwt", &claims(now())).unwrap();
        let (mut h, c, _) = parts(&tok);
        h["alg"] = "none".into();
        assert!(verify(&ks, &assemble(&h, &c, "")).is_err());
        h["alg"] = "NONE".into();
        assert!(verify(&ks, &assemble(&h, &c, "")).is_err());
    }

    #[test]
    fn hs256_keyed_with_the_public_key_is_rejected() {
        use aws_lc_rs::hmac;
        let ks = store();
        let tok = ks.sign("at+jwt", &claims(now())).unwrap();
        let (mut h, c, _) = parts(&tok);
        h["alg"] = "HS256".into();
        let jwks: serde_json::Value = serde_json::from_str(&ks.jwks_json()).unwrap();
        let ed = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["crv"] == "Ed25519")
            .unwrap();
        let public_x = ed["x"].as_str().unwrap().to_owned();
        let unsigned = {
            let t = assemble(&h, &c, "");
            t.trim_end_matches('.').to_owned()
        };
        for secret in [
            public_x.as_bytes().to_vec(),
            B64.decode(&public_x).unwrap(),
            ks.jwks_json().as_bytes().to_vec(),
        ] {
            let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
            let sig = B64.encode(hmac::sign(&key, unsigned.as_bytes()).as_ref());
            assert!(verify(&ks, &format!("{unsigned}.{sig}")).is_err());
        }
    }

    #[test]
    fn wrong_audience_issuer_or_typ_is_rejected() {
        let ks = store();
        let mut c = claims(now());
        c.aud = "https://other.example.com".into();
        assert!(verify(&ks, &ks.sign("at+jwt", &c).unwrap()).is_err());
        let mut c = claims(now());
        c.iss = "https://evil.example.com".into();
        assert!(verify(&ks, &ks.sign("at+jwt", &c).unwrap()).is_err());
        assert!(verify(&ks, &ks.sign("JWT", &claims(now())).unwrap()).is_err());
        assert!(verify(&ks, &ks.sign("id+jwt", &claims(now())).unwrap()).is_err());
    }

    #[test]
    fn expired_and_future_tokens_are_rejected() {
        let ks = store();
        let issued = now() - time::Duration::minutes(15);
        assert!(
            verify(&ks, &ks.sign("at+jwt", &claims(issued)).unwrap()).is_err(),
            "exp == now"
        );
        let issued = now() - time::Duration::minutes(14);
        assert!(verify(&ks, &ks.sign("at+jwt", &claims(issued)).unwrap()).is_ok());
        let future = now() + time::Duration::minutes(1);
        assert!(verify(&ks, &ks.sign("at+jwt", &claims(future)).unwrap()).is_err());
    }

    #[test]
    fn tampered_tokens_are_rejected() {
        let ks = store();
        let tok = ks.sign("at+jwt", &claims(now())).unwrap();
        let (h, mut c, sig) = parts(&tok);
        c["sub"] = "user-2".into();
        assert!(verify(&ks, &assemble(&h, &c, &sig)).is_err());
        let mut bad_sig = sig.into_bytes();
        bad_sig[3] = if bad_sig[3] == b'A' { b'B' } else { b'A' };
        let (h, c, _) = parts(&tok);
        assert!(
            verify(
                &ks,
                &assemble(&h, &c, std::str::from_utf8(&bad_sig).unwrap())
            )
            .is_err()
        );
        assert!(verify(&ks, "not.a.jwt").is_err());
        assert!(verify(&ks, "").is_err());
    }

    #[test]
    fn tokens_signed_with_the_other_algorithms_are_not_access_tokens() {
        let ks = store();
        for alg in [SigningAlg::RS256, SigningAlg::ES256] {
            let tok = ks.sign_with(alg, "at+jwt", &claims(now())).unwrap();
            assert_eq!(parts(&tok).0["alg"], alg.as_str());
            assert!(verify(&ks, &tok).is_err(), "{alg:?}");
        }
    }

    #[test]
    fn token_from_another_key_store_is_rejected() {
        let ks = store();
        let other = store();
        assert!(verify(&ks, &other.sign("at+jwt", &claims(now())).unwrap()).is_err());
    }

    #[test]
    fn retired_key_verifies_until_retirement_then_stops() {
        let ks = KeyStore::new(SecretKey::generate().unwrap());
        let mut old = ks.generate(SigningAlg::EdDSA, now()).unwrap();
        ks.load(std::slice::from_ref(&old), now()).unwrap();
        let old_tok = ks.sign("at+jwt", &claims(now())).unwrap();
        let new = ks
            .generate(SigningAlg::EdDSA, now() + time::Duration::seconds(1))
            .unwrap();
        old.retire_at = Some(now() + time::Duration::minutes(20));
        ks.load(&[old.clone(), new.clone()], now()).unwrap();
        let new_tok = ks.sign("at+jwt", &claims(now())).unwrap();
        assert_eq!(parts(&new_tok).0["kid"], new.kid.as_str());
        assert!(verify(&ks, &old_tok).is_ok());
        let jwks: serde_json::Value = serde_json::from_str(&ks.jwks_json()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        ks.load(&[old, new], now() + time::Duration::minutes(21))
            .unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&ks.jwks_json()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert!(verify(&ks, &old_tok).is_err());
    }
}
