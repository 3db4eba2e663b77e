//! X, formerly Twitter (OAuth 2.0 with PKCE, as a confidential client): the person from
//! `/2/users/me`. X shares no email address, so a sign-in with X alone cannot create an account
//! that needs one; it can still be linked to an existing account.

use crate::http::call_json;
use crate::oauth2::{ClientAuth, OAuth2, OAuth2Config};
use async_trait::async_trait;
use keycard_core::social::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderInfo, ProviderProfile,
};
use serde::Deserialize;

pub struct XProvider {
    oauth: OAuth2,
}

impl std::fmt::Debug for XProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XProvider")
            .field("id", &self.oauth.id())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Me {
    data: User,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    profile_image_url: Option<String>,
}

impl XProvider {
    /// X's OAuth 2.0 is not OpenID Connect, so there is no issuer to read: this names the
    /// provider instead. Identities are keyed by (issuer, subject), so it must never change, not
    /// even when the endpoints point at a test double.
    pub const ISSUER: &'static str = "https://x.com";

    /// `config` from [`OAuth2Config::x`].
    pub fn new(config: OAuth2Config, http: reqwest::Client) -> Self {
        Self {
            oauth: OAuth2::new(config, http, ClientAuth::Basic),
        }
    }
}

#[async_trait]
impl IdentityProvider for XProvider {
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
        let fields = [("user.fields", "profile_image_url")];
        let request = self.oauth.api_get("/users/me", &fields, token.secret())?;
        let me: Me = call_json(self.oauth.id(), "profile", request).await?;
        let user = me.data;
        if user.id.is_empty() {
            return Err(ProviderError::Rejected("profile: no id".into()));
        }
        Ok(ProviderProfile {
            subject: user.id,
            email: None,
            email_verified: false,
            name: user
                .name
                .filter(|n| !n.is_empty())
                .or(user.username.filter(|u| !u.is_empty())),
            picture_url: user.profile_image_url.filter(|u| !u.is_empty()),
        })
    }
}
