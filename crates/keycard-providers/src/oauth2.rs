//! What plain OAuth 2.0 providers (Facebook, GitHub, X) share: the authorization URL and the
//! code exchange (RFC 6749 authorization code with RFC 7636 PKCE, always S256). Nothing here is
//! signed, so there is no ID token to verify: who the person is comes from the provider's API,
//! called with the access token, which is each provider's own module.

use crate::http::{call_json, form_encode};
use keycard_core::social::{Authorization, Callback, ProviderError, ProviderInfo};
use serde::Deserialize;

/// Where a provider is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Endpoints {
    pub authorization: String,
    pub token: String,
    /// The API's base, without a trailing slash: the profile calls append their paths.
    pub api: String,
}

impl OAuth2Endpoints {
    /// The Graph API version is part of every Facebook URL; one version for all three.
    pub fn facebook() -> Self {
        Self {
            authorization: "https://www.facebook.com/v19.0/dialog/oauth".into(),
            token: "https://graph.facebook.com/v19.0/oauth/access_token".into(),
            api: "https://graph.facebook.com/v19.0".into(),
        }
    }

    pub fn github() -> Self {
        Self {
            authorization: "https://github.com/login/oauth/authorize".into(),
            token: "https://github.com/login/oauth/access_token".into(),
            api: "https://api.github.com".into(),
        }
    }

    pub fn x() -> Self {
        Self {
            authorization: "https://x.com/i/oauth2/authorize".into(),
            token: "https://api.x.com/2/oauth2/token".into(),
            api: "https://api.x.com/2".into(),
        }
    }

    /// These endpoints with the overridden ones replaced.
    pub fn with(self, overrides: EndpointOverrides) -> Self {
        Self {
            authorization: overrides.authorization.unwrap_or(self.authorization),
            token: overrides.token.unwrap_or(self.token),
            api: overrides
                .api
                .map(|a| a.trim_end_matches('/').to_owned())
                .unwrap_or(self.api),
        }
    }
}

/// Endpoints to use instead of the real provider's (a test double, a proxy); `None` keeps the
/// real one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub authorization: Option<String>,
    pub token: Option<String>,
    pub api: Option<String>,
}

#[derive(Clone)]
pub struct OAuth2Config {
    pub info: ProviderInfo,
    pub client_id: String,
    pub client_secret: String,
    /// As the provider separates them (all three accept spaces).
    pub scopes: String,
    pub endpoints: OAuth2Endpoints,
}

impl std::fmt::Debug for OAuth2Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Config")
            .field("info", &self.info)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl OAuth2Config {
    fn new(
        (id, name): (&str, &str),
        client_id: String,
        client_secret: String,
        scopes: &str,
        endpoints: OAuth2Endpoints,
    ) -> Self {
        Self {
            info: ProviderInfo {
                id: id.into(),
                name: name.into(),
                icon: id.into(),
            },
            client_id,
            client_secret,
            scopes: scopes.into(),
            endpoints,
        }
    }

    /// Facebook Login: `public_profile` (id, name, picture) and `email`.
    pub fn facebook(
        client_id: String,
        client_secret: String,
        overrides: EndpointOverrides,
    ) -> Self {
        Self::new(
            ("facebook", "Facebook"),
            client_id,
            client_secret,
            "email public_profile",
            OAuth2Endpoints::facebook().with(overrides),
        )
    }

    /// A GitHub OAuth app: the profile, and the addresses with whether each is verified.
    pub fn github(client_id: String, client_secret: String, overrides: EndpointOverrides) -> Self {
        Self::new(
            ("github", "GitHub"),
            client_id,
            client_secret,
            "read:user user:email",
            OAuth2Endpoints::github().with(overrides),
        )
    }

    /// An X app registered as a confidential client: `users.read` needs `tweet.read` beside it.
    /// No `offline.access`: Keycard keeps no token to refresh.
    pub fn x(client_id: String, client_secret: String, overrides: EndpointOverrides) -> Self {
        Self::new(
            ("x", "X"),
            client_id,
            client_secret,
            "users.read tweet.read",
            OAuth2Endpoints::x().with(overrides),
        )
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `client_id` and `client_secret` in the form (Facebook and GitHub document only this).
    Form,
    /// HTTP Basic (X requires it of confidential clients).
    Basic,
}

/// An access token, used for the profile calls of one sign-in and dropped: neither `Debug` nor
/// `Display`, so it cannot end up in a log line.
pub(crate) struct AccessToken(String);

impl AccessToken {
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

/// Loose on purpose: GitHub answers a refused code with HTTP 200 and only `error`, so a missing
/// `access_token` must be told apart from a malformed body.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    error: Option<String>,
}

/// The shared half of a plain OAuth 2.0 adapter.
pub(crate) struct OAuth2 {
    config: OAuth2Config,
    http: reqwest::Client,
    client_auth: ClientAuth,
}

impl OAuth2 {
    pub(crate) fn new(
        config: OAuth2Config,
        http: reqwest::Client,
        client_auth: ClientAuth,
    ) -> Self {
        Self {
            config,
            http,
            client_auth,
        }
    }

    pub(crate) fn info(&self) -> &ProviderInfo {
        &self.config.info
    }

    pub(crate) fn id(&self) -> &str {
        &self.config.info.id
    }

    /// `{api}{path}?{query}`.
    pub(crate) fn api_url(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<reqwest::Url, ProviderError> {
        let url = format!("{}{path}", self.config.endpoints.api);
        // Not `parse_with_params` for an empty query: it would leave a bare `?`.
        let parsed = if query.is_empty() {
            reqwest::Url::parse(&url)
        } else {
            reqwest::Url::parse_with_params(&url, query)
        };
        parsed.map_err(|e| ProviderError::Rejected(format!("API endpoint {url}: {e}")))
    }

    /// A GET of the provider's API at `path`, on behalf of the person the token stands for.
    pub(crate) fn api_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        token: &str,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        Ok(self.http.get(self.api_url(path, query)?).bearer_auth(token))
    }

    /// The nonce stays out: plain OAuth 2.0 has nowhere to send it back.
    pub(crate) fn authorization_url(&self, a: &Authorization<'_>) -> Result<String, ProviderError> {
        let endpoint = &self.config.endpoints.authorization;
        let url = reqwest::Url::parse_with_params(
            endpoint,
            &[
                ("response_type", "code"),
                ("client_id", self.config.client_id.as_str()),
                ("redirect_uri", a.redirect_uri),
                ("scope", self.config.scopes.as_str()),
                ("state", a.state),
                ("code_challenge", a.pkce_challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .map_err(|e| ProviderError::Rejected(format!("authorization endpoint {endpoint}: {e}")))?;
        Ok(url.into())
    }

    /// Redeems the code. `Accept: application/json` because GitHub otherwise answers in form
    /// encoding.
    pub(crate) async fn exchange(&self, c: &Callback<'_>) -> Result<AccessToken, ProviderError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", c.code),
            ("redirect_uri", c.redirect_uri),
            ("code_verifier", c.pkce_verifier),
        ];
        let mut request = self
            .http
            .post(&self.config.endpoints.token)
            .header(reqwest::header::ACCEPT, "application/json");
        match self.client_auth {
            ClientAuth::Form => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", &self.config.client_secret));
            }
            ClientAuth::Basic => {
                request = request.basic_auth(
                    form_encode(&self.config.client_id),
                    Some(form_encode(&self.config.client_secret)),
                );
            }
        }
        let answer: TokenAnswer = call_json(self.id(), "token", request.form(&form)).await?;
        if let Some(error) = answer.error {
            return Err(ProviderError::Rejected(format!("token: {error}")));
        }
        if let Some(t) = answer
            .token_type
            .filter(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(ProviderError::Rejected(format!(
                "token: a {t} token, not a bearer token"
            )));
        }
        answer
            .access_token
            .filter(|t| !t.is_empty())
            .map(AccessToken)
            .ok_or_else(|| ProviderError::Rejected("token: no access token".into()))
    }
}
