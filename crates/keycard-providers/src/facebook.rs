//! Facebook Login (plain OAuth 2.0): the person is read from the Graph API's `/me`.

use crate::http::call_json;
use crate::oauth2::{ClientAuth, OAuth2, OAuth2Config};
use async_trait::async_trait;
use keycard_core::social::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderInfo, ProviderProfile,
};
use serde::Deserialize;

pub struct FacebookProvider {
    oauth: OAuth2,
}

impl std::fmt::Debug for FacebookProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookProvider")
            .field("id", &self.oauth.id())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Me {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    picture: Option<Picture>,
}

#[derive(Deserialize)]
struct Picture {
    data: PictureData,
}

#[derive(Deserialize)]
struct PictureData {
    #[serde(default)]
    url: Option<String>,
    /// Facebook's placeholder for "no picture".
    #[serde(default)]
    is_silhouette: bool,
}

impl FacebookProvider {
    /// Facebook Login is not OpenID Connect here, so there is no issuer to read: this names the
    /// provider instead. Identities are keyed by (issuer, subject), so it must never change, not
    /// even when the endpoints point at a test double.
    pub const ISSUER: &'static str = "https://www.facebook.com";

    /// `config` from [`OAuth2Config::facebook`].
    pub fn new(config: OAuth2Config, http: reqwest::Client) -> Self {
        Self {
            oauth: OAuth2::new(config, http, ClientAuth::Form),
        }
    }
}

#[async_trait]
impl IdentityProvider for FacebookProvider {
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
        let fields = [("fields", "id,name,email,picture")];
        let request = self.oauth.api_get("/me", &fields, token.secret())?;
        let me: Me = call_json(self.oauth.id(), "profile", request).await?;
        if me.id.is_empty() {
            return Err(ProviderError::Rejected("profile: no id".into()));
        }
        let email = me.email.filter(|e| !e.is_empty());
        Ok(ProviderProfile {
            subject: me.id,
            // Facebook sends no `email_verified`: it hands out only an address the person has
            // confirmed, and none at all otherwise, so one that is there is verified.
            email_verified: email.is_some(),
            email,
            name: me.name.filter(|n| !n.is_empty()),
            picture_url: me
                .picture
                .map(|p| p.data)
                .filter(|d| !d.is_silhouette)
                .and_then(|d| d.url),
        })
    }
}
