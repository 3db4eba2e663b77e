//! GitHub (an OAuth app, plain OAuth 2.0): the person from `/user`, the address from
//! `/user/emails`, the only place GitHub says whether an address is verified.

use crate::http::call_json;
use crate::oauth2::{ClientAuth, OAuth2, OAuth2Config};
use async_trait::async_trait;
use keycard_core::social::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderInfo, ProviderProfile,
};
use reqwest::header::{ACCEPT, USER_AGENT};
use serde::Deserialize;

/// The REST API version the answers below are read as.
const API_VERSION: &str = "2022-11-28";

pub struct GitHubProvider {
    oauth: OAuth2,
}

impl std::fmt::Debug for GitHubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubProvider")
            .field("id", &self.oauth.id())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GitHubProvider {
    /// GitHub OAuth apps are not OpenID Connect, so there is no issuer to read: this names the
    /// provider instead. Identities are keyed by (issuer, subject), so it must never change, not
    /// even when the endpoints point at a test double.
    pub const ISSUER: &'static str = "https://github.com";

    /// `config` from [`OAuth2Config::github`].
    pub fn new(config: OAuth2Config, http: reqwest::Client) -> Self {
        Self {
            oauth: OAuth2::new(config, http, ClientAuth::Form),
        }
    }

    /// GitHub refuses API calls without a `User-Agent` (403), so one is sent even if the client
    /// was built without a default.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        token: &str,
    ) -> Result<T, ProviderError> {
        let request = self
            .oauth
            .api_get(path, &[], token)?
            .header(USER_AGENT, concat!("keycard/", env!("CARGO_PKG_VERSION")))
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION);
        call_json(self.oauth.id(), call, request).await
    }
}

#[async_trait]
impl IdentityProvider for GitHubProvider {
    fn info(&self) -> &ProviderInfo {
        self.oauth.info()
    }

    fn issuer(&self) -> &str {
        Self::ISSUER
    }

    async fn authorization_url(&self, a: &Authorization<'_>) -> Result<String, ProviderError> {
        self.oauth.authorization_url(a)
    }

    async fn finish(&self, c: &Callback<'_>) -> Result<ProviderProfile, ProviderError> {
        let token = self.oauth.exchange(c).await?;
        let user: User = self.get("profile", "/user", token.secret()).await?;
        let emails: Vec<Email> = self.get("emails", "/user/emails", token.secret()).await?;
        // The primary address, and only if verified: `/user`'s `email` says nothing about
        // verification, and a secondary address (the noreply one among them) is not where the
        // person reads their mail.
        let email = emails
            .into_iter()
            .find(|e| e.primary && e.verified && !e.email.is_empty())
            .map(|e| e.email);
        Ok(ProviderProfile {
            // The numeric id, not the login: logins can be renamed and then taken by someone else.
            subject: user.id.to_string(),
            email_verified: email.is_some(),
            email,
            name: user.name.filter(|n| !n.is_empty()).or(Some(user.login)),
            picture_url: user.avatar_url.filter(|u| !u.is_empty()),
        })
    }
}
