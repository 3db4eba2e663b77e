//! The signing-key store. Keys are Ed25519, generated here, stored encrypted with the KEK, and
//! published in the JWKS. The newest unretired key signs; a rotated-out key stays published (and
//! accepted) until every token it signed has expired.

use super::kek::SecretKey;
use crate::error::{Error, Result};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::Ed25519KeyPair;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use time::OffsetDateTime;

/// A signing key as stored: public JWK in clear, private key sealed with the KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Always "EdDSA" today; stored so other algorithms can be added without a migration.
    pub alg: String,
    pub public_jwk: String,
    pub sealed_private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Set when a newer key replaced this one: it is published until then, never used to sign.
    pub retire_at: Option<OffsetDateTime>,
}

struct Signer {
    kid: String,
    key: EncodingKey,
}

struct KeySet {
    signer: Option<Signer>,
    verifiers: HashMap<String, DecodingKey>,
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
                signer: None,
                verifiers: HashMap::new(),
                jwks: Arc::from(r#"{"keys":[]}"#),
            })),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Makes a fresh Ed25519 key, sealed for storage.
    pub fn generate(&self, now: OffsetDateTime) -> Result<StoredKey> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new())
            .map_err(|_| Error::Internal("Ed25519 key generation failed".into()))?;
        let enc = EncodingKey::from_ed_der(pkcs8.as_ref());
        let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::EdDSA).map_err(internal)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(internal)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(StoredKey {
            sealed_private_key: self.kek.seal(&kid, pkcs8.as_ref())?,
            public_jwk: serde_json::to_string(&jwk).map_err(internal)?,
            kid,
            alg: "EdDSA".into(),
            created_at: now,
            retire_at: None,
        })
    }

    /// Replaces the in-memory set with the stored keys still valid at `now`.
    pub fn load(&self, stored: &[StoredKey], now: OffsetDateTime) -> Result<()> {
        let mut live: Vec<&StoredKey> = stored
            .iter()
            .filter(|k| k.retire_at.is_none_or(|r| r > now))
            .collect();
        live.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        let mut verifiers = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for k in &live {
            if k.alg != "EdDSA" {
                continue;
            }
            let jwk: Jwk = serde_json::from_str(&k.public_jwk).map_err(internal)?;
            verifiers.insert(
                k.kid.clone(),
                DecodingKey::from_jwk(&jwk).map_err(internal)?,
            );
            jwks.keys.push(jwk);
        }
        let signer = match live
            .iter()
            .find(|k| k.retire_at.is_none() && k.alg == "EdDSA")
        {
            Some(k) => Some(Signer {
                kid: k.kid.clone(),
                key: EncodingKey::from_ed_der(&self.kek.open(&k.kid, &k.sealed_private_key)?),
            }),
            None => None,
        };
        let jwks = serde_json::to_string(&jwks).map_err(internal)?;
        let fresh = Arc::new(KeySet {
            signer,
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

    pub fn has_signer(&self) -> bool {
        self.current().signer.is_some()
    }

    /// The public JWKS document, pre-serialized.
    pub fn jwks_json(&self) -> Arc<str> {
        self.current().jwks.clone()
    }

    /// Signs `claims` with the active key, `typ` naming the token kind (RFC 8725 §3.11).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        let set = self.current();
        let signer = set
            .signer
            .as_ref()
            .ok_or_else(|| Error::Internal("no active signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.key).map_err(internal)
    }

    /// The verification key for `kid`, if it is published.
    pub(crate) fn verifier(&self, kid: &str) -> Option<DecodingKey> {
        self.current().verifiers.get(kid).cloned()
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("signing keys: {e}"))
}
