//! The seam between the flow and each provider's protocol. An adapter builds the authorization
//! URL and turns a callback's code into a verified profile; everything else (state, browser
//! binding, account rules, sessions) is the flow's, the same for every provider.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a front end needs to draw the provider's button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Stable id, used in URLs: `google`, `oidc`…
    pub id: String,
    /// Button label: "Google", or the configured name of a generic provider.
    pub name: String,
    /// Which icon to draw (`google`, `facebook`, `x`, `github`, `apple`, `openid`).
    pub icon: String,
}

/// What goes into the authorization request.
#[derive(Debug, Clone, Copy)]
pub struct Authorization<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    /// `BASE64URL(SHA-256(verifier))` (RFC 7636 S256).
    pub pkce_challenge: &'a str,
    pub redirect_uri: &'a str,
}

/// What came back, plus what the flow kept to check it.
#[derive(Debug, Clone, Copy)]
pub struct Callback<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub pkce_verifier: &'a str,
    /// Must come back in the ID token, for OpenID Connect providers.
    pub nonce: &'a str,
    /// Sign in with Apple's unsigned `user` form field (JSON with the name, first sign-in only).
    pub user: Option<&'a str>,
}

/// A person as the provider describes them, after every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderProfile {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Timeout, refused connection, a 5xx: says nothing about the person.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    /// The provider answered, but the answer does not hold up (a refused code, a bad signature,
    /// wrong issuer, audience or nonce, a malformed body).
    #[error("provider answer rejected: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait IdentityProvider: Send + Sync {
    fn info(&self) -> &ProviderInfo;

    /// The issuer whose answers this provider accepts; kept with each flow and compared when it
    /// comes back.
    fn issuer(&self) -> &str;

    /// Whether the answer comes back as a POST (`response_mode=form_post`, Apple) rather than
    /// a redirect.
    fn answers_by_post(&self) -> bool {
        false
    }

    /// Where to send the browser. May need the provider's discovery document (fetched once).
    async fn authorization_url(&self, request: &Authorization<'_>)
    -> Result<String, ProviderError>;

    /// Redeems the code and verifies what the provider says about the person.
    async fn finish(&self, callback: &Callback<'_>) -> Result<ProviderProfile, ProviderError>;
}

/// The enabled providers, in the order their buttons are shown.
#[derive(Clone, Default)]
pub struct Providers {
    order: Vec<String>,
    by_id: BTreeMap<String, Arc<dyn IdentityProvider>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.order).finish()
    }
}

impl Providers {
    /// Adds a provider; a second one with the same id replaces the first.
    pub fn add(&mut self, provider: Arc<dyn IdentityProvider>) {
        let id = provider.info().id.clone();
        if self.by_id.insert(id.clone(), provider).is_none() {
            self.order.push(id);
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn IdentityProvider>> {
        self.by_id.get(id)
    }

    pub fn list(&self) -> impl Iterator<Item = &ProviderInfo> {
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id).map(|p| p.info()))
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}
