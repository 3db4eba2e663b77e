//! The signing-key store. One active key per algorithm — EdDSA (Keycard's own access tokens),
//! RS256 (the OpenID Connect default for ID tokens) and ES256 — generated here, stored sealed
//! with the KEK, and published in the JWKS. Rotation replaces each algorithm's key; a rotated-out
//! key stays published (and accepted) until every token it signed has expired.

use super::kek::SecretKey;
use crate::error::{Error, Result};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use time::OffsetDateTime;

/// The algorithms Keycard signs with. Every one always has an active key, so any client may
/// choose any of them for its ID tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    #[default]
    RS256,
    EdDSA,
    ES256,
}

impl SigningAlg {
    pub const ALL: [Self; 3] = [Self::RS256, Self::EdDSA, Self::ES256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn jose(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
        }
    }
}

/// A signing key as stored: public JWK in clear, private key (PKCS#8) sealed with the KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// "EdDSA", "RS256" or "ES256"; a row of another algorithm is ignored.
    pub alg: String,
    pub public_jwk: String,
    pub sealed_private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Set when a newer key of the same algorithm replaced this one: it is published until
    /// then, never used to sign.
    pub retire_at: Option<OffsetDateTime>,
}

enum SignKey {
    Jose(EncodingKey),
    /// jsonwebtoken takes RSA keys only as PKCS#1, aws-lc-rs makes PKCS#8: RSA signs here.
    Rsa(aws_lc_rs::rsa::KeyPair),
}

struct Signer {
    kid: String,
    key: SignKey,
}

struct KeySet {
    signers: HashMap<SigningAlg, Signer>,
    verifiers: HashMap<String, (SigningAlg, DecodingKey)>,
    jwks: Arc<str>,
}

/// In-memory view of the usable keys, swapped whole on reload.
pub struct KeyStore {
    kek: SecretKey,
    set: RwLock<Arc<KeySet>>,
    /// Claims of access tokens whose signature was already verified, keyed by the SHA-256 of the
    /// exact token text: an Ed25519 verification costs ~50 µs, a lookup ~1 µs. A re-encoded
    /// (malleated) token simply misses and is verified in full. Cleared when the key set changes.
    pub(crate) verified: Mutex<HashMap<[u8; 32], super::AccessClaims>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").finish_non_exhaustive()
    }
}

impl KeyStore {
    pub fn new(kek: SecretKey) -> Self {
        Self {
            kek,
            set: RwLock::new(Arc::new(KeySet {
                signers: HashMap::new(),
                verifiers: HashMap::new(),
                jwks: Arc::from(r#"{"keys":[]}"#),
            })),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Makes a fresh key for `alg`, sealed for storage.
    pub fn generate(&self, alg: SigningAlg, now: OffsetDateTime) -> Result<StoredKey> {
        let rng = SystemRandom::new();
        let failed = |_| Error::Internal(format!("{} key generation failed", alg.as_str()));
        let (pkcs8, mut jwk) = match alg {
            SigningAlg::EdDSA => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(failed)?;
                let enc = EncodingKey::from_ed_der(pkcs8.as_ref());
                let jwk = Jwk::from_encoding_key(&enc, Algorithm::EdDSA).map_err(internal)?;
                (pkcs8.as_ref().to_vec(), jwk)
            }
            SigningAlg::ES256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(failed)?;
                let enc = EncodingKey::from_ec_der(pkcs8.as_ref());
                let jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256).map_err(internal)?;
                (pkcs8.as_ref().to_vec(), jwk)
            }
            SigningAlg::RS256 => {
                let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(failed)?;
                let public = key.public_key();
                let jwk = Jwk {
                    common: CommonParameters {
                        key_algorithm: Some(KeyAlgorithm::RS256),
                        ..Default::default()
                    },
                    algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                        key_type: RSAKeyType::RSA,
                        n: B64.encode(public.modulus().big_endian_without_leading_zero()),
                        e: B64.encode(public.exponent().big_endian_without_leading_zero()),
                    }),
                };
                let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).map_err(failed)?;
                (der.as_ref().to_vec(), jwk)
            }
        };
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(internal)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(StoredKey {
            sealed_private_key: self.kek.seal(&kid, &pkcs8)?,
            public_jwk: serde_json::to_string(&jwk).map_err(internal)?,
            kid,
            alg: alg.as_str().into(),
            created_at: now,
            retire_at: None,
        })
    }

    /// Replaces the in-memory set with the stored keys still valid at `now`.
    pub fn load(&self, stored: &[StoredKey], now: OffsetDateTime) -> Result<()> {
        let mut live: Vec<(SigningAlg, &StoredKey)> = stored
            .iter()
            .filter(|k| k.retire_at.is_none_or(|r| r > now))
            .filter_map(|k| SigningAlg::parse(&k.alg).map(|a| (a, k)))
            .collect();
        live.sort_by_key(|(_, k)| std::cmp::Reverse(k.created_at));
        let mut verifiers = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        let mut signers = HashMap::new();
        for (alg, k) in &live {
            let jwk: Jwk = serde_json::from_str(&k.public_jwk).map_err(internal)?;
            verifiers.insert(
                k.kid.clone(),
                (*alg, DecodingKey::from_jwk(&jwk).map_err(internal)?),
            );
            jwks.keys.push(jwk);
            if k.retire_at.is_none() && !signers.contains_key(alg) {
                let der = self.kek.open(&k.kid, &k.sealed_private_key)?;
                let key = match alg {
                    SigningAlg::EdDSA => SignKey::Jose(EncodingKey::from_ed_der(&der)),
                    SigningAlg::ES256 => SignKey::Jose(EncodingKey::from_ec_der(&der)),
                    SigningAlg::RS256 => {
                        SignKey::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(internal)?)
                    }
                };
                signers.insert(
                    *alg,
                    Signer {
                        kid: k.kid.clone(),
                        key,
                    },
                );
            }
        }
        let jwks = serde_json::to_string(&jwks).map_err(internal)?;
        let fresh = Arc::new(KeySet {
            signers,
            verifiers,
            jwks: jwks.into(),
        });
        let mut set = self.set.write().unwrap_or_else(|p| p.into_inner());
        let same_keys = set.jwks == fresh.jwks;
        *set = fresh;
        drop(set);
        if !same_keys {
            self.verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        Ok(())
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The algorithms that have no active key yet.
    pub fn missing_signers(&self) -> Vec<SigningAlg> {
        let set = self.current();
        SigningAlg::ALL
            .into_iter()
            .filter(|a| !set.signers.contains_key(a))
            .collect()
    }

    /// The public JWKS document, pre-serialized.
    pub fn jwks_json(&self) -> Arc<str> {
        self.current().jwks.clone()
    }

    /// Signs `claims` with the active EdDSA key (Keycard's own tokens).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        self.sign_with(SigningAlg::EdDSA, typ, claims)
    }

    /// Signs `claims` with the active key of `alg`, `typ` naming the token kind (RFC 8725
    /// §3.11).
    pub fn sign_with<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String> {
        let set = self.current();
        let signer = set
            .signers
            .get(&alg)
            .ok_or_else(|| Error::Internal(format!("no active {} signing key", alg.as_str())))?;
        let mut header = Header::new(alg.jose());
        header.typ = Some(typ.to_owned());
        header.kid = Some(signer.kid.clone());
        match &signer.key {
            SignKey::Jose(key) => jsonwebtoken::encode(&header, claims, key).map_err(internal),
            SignKey::Rsa(key) => {
                let input = format!(
                    "{}.{}",
                    B64.encode(serde_json::to_vec(&header).map_err(internal)?),
                    B64.encode(serde_json::to_vec(claims).map_err(internal)?)
                );
                let mut sig = vec![0; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| Error::Internal("RSA signing failed".into()))?;
                Ok(format!("{input}.{}", B64.encode(sig)))
            }
        }
    }

    /// The verification key for `kid` and the algorithm it was made for, if it is published.
    pub(crate) fn verifier(&self, kid: &str) -> Option<(SigningAlg, DecodingKey)> {
        self.current().verifiers.get(kid).cloned()
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("signing keys: {e}"))
}
