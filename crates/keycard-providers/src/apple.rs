//! Sign in with Apple: OpenID Connect with Apple's endpoints built in, two differences from
//! the others. The client secret is a short-lived ES256 JWT Keycard signs with the team's key
//! (the `.p8` file), and the answer comes back as a `form_post` whose `user` field carries the
//! person's name on their first sign-in only (the ID token never has it).

use crate::oidc::{ClientAuth, Endpoints, OidcConfig, OidcProvider};
use async_trait::async_trait;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keycard_core::social::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderInfo, ProviderProfile,
};
use serde::{Deserialize, Serialize};

pub const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// How long each client secret is good for. Apple allows six months; one is signed per token
/// request, so minutes are plenty and a leaked one is soon worthless.
const SECRET_LIFETIME_SECS: u64 = 300;

impl Endpoints {
    /// Apple's, so a sign-in starts without a discovery round trip.
    pub fn apple() -> Self {
        Self {
            authorization: format!("{APPLE_ISSUER}/auth/authorize"),
            token: format!("{APPLE_ISSUER}/auth/token"),
            userinfo: None,
            jwks: format!("{APPLE_ISSUER}/auth/keys"),
            algorithms: vec![Algorithm::RS256],
        }
    }
}

/// The team's signing key: what makes Keycard's client secrets.
#[derive(Clone)]
pub struct AppleKey {
    team_id: String,
    key_id: String,
    key: EncodingKey,
}

#[derive(Debug, thiserror::Error)]
#[error("the Apple private key is not a PKCS#8 PEM P-256 key (the .p8 file Apple gives): {0}")]
pub struct AppleKeyError(String);

#[derive(Serialize)]
struct SecretClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl AppleKey {
    /// `pem`: the `.p8` file's text; `\n` escapes (as one-line environment variables carry
    /// it) are read as line breaks.
    pub fn new(team_id: String, key_id: String, pem: &str) -> Result<Self, AppleKeyError> {
        let pem = pem.trim().replace("\\n", "\n");
        let body: String = pem
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| AppleKeyError(e.to_string()))?;
        if der.is_empty() {
            return Err(AppleKeyError("no BEGIN PRIVATE KEY block".into()));
        }
        let key = EncodingKey::from_ec_der(&der);
        let this = Self {
            team_id,
            key_id,
            key,
        };
        // A key that parses but cannot sign (another curve) fails here, at start-up.
        this.client_secret("check", APPLE_ISSUER)
            .map_err(|e| AppleKeyError(e.to_string()))?;
        Ok(this)
    }

    /// The client secret for one token request: `iss` the team, `sub` the services id, `aud`
    /// Apple's issuer.
    pub fn client_secret(&self, client_id: &str, audience: &str) -> Result<String, ProviderError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        // Issued a minute early, so a clock a little ahead of Apple's is no "not yet valid".
        let claims = SecretClaims {
            iss: &self.team_id,
            sub: client_id,
            aud: audience,
            iat: now.saturating_sub(60),
            exp: now + SECRET_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| ProviderError::Rejected(format!("signing the Apple client secret: {e}")))
    }
}

#[derive(Clone)]
pub struct AppleConfig {
    /// The Services ID.
    pub client_id: String,
    pub key: AppleKey,
    /// Another issuer than Apple's own (a stand-in), read by discovery.
    pub issuer: Option<String>,
}

pub struct AppleProvider {
    inner: OidcProvider,
}

impl std::fmt::Debug for AppleProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleProvider").finish_non_exhaustive()
    }
}

impl AppleProvider {
    pub fn new(config: AppleConfig, http: reqwest::Client) -> Self {
        let issuer = config
            .issuer
            .map(|i| i.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| APPLE_ISSUER.to_owned());
        let builtin = issuer == APPLE_ISSUER;
        let oidc = OidcConfig {
            info: ProviderInfo {
                id: "apple".into(),
                name: "Apple".into(),
                icon: "apple".into(),
            },
            issuer,
            issuer_aliases: Vec::new(),
            client_id: config.client_id,
            client_auth: ClientAuth::AppleJwt(config.key),
            // Apple knows no `profile`: the name comes with the `name` scope, in the form.
            scopes: "name email".into(),
            endpoints: builtin.then(Endpoints::apple),
            // Apple requires form_post whenever name or email is asked for.
            response_mode: Some("form_post"),
            pkce: false,
        };
        Self {
            inner: OidcProvider::new(oidc, http),
        }
    }
}

#[derive(Deserialize)]
struct FormUser {
    #[serde(default)]
    name: Option<FormName>,
}

#[derive(Deserialize)]
struct FormName {
    #[serde(default, rename = "firstName")]
    first: Option<String>,
    #[serde(default, rename = "lastName")]
    last: Option<String>,
}

/// The name in Apple's `user` field, if it holds one. The field is not signed: it only ever
/// fills the display name of the identity it arrived with.
fn name_from_form(user: &str) -> Option<String> {
    let parsed: FormUser = serde_json::from_str(user).ok()?;
    let n = parsed.name?;
    let name = [n.first, n.last]
        .into_iter()
        .flatten()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    (!name.is_empty()).then_some(name)
}

#[async_trait]
impl IdentityProvider for AppleProvider {
    fn info(&self) -> &ProviderInfo {
        self.inner.info()
    }

    fn issuer(&self) -> &str {
        self.inner.issuer()
    }

    fn answers_by_post(&self) -> bool {
        self.inner.answers_by_post()
    }

    async fn authorization_url(&self, a: &Authorization<'_>) -> Result<String, ProviderError> {
        self.inner.authorization_url(a).await
    }

    async fn finish(&self, c: &Callback<'_>) -> Result<ProviderProfile, ProviderError> {
        let mut profile = self.inner.finish(c).await?;
        if profile.name.is_none() {
            profile.name = c.user.and_then(name_from_form);
        }
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_comes_from_the_first_sign_ins_form() {
        assert_eq!(
            name_from_form(r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"a@b.c"}"#)
                .as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            name_from_form(r#"{"name":{"firstName":" Ada "}}"#).as_deref(),
            Some("Ada")
        );
        assert_eq!(name_from_form(r#"{"email":"a@b.c"}"#), None);
        assert_eq!(name_from_form("not json"), None);
        assert_eq!(
            name_from_form(r#"{"name":{"firstName":"","lastName":""}}"#),
            None
        );
    }

    #[test]
    fn a_key_that_is_not_a_p256_pkcs8_pem_is_refused() {
        assert!(AppleKey::new("T".into(), "K".into(), "not a key").is_err());
        let demo = include_str!("../../keycard-mock-idp/apple-demo-key.p8");
        assert!(AppleKey::new("T".into(), "K".into(), demo).is_ok());
        // As a one-line environment variable carries it.
        assert!(AppleKey::new("T".into(), "K".into(), &demo.replace('\n', "\\n")).is_ok());
    }
}
