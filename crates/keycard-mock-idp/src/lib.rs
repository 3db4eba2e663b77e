//! `keycard-mock-idp`: a strict stand-in of the identity providers Keycard signs people in with,
//! so Keycard can be tried, tested and demonstrated without real credentials or the internet.
//!
//! One server, one port; each provider under a path of its own. So far the OpenID Connect
//! providers: `/google` (shaped like Google) and `/oidc` (any OpenID Connect provider), each with
//! discovery, JWKS, an authorization page where a person chooses a test user or denies, a token
//! endpoint and userinfo. It is as strict as the real ones: it checks the client id and secret,
//! the exact redirect URI, the PKCE verifier (S256 only), and hands out one-time codes that expire.

#![forbid(unsafe_code)]

mod oidc;
mod signing;
pub mod users;

use anyhow::Result;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use signing::Signer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An application registered at the provider (Keycard, in practice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub secret: String,
    /// Compared exactly, as the real providers do.
    pub redirect_uris: Vec<String>,
}

impl Client {
    /// `ID:SECRET:REDIRECT_URI[,REDIRECT_URI…]` (the URIs may contain colons themselves).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(id), Some(secret), Some(uris)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("`{s}` is not ID:SECRET:REDIRECT_URI"));
        };
        if id.is_empty() || secret.is_empty() || uris.is_empty() {
            return Err(format!(
                "`{s}`: id, secret and redirect URI must not be empty"
            ));
        }
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
            redirect_uris: uris.split(',').map(str::to_owned).collect(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `scheme://host:port` the server is reached at; each provider's issuer is this plus its path.
    pub origin: String,
    pub clients: Vec<Client>,
    /// How long an authorization code can be redeemed (real providers: about a minute).
    pub code_ttl: Duration,
    /// How long an access token answers at userinfo.
    pub token_ttl: Duration,
}

impl Config {
    pub fn new(origin: impl Into<String>, clients: Vec<Client>) -> Self {
        Self {
            origin: origin.into().trim_end_matches('/').to_owned(),
            clients,
            code_ttl: Duration::from_secs(60),
            token_ttl: Duration::from_secs(3600),
        }
    }
}

/// What the server keeps: requests waiting for a person's choice, codes, access tokens. In
/// memory only: a restart forgets every grant, as a test double should.
pub(crate) struct Idp {
    config: Config,
    signer: Signer,
    pending: Mutex<HashMap<String, oidc::Pending>>,
    codes: Mutex<HashMap<String, oidc::Grant>>,
    tokens: Mutex<HashMap<String, oidc::Issued>>,
}

impl Idp {
    fn client(&self, id: &str) -> Option<&Client> {
        self.config.clients.iter().find(|c| c.id == id)
    }

    fn issuer(&self, provider: &str) -> String {
        format!("{}/{provider}", self.config.origin)
    }
}

/// 256 random bits, base64url: request ids, codes, tokens.
pub(crate) fn random_token() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut b = [0u8; 32];
    SystemRandom::new().fill(&mut b)?;
    Ok(B64.encode(b))
}

/// The whole double, ready to serve.
pub fn router(config: Config) -> Result<Router> {
    let idp = Arc::new(Idp {
        config,
        signer: Signer::generate()?,
        pending: Mutex::default(),
        codes: Mutex::default(),
        tokens: Mutex::default(),
    });
    Ok(oidc::routes().with_state(idp))
}
