//! `keycard-mock-idp`: a strict stand-in of the identity providers Keycard signs people in with,
//! so Keycard can be tried, tested and demonstrated without real credentials or the internet.
//!
//! One server, one port; each provider under a path of its own, at the real provider's paths
//! (so an adapter pointed at `{origin}/{provider}` instead of the real hosts needs nothing else):
//!
//! | provider | authorization | token | profile API |
//! |---|---|---|---|
//! | `/google`, `/oidc`, `/corp` (OpenID Connect; discovery at `/.well-known/openid-configuration`, keys at `/jwks`) | `GET /authorize` | `POST /token` | `GET /userinfo` |
//! | `/facebook` | `GET /dialog/oauth` | `GET` or `POST /oauth/access_token` | `GET /me?fields=…` |
//! | `/github` | `GET /login/oauth/authorize` | `POST /login/oauth/access_token` | `GET /user`, `GET /user/emails` |
//! | `/x` | `GET /i/oauth2/authorize` | `POST /2/oauth2/token` | `GET /2/users/me` |
//! | `/apple` (OpenID Connect with `form_post` and an ES256 JWT client secret; discovery, keys at `/auth/keys`) | `GET /auth/authorize` | `POST /auth/token` | none: the ID token and the form's `user` |
//!
//! Every authorization page is the same form: a person chooses a test user
//! ([`users::USERS`], optionally tagged `ada+TAG`) or denies, and may pick a fault to simulate
//! (`server_error`, `slow` and `garbage` at the token step everywhere; ID-token forgeries for
//! the OpenID Connect providers; `api_error`, a 500 from the profile API, for the others). The
//! form posts to the authorization path plus `/decide`.
//!
//! It is as strict as the real ones: it checks the client id and secret, the exact redirect URI,
//! the PKCE verifier (S256 only; required by X), and hands out one-time codes that expire, bound
//! to the client and redirect URI. Each provider answers in its own words, quirks included
//! (GitHub refuses a code with HTTP 200, Facebook with a Graph error object).

#![forbid(unsafe_code)]

pub mod apple;
mod client_auth;
mod facebook;
mod fault;
mod github;
mod grants;
mod oauth;
mod oidc;
mod pkce;
pub mod pwned;
mod signing;
pub mod users;
mod web;
mod x;

use anyhow::Result;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use signing::Signer;
use std::collections::{HashMap, HashSet};
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
    /// How long an access token answers at userinfo or the provider's API.
    pub token_ttl: Duration,
    /// The developer team whose key signs Apple client secrets (the demo team by default).
    pub apple: Option<apple::AppleTeam>,
}

impl Config {
    pub fn new(origin: impl Into<String>, clients: Vec<Client>) -> Self {
        Self {
            origin: origin.into().trim_end_matches('/').to_owned(),
            clients,
            code_ttl: Duration::from_secs(60),
            token_ttl: Duration::from_secs(3600),
            apple: apple::AppleTeam::demo().ok(),
        }
    }
}

/// What the server keeps: requests waiting for a person's choice, codes, access tokens. In
/// memory only: a restart forgets every grant, as a test double should.
pub(crate) struct Idp {
    config: Config,
    signer: Signer,
    pending: Mutex<HashMap<String, grants::Pending>>,
    codes: Mutex<HashMap<String, grants::Grant>>,
    tokens: Mutex<HashMap<String, grants::Issued>>,
    /// Apple: who has signed in to which client before (their name is sent the first time only).
    apple_seen: Mutex<HashSet<String>>,
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

pub(crate) type Shared = axum::extract::State<Arc<Idp>>;

/// The whole double, ready to serve.
pub fn router(config: Config) -> Result<Router> {
    let idp = Arc::new(Idp {
        config,
        signer: Signer::generate()?,
        pending: Mutex::default(),
        codes: Mutex::default(),
        tokens: Mutex::default(),
        apple_seen: Mutex::default(),
    });
    Ok(oidc::routes()
        .merge(facebook::routes())
        .merge(github::routes())
        .merge(x::routes())
        .merge(apple::routes())
        .merge(pwned::routes())
        .with_state(idp))
}
