//! A software passkey for black-box tests: an authenticator that answers WebAuthn ceremonies
//! as a browser would relay them (attestation `none`, ES256 on P-256, user verified), with
//! knobs to misbehave: another origin, another relying party, a counter that goes back.

use anyhow::{Context, Result, bail};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A minimal CBOR writer: what attestation objects and COSE keys need.
#[derive(Default)]
struct Cbor(Vec<u8>);

impl Cbor {
    fn head(&mut self, major: u8, n: u64) -> &mut Self {
        let m = major << 5;
        match n {
            0..=23 => self.0.push(m | n as u8),
            24..=0xff => self.0.extend([m | 24, n as u8]),
            0x100..=0xffff => {
                self.0.push(m | 25);
                self.0.extend((n as u16).to_be_bytes());
            }
            _ => {
                self.0.push(m | 26);
                self.0.extend((n as u32).to_be_bytes());
            }
        }
        self
    }
    fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(0, v as u64)
        } else {
            self.head(1, (-1 - v) as u64)
        }
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn map(&mut self, entries: u64) -> &mut Self {
        self.head(5, entries)
    }
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn unb64(s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .context("not base64url")
}

/// One passkey, as held by one authenticator.
pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    /// Set by the registration: the account the authenticator keeps beside the key.
    pub user_handle: Option<Vec<u8>>,
    /// The relying party the key was made for.
    pub rp_id: Option<String>,
    /// The signature counter (0 and staying 0: like most synced passkeys).
    pub counter: u32,
    /// Whether the counter moves on each use (a hardware key).
    pub counts: bool,
    /// Synced (backup eligible and backed up).
    pub synced: bool,
}

impl SoftPasskey {
    /// A synced passkey without a counter, as platforms make them.
    pub fn new() -> Result<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("key generation failed"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("key parsing failed"))?;
        let mut id = vec![0u8; 32];
        rng.fill(&mut id)
            .map_err(|_| anyhow::anyhow!("random failed"))?;
        Ok(Self {
            key,
            credential_id: id,
            user_handle: None,
            rp_id: None,
            counter: 0,
            counts: false,
            synced: true,
        })
    }

    /// A security key bound to one device, whose counter moves on each use.
    pub fn hardware() -> Result<Self> {
        let mut k = Self::new()?;
        k.counts = true;
        k.synced = false;
        Ok(k)
    }

    fn flags(&self, attested: bool) -> u8 {
        // UP, UV; BE and BS for a synced one; AT with attested credential data.
        let mut f = 0x01 | 0x04;
        if self.synced {
            f |= 0x08 | 0x10;
        }
        if attested {
            f |= 0x40;
        }
        f
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let mut c = Cbor::default();
        c.map(5);
        c.int(1).int(2); // kty: EC2
        c.int(3).int(-7); // alg: ES256
        c.int(-1).int(1); // crv: P-256
        c.int(-2).bytes(x);
        c.int(-3).bytes(y);
        c.0
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// Answers `navigator.credentials.create(options)` made at `origin`: the
    /// `PublicKeyCredential` as JSON.
    pub fn create(&mut self, options: &Value, origin: &str) -> Result<Value> {
        let pk = options.get("publicKey").unwrap_or(options);
        let rp_id = pk["rp"]["id"].as_str().context("rp.id")?.to_owned();
        let challenge = pk["challenge"].as_str().context("challenge")?;
        let user = unb64(pk["user"]["id"].as_str().context("user.id")?)?;
        if pk["authenticatorSelection"]["userVerification"] != "required" {
            bail!("a passkey's registration should require user verification: {pk}");
        }
        let client_data = Self::client_data("webauthn.create", challenge, origin);
        let mut auth = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth.push(self.flags(true));
        auth.extend(self.counter.to_be_bytes());
        auth.extend([0u8; 16]); // aaguid
        auth.extend((self.credential_id.len() as u16).to_be_bytes());
        auth.extend(&self.credential_id);
        auth.extend(self.cose_key());
        let mut att = Cbor::default();
        att.map(3);
        att.text("fmt").text("none");
        att.text("attStmt").map(0);
        att.text("authData").bytes(&auth);
        self.user_handle = Some(user);
        self.rp_id = Some(rp_id);
        Ok(json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att.0),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        }))
    }

    /// Answers `navigator.credentials.get(options)` made at `origin`, signing for the relying
    /// party the key was made for.
    pub fn get(&mut self, options: &Value, origin: &str) -> Result<Value> {
        let rp = self.rp_id.clone().context("not registered")?;
        self.get_for(options, origin, &rp)
    }

    /// Like [`Self::get`], with `rp_id`'s hash in the authenticator data whatever the key was
    /// made for (a phishing site's relying party, for instance).
    pub fn get_for(&mut self, options: &Value, origin: &str, rp_id: &str) -> Result<Value> {
        let pk = options.get("publicKey").unwrap_or(options);
        let challenge = pk["challenge"].as_str().context("challenge")?;
        if self.counts {
            self.counter += 1;
        }
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let mut auth = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth.push(self.flags(false));
        auth.extend(self.counter.to_be_bytes());
        let mut signed = auth.clone();
        signed.extend(digest(&SHA256, &client_data).as_ref());
        let sig = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth),
                "clientDataJSON": b64(&client_data),
                "signature": b64(sig.as_ref()),
                "userHandle": self.user_handle.as_deref().map(b64),
            },
            "extensions": {},
        }))
    }
}
