//! A client application registered with Keycard, and what an operator asks for to register one.

use super::redirect::{Use, is_https, problem};
use crate::error::{Error, Result};
use crate::tokens::TokenHash;
use time::OffsetDateTime;

/// Confidential clients (a server) keep a secret; public ones (a single-page or native app)
/// cannot, and prove themselves with PKCE alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Public,
    Confidential,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "confidential" => Some(Self::Confidential),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    /// RFC 8628, for devices without a browser or keyboard.
    DeviceCode,
    /// For the platform's back-end services, acting as themselves.
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::DeviceCode,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// The RFC name, or the device grant's short name `device_code`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "device_code" => Some(Self::DeviceCode),
            _ => Self::ALL.into_iter().find(|g| g.as_str() == s),
        }
    }
}

/// How the client's ID tokens are signed: RS256 unless it registers another (OpenID Connect
/// requires every provider to offer RS256).
pub type IdTokenAlg = crate::tokens::SigningAlg;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub kind: ClientKind,
    /// SHA-256 of the secret: a 256-bit random secret needs no slow hash. Confidential only.
    pub secret_hash: Option<TokenHash>,
    /// Compared exactly.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Receives a signed logout token when a person's session ends.
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    /// The platform's own apps: no consent screen.
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    pub enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What an operator asks for: from `keycard clients add`, a `[[clients]]` table of the settings
/// file, or the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Default: authorization code and refresh token.
    pub grant_types: Vec<GrantType>,
    /// Default: `openid profile email offline_access`.
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    pub enabled: bool,
}

impl ClientSpec {
    /// A spec with the defaults: enabled, RS256, authorization code with refresh tokens, the
    /// standard scopes.
    pub fn new(id: &str, name: &str, kind: ClientKind, redirect_uris: Vec<String>) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            logo_url: None,
            kind,
            redirect_uris,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            first_party: false,
            id_token_alg: IdTokenAlg::RS256,
            enabled: true,
        }
    }

    /// Every rule a registration must meet; the first broken one is the error.
    pub fn check(&self) -> Result<()> {
        let id_ok = (1..=64).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !id_ok {
            return Err(Error::invalid(
                "id",
                "invalid_client_id",
                "the client id is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'",
            ));
        }
        // A service's tokens name it as their subject: it must never read as a person's id.
        if uuid::Uuid::parse_str(&self.id).is_ok() {
            return Err(Error::invalid(
                "id",
                "invalid_client_id",
                "the client id must not look like a UUID (people's ids are UUIDs)",
            ));
        }
        let name = self.name.trim();
        // Bidirectional overrides and invisible characters could make the consent page name
        // another app than the one asking.
        let deceptive = |c: char| {
            c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        };
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(deceptive) {
            return Err(Error::invalid(
                "name",
                "invalid_client_name",
                "the name is 1 to 100 printable characters",
            ));
        }
        let uris = [
            ("redirect_uris", Use::Redirect, &self.redirect_uris),
            (
                "post_logout_redirect_uris",
                Use::Redirect,
                &self.post_logout_redirect_uris,
            ),
        ];
        for (field, usage, list) in uris {
            for uri in list {
                if let Some(why) = problem(uri, usage) {
                    return Err(Error::invalid(
                        field,
                        "invalid_redirect_uri",
                        format!("{uri}: {why}"),
                    ));
                }
            }
        }
        for (field, uri) in [
            ("backchannel_logout_uri", &self.backchannel_logout_uri),
            ("logo_url", &self.logo_url),
        ] {
            if let Some(uri) = uri
                && let Some(why) = problem(uri, Use::Web)
            {
                return Err(Error::invalid(
                    field,
                    "invalid_uri",
                    format!("{uri}: {why}"),
                ));
            }
        }
        if self.grant_types.is_empty() {
            return Err(Error::invalid(
                "grant_types",
                "invalid_grant_types",
                "at least one grant type",
            ));
        }
        let has = |g| self.grant_types.contains(&g);
        if has(GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(Error::invalid(
                "redirect_uris",
                "invalid_redirect_uri",
                "the authorization code grant needs at least one redirect URI",
            ));
        }
        if has(GrantType::ClientCredentials) && self.kind == ClientKind::Public {
            return Err(Error::invalid(
                "grant_types",
                "invalid_grant_types",
                "client_credentials is for confidential clients only",
            ));
        }
        if has(GrantType::RefreshToken)
            && !has(GrantType::AuthorizationCode)
            && !has(GrantType::DeviceCode)
        {
            return Err(Error::invalid(
                "grant_types",
                "invalid_grant_types",
                "refresh_token comes with authorization_code or the device grant",
            ));
        }
        let scope_ok = |s: &String| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_:.-/".contains(&b))
        };
        if self.scopes.is_empty() || !self.scopes.iter().all(scope_ok) {
            return Err(Error::invalid(
                "scopes",
                "invalid_scope",
                "at least one scope; scopes are 1 to 64 of A-Z, a-z, 0-9, '_', ':', '.', '-' and '/'",
            ));
        }
        // Skipping consent is safe only when the app is who it says: a private-use scheme or a
        // loopback port can be claimed by any app on the device (RFC 8252 §8.6).
        if self.first_party
            && self.kind == ClientKind::Public
            && !self.redirect_uris.iter().all(|u| is_https(u))
        {
            return Err(Error::invalid(
                "first_party",
                "first_party_not_verifiable",
                "a public app is first-party (no consent) only with https redirect URIs: a \
                 private-use scheme or loopback address can be claimed by any app",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ClientSpec {
        ClientSpec::new(
            "shop",
            "Storefront",
            ClientKind::Public,
            vec!["https://shop.example.com/cb".into()],
        )
    }

    fn code_of(s: &ClientSpec) -> Option<&'static str> {
        s.check().err().map(|e| e.code())
    }

    #[test]
    fn registrations_are_checked() {
        assert_eq!(code_of(&spec()), None);
        let mut s = spec();
        s.id = "shop app".into();
        assert_eq!(code_of(&s), Some("invalid_client_id"));
        s.id = "01a22f94-860b-72a9-814c-e6e374d92600".into();
        assert_eq!(code_of(&s), Some("invalid_client_id"), "a person's id");
        let mut s = spec();
        s.redirect_uris.push("http://shop.example.com/cb".into());
        assert_eq!(code_of(&s), Some("invalid_redirect_uri"));
        let mut s = spec();
        s.redirect_uris.clear();
        assert_eq!(code_of(&s), Some("invalid_redirect_uri"));
        let mut s = spec();
        s.grant_types.push(GrantType::ClientCredentials);
        assert_eq!(code_of(&s), Some("invalid_grant_types"));
        s.kind = ClientKind::Confidential;
        assert_eq!(code_of(&s), None);
        let mut s = spec();
        s.backchannel_logout_uri = Some("com.example.shop:/logout".into());
        assert_eq!(code_of(&s), Some("invalid_uri"));
        let mut s = spec();
        s.scopes.push("bad scope".into());
        assert_eq!(code_of(&s), Some("invalid_scope"));
        s.scopes.clear();
        assert_eq!(code_of(&s), Some("invalid_scope"));
        let mut s = spec();
        s.name = "Shop\u{202E}ppa live".into();
        assert_eq!(code_of(&s), Some("invalid_client_name"));
        let mut s = spec();
        s.first_party = true;
        assert_eq!(code_of(&s), None);
        s.redirect_uris.push("com.example.shop:/oauth".into());
        assert_eq!(code_of(&s), Some("first_party_not_verifiable"));
        s.kind = ClientKind::Confidential;
        assert_eq!(code_of(&s), None);
        assert_eq!(GrantType::parse("device_code"), Some(GrantType::DeviceCode));
        assert_eq!(
            GrantType::parse("urn:ietf:params:oauth:grant-type:device_code"),
            Some(GrantType::DeviceCode)
        );
        assert_eq!(
            GrantType::parse("password"),
            None,
            "the password grant is refused"
        );
    }
}
