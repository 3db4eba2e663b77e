//! OpenID Connect (authorization code flow with PKCE and nonce): Google with its endpoints built
//! in, and any provider by its issuer through discovery. The ID token is verified against the
//! provider's JWKS (cached, fetched again on an unknown `kid`, at most once a minute).

use crate::http::{call_json, form_encode};
use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keycard_core::social::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderInfo, ProviderProfile,
};
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// Signature algorithms accepted on ID tokens. Never `none`, never HMAC: with a public key as
/// the HMAC secret anyone could sign (RFC 8725 §2.1, §3.1).
const ACCEPTED_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 60;
/// An unknown `kid` re-reads the JWKS at most this often, so forged tokens cannot make Keycard
/// hammer the provider.
const JWKS_REFETCH_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: String,
    /// From discovery's `id_token_signing_alg_values_supported` (RS256 when absent).
    pub algorithms: Vec<Algorithm>,
}

impl Endpoints {
    /// Google's, so a sign-in starts without a discovery round trip.
    pub fn google() -> Self {
        Self {
            authorization: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token: "https://oauth2.googleapis.com/token".into(),
            userinfo: Some("https://openidconnect.googleapis.com/v1/userinfo".into()),
            jwks: "https://www.googleapis.com/oauth2/v3/certs".into(),
            algorithms: vec![Algorithm::RS256],
        }
    }
}

/// How Keycard proves itself at the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// `client_secret_basic` with a shared secret.
    SecretBasic(String),
    /// `client_secret_post` with a short-lived ES256 JWT (Sign in with Apple).
    AppleJwt(crate::apple::AppleKey),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        f.write_str(match self {
            Self::SecretBasic(_) => "SecretBasic",
            Self::AppleJwt(_) => "AppleJwt",
        })
    }
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub info: ProviderInfo,
    /// Exactly as the provider writes it in `iss`.
    pub issuer: String,
    /// Other spellings of the same issuer in ID tokens (Google also writes `accounts.google.com`).
    pub issuer_aliases: Vec<String>,
    pub client_id: String,
    pub client_auth: ClientAuth,
    pub scopes: String,
    /// Known endpoints; `None` reads them from `{issuer}/.well-known/openid-configuration`.
    pub endpoints: Option<Endpoints>,
    /// `form_post` for Apple, which sends the code back in a POST; `None`: the query.
    pub response_mode: Option<&'static str>,
    /// Whether the provider takes PKCE (Apple documents none; the nonce binds its code).
    pub pkce: bool,
}

impl OidcConfig {
    pub const GOOGLE_ISSUER: &'static str = "https://accounts.google.com";

    /// Google: built-in endpoints for Google's own issuer, discovery for any other (a stand-in).
    pub fn google(client_id: String, client_secret: String, issuer: Option<String>) -> Self {
        let issuer = issuer
            .map(|i| i.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| Self::GOOGLE_ISSUER.to_owned());
        let builtin = issuer == Self::GOOGLE_ISSUER;
        Self {
            info: ProviderInfo {
                id: "google".into(),
                name: "Google".into(),
                icon: "google".into(),
            },
            issuer_aliases: if builtin {
                vec!["accounts.google.com".into()]
            } else {
                Vec::new()
            },
            endpoints: builtin.then(Endpoints::google),
            issuer,
            client_id,
            client_auth: ClientAuth::SecretBasic(client_secret),
            scopes: "openid email profile".into(),
            response_mode: None,
            pkce: true,
        }
    }

    /// Any OpenID Connect provider, by its issuer alone.
    pub fn generic(
        id: String,
        name: String,
        issuer: String,
        client_id: String,
        client_secret: String,
    ) -> Self {
        Self {
            info: ProviderInfo {
                id,
                name,
                icon: "openid".into(),
            },
            issuer: issuer.trim_end_matches('/').to_owned(),
            issuer_aliases: Vec::new(),
            client_id,
            client_auth: ClientAuth::SecretBasic(client_secret),
            scopes: "openid email profile".into(),
            endpoints: None,
            response_mode: None,
            pkce: true,
        }
    }
}

struct Keys {
    set: JwkSet,
    fetched: Option<Instant>,
}

pub struct OidcProvider {
    config: OidcConfig,
    http: reqwest::Client,
    endpoints: RwLock<Option<Endpoints>>,
    keys: RwLock<Keys>,
    /// One JWKS fetch at a time.
    fetching: Mutex<()>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("id", &self.config.info.id)
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: Option<String>,
}

/// The claims read from an ID token (or userinfo). Types are loose where providers differ
/// (`email_verified` as a string; `aud` as one string or a list).
#[derive(Deserialize, Default)]
struct Claims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Value,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true)) || v.as_str() == Some("true")
}

fn rejected(why: impl Into<String>) -> ProviderError {
    ProviderError::Rejected(why.into())
}

impl OidcProvider {
    pub fn new(config: OidcConfig, http: reqwest::Client) -> Self {
        Self {
            endpoints: RwLock::new(config.endpoints.clone()),
            config,
            http,
            keys: RwLock::new(Keys {
                set: JwkSet { keys: Vec::new() },
                fetched: None,
            }),
            fetching: Mutex::new(()),
        }
    }

    fn id(&self) -> &str {
        &self.config.info.id
    }

    /// The endpoints, read from discovery the first time they are needed (and again after a
    /// failed read). The document must name exactly the configured issuer (Discovery §4.3).
    async fn endpoints(&self) -> Result<Endpoints, ProviderError> {
        if let Some(e) = self.endpoints.read().await.as_ref() {
            return Ok(e.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let d: Discovery = call_json(self.id(), "discovery", self.http.get(&url)).await?;
        if d.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(rejected(format!(
                "discovery names issuer {} instead of {}",
                d.issuer, self.config.issuer
            )));
        }
        let mut algorithms: Vec<Algorithm> = d
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|a| a.parse().ok())
            .filter(|a| ACCEPTED_ALGS.contains(a))
            .collect();
        if algorithms.is_empty() {
            algorithms.push(Algorithm::RS256);
        }
        let e = Endpoints {
            authorization: d.authorization_endpoint,
            token: d.token_endpoint,
            userinfo: d.userinfo_endpoint,
            jwks: d.jwks_uri,
            algorithms,
        };
        *self.endpoints.write().await = Some(e.clone());
        Ok(e)
    }

    /// The key named `kid`, fetching the JWKS when it is unknown (rate-limited).
    async fn key(
        &self,
        jwks_uri: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, ProviderError> {
        if let Some(k) = self.find_key(kid, alg).await? {
            return Ok(k);
        }
        let _one = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        let recent = self
            .keys
            .read()
            .await
            .fetched
            .is_some_and(|t| t.elapsed() < JWKS_REFETCH_EVERY);
        if !recent {
            let set: JwkSet = call_json(self.id(), "jwks", self.http.get(jwks_uri)).await?;
            *self.keys.write().await = Keys {
                set,
                fetched: Some(Instant::now()),
            };
        }
        self.find_key(kid, alg)
            .await?
            .ok_or_else(|| rejected("no key in the provider's JWKS matches the ID token"))
    }

    async fn find_key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<DecodingKey>, ProviderError> {
        let keys = self.keys.read().await;
        let jwk = match kid {
            Some(kid) => keys.set.find(kid),
            // Without a kid, only an unambiguous set will do.
            None if keys.set.keys.len() == 1 => keys.set.keys.first(),
            None => None,
        };
        let Some(jwk) = jwk else { return Ok(None) };
        if let Some(key_alg) = jwk.common.key_algorithm
            && key_alg.to_string() != format!("{alg:?}")
        {
            return Err(rejected("the ID token's algorithm is not its key's"));
        }
        DecodingKey::from_jwk(jwk)
            .map(Some)
            .map_err(|e| rejected(format!("unusable JWK: {e}")))
    }

    /// Verifies signature, issuer, audience, lifetime and nonce (OpenID Connect Core §3.1.3.7).
    async fn verify_id_token(
        &self,
        token: &str,
        endpoints: &Endpoints,
        nonce: &str,
    ) -> Result<Claims, ProviderError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| rejected(format!("ID token header: {e}")))?;
        if !endpoints.algorithms.contains(&header.alg) || !ACCEPTED_ALGS.contains(&header.alg) {
            return Err(rejected(format!(
                "ID token signed with {:?}, not an expected algorithm",
                header.alg
            )));
        }
        let key = self
            .key(&endpoints.jwks, header.kid.as_deref(), header.alg)
            .await?;
        let mut v = Validation::new(header.alg);
        v.leeway = LEEWAY_SECS;
        let mut issuers = vec![self.config.issuer.clone()];
        issuers.extend(self.config.issuer_aliases.iter().cloned());
        v.set_issuer(&issuers);
        v.set_audience(&[&self.config.client_id]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &v)
            .map_err(|e| rejected(format!("ID token: {e}")))?
            .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(rejected("ID token nonce differs from the one sent"));
        }
        // With several audiences the token must say it was issued to us (Core §3.1.3.7 4-5).
        if claims.aud.as_array().is_some_and(|a| a.len() > 1)
            && claims.azp.as_deref() != Some(self.config.client_id.as_str())
        {
            return Err(rejected("ID token for several audiences without our azp"));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS as i64) {
            return Err(rejected("ID token issued in the future"));
        }
        if claims.sub.is_empty() {
            return Err(rejected("ID token without a subject"));
        }
        Ok(claims)
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn info(&self) -> &ProviderInfo {
        &self.config.info
    }

    fn issuer(&self) -> &str {
        &self.config.issuer
    }

    fn answers_by_post(&self) -> bool {
        self.config.response_mode == Some("form_post")
    }

    async fn authorization_url(&self, a: &Authorization<'_>) -> Result<String, ProviderError> {
        let e = self.endpoints().await?;
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", a.redirect_uri),
            ("scope", self.config.scopes.as_str()),
            ("state", a.state),
            ("nonce", a.nonce),
        ];
        if self.config.pkce {
            params.push(("code_challenge", a.pkce_challenge));
            params.push(("code_challenge_method", "S256"));
        }
        if let Some(mode) = self.config.response_mode {
            params.push(("response_mode", mode));
        }
        let mut url =
            reqwest::Url::parse_with_params(&e.authorization, &params).map_err(|err| {
                rejected(format!("authorization endpoint {}: {err}", e.authorization))
            })?;
        // Spaces as %20, not form encoding's `+`: the same to any query parser, and Apple's
        // sign-in sheet has been seen to read `name+email` as one unknown scope. A literal `+`
        // was encoded as %2B, so every `+` here is a space.
        if let Some(q) = url.query().map(|q| q.replace('+', "%20")) {
            url.set_query(Some(&q));
        }
        Ok(url.into())
    }

    async fn finish(&self, c: &Callback<'_>) -> Result<ProviderProfile, ProviderError> {
        let e = self.endpoints().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", c.code),
            ("redirect_uri", c.redirect_uri),
        ];
        if self.config.pkce {
            form.push(("code_verifier", c.pkce_verifier));
        }
        let request = self.http.post(&e.token);
        let apple_secret;
        let request = match &self.config.client_auth {
            ClientAuth::SecretBasic(secret) => request.basic_auth(
                form_encode(&self.config.client_id),
                Some(form_encode(secret)),
            ),
            ClientAuth::AppleJwt(key) => {
                apple_secret = key.client_secret(&self.config.client_id, &self.config.issuer)?;
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", &apple_secret));
                request
            }
        };
        let tokens: TokenResponse = call_json(self.id(), "token", request.form(&form)).await?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| rejected("the token response has no ID token"))?;
        let mut claims = self.verify_id_token(&id_token, &e, c.nonce).await?;
        // Some providers keep the ID token lean: ask userinfo for what it left out.
        if (claims.email.is_none() || claims.name.is_none())
            && let Some(userinfo) = &e.userinfo
        {
            let more: Claims = call_json(
                self.id(),
                "userinfo",
                self.http.get(userinfo).bearer_auth(&tokens.access_token),
            )
            .await?;
            // Core §5.3.2: a userinfo answer about someone else must not be used.
            if more.sub != claims.sub {
                return Err(rejected("userinfo is about another subject"));
            }
            if claims.email.is_none() {
                claims.email = more.email;
                claims.email_verified = more.email_verified;
            }
            claims.name = claims.name.or(more.name);
            claims.picture = claims.picture.or(more.picture);
        }
        Ok(ProviderProfile {
            email_verified: claims.email.is_some() && truthy(&claims.email_verified),
            subject: claims.sub,
            email: claims.email,
            name: claims.name,
            picture_url: claims.picture,
        })
    }
}
