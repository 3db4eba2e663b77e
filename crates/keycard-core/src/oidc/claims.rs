//! What Keycard tells apps about a person: ID tokens (OpenID Connect Core §2), access tokens for
//! apps (RFC 9068 JWTs, `typ: at+jwt`, audience the app) and the claims each scope releases.

use crate::accounts::User;
use crate::tokens::SigningAlg;
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

/// The `typ` of ID tokens: plain `JWT`, as relying-party libraries expect (OpenID Connect has no
/// explicit type); access tokens' `at+jwt` keeps the two apart (RFC 8725 §3.11).
pub const ID_TOKEN_TYP: &str = "JWT";
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The person's claims a scope releases (OpenID Connect Core §5.4), in ID tokens and userinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl ProfileClaims {
    pub fn of(user: &User, scopes: &[String]) -> Self {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut c = Self::default();
        if has("profile") {
            c.name = user.name.clone();
            c.picture = user.picture_url.clone();
        }
        if has("email")
            && let Some(e) = &user.email
        {
            c.email = Some(e.as_str().to_owned());
            c.email_verified = Some(user.email_verified);
        }
        c
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    /// The sign-in's class (`urn:keycard:acr:1fa`, `urn:keycard:acr:mfa`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// The browser session the grant came from: what logout tokens name (OpenID Back-Channel
    /// Logout §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// An access token for an app (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAccessClaims {
    pub iss: String,
    /// The person, or the client itself under `client_credentials`.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    /// The browser session the grant came from, as in the ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The grant, so revoking it ends the token at once for those who ask Keycard (userinfo,
    /// introspection). Absent under `client_credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How and how strongly the person signed in, as in the ID token (absent under
    /// `client_credentials`), so an API can ask for a second factor before a sensitive action.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the hash of the access token,
/// with the hash of the ID token's algorithm (SHA-512 for Ed25519).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let h = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => &digest::SHA256,
        SigningAlg::EdDSA => &digest::SHA512,
    };
    let d = digest::digest(h, access_token.as_bytes());
    let bytes = d.as_ref();
    B64.encode(&bytes[..bytes.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_follows_the_spec_example() {
        // OpenID Connect Core, Appendix A.3 (RS256).
        assert_eq!(
            at_hash(
                SigningAlg::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(SigningAlg::EdDSA, "x").len(), 43);
    }
}
