//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1): its parameters,
//! checked in the order that decides where an error may go. Until the client and its redirect
//! URI are known to belong together, an error goes to a page of Keycard's and never to the
//! redirect URI (RFC 6749 §4.1.2.1): otherwise Keycard would be an open redirector.

use super::oauth_error::{OAuthCode, OAuthError};
use super::{Client, GrantType, redirect};
use crate::error::Error;

/// The parameters as they came, each at most once (the HTTP layer refuses repeats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub acr_values: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// What `prompt` asks for (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    /// As the client sent it (it may differ from the registered one by a loopback port).
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// The classes of sign-in the app would like, most preferred first (voluntary, OpenID
    /// Connect Core §3.1.2.1: values Keycard does not know are ignored).
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
}

impl AuthRequest {
    pub fn is_openid(&self) -> bool {
        self.scopes.iter().any(|s| s == "openid")
    }

    /// The app asked for a sign-in with two factors.
    pub fn wants_multi_factor(&self) -> bool {
        self.acr_values
            .iter()
            .any(|v| v == crate::sessions::ACR_MULTI_FACTOR)
    }
}

/// Why a request was refused, and where that may be said.
#[derive(Debug)]
pub enum Rejection {
    /// The client or its redirect URI is unknown: a page of Keycard's, never a redirect.
    Page(Error),
    /// Said to the client at its redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Longest `state` and `nonce` taken: enough for the clients that pack a whole encrypted
/// context into `state`, small enough to bound what is stored and echoed.
const MAX_OPAQUE: usize = 2048;

fn page(message: &str) -> Rejection {
    Rejection::Page(Error::invalid("request", "invalid_request", message))
}

/// Checks the client and redirect URI first (errors on a page), then everything else (errors at
/// the redirect URI).
pub(crate) fn check(
    params: &AuthorizeParams,
    client: Option<Client>,
) -> Result<AuthRequest, Rejection> {
    if params.client_id.as_deref().is_none_or(str::is_empty) {
        return Err(page("the request names no client_id"));
    }
    let Some(client) = client.filter(|c| c.enabled) else {
        return Err(Rejection::Page(Error::invalid(
            "client_id",
            "unknown_client",
            "no enabled application is registered with this client_id",
        )));
    };
    let Some(redirect_uri) = params.redirect_uri.clone() else {
        return Err(page("the request has no redirect_uri"));
    };
    if !client
        .redirect_uris
        .iter()
        .any(|r| redirect::matches(r, &redirect_uri))
    {
        return Err(Rejection::Page(Error::invalid(
            "redirect_uri",
            "unregistered_redirect_uri",
            "the redirect_uri is not one registered for this application",
        )));
    }
    let state = params.state.clone();
    let refuse = |code: OAuthCode, description: &str| Rejection::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: OAuthError::new(code, description),
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_OPAQUE) {
        return Err(refuse(OAuthCode::InvalidRequest, "state is too long"));
    }
    if params.request.is_some() {
        return Err(refuse(
            OAuthCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(refuse(
            OAuthCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(refuse(
                OAuthCode::InvalidRequest,
                "response_type is missing",
            ));
        }
        Some(_) => {
            return Err(refuse(
                OAuthCode::UnsupportedResponseType,
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return Err(refuse(
            OAuthCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(refuse(
            OAuthCode::UnauthorizedClient,
            "this application may not use the authorization code grant",
        ));
    }
    let scopes = scopes(params.scope.as_deref().unwrap_or(""));
    if scopes.is_empty() {
        return Err(refuse(OAuthCode::InvalidScope, "scope is missing"));
    }
    if let Some(s) = scopes.iter().find(|s| !client.scopes.contains(s)) {
        tracing::debug!(scope = %s, client_id = %client.id, "scope not allowed");
        return Err(refuse(
            OAuthCode::InvalidScope,
            "a requested scope is not allowed for this application",
        ));
    }
    let challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.kind == super::ClientKind::Public => {
            return Err(refuse(
                OAuthCode::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        // RFC 9700 §2.1.1: without PKCE only an OpenID Connect nonce protects the code.
        (None, None) if params.nonce.is_none() || !scopes.iter().any(|s| s == "openid") => {
            return Err(refuse(
                OAuthCode::InvalidRequest,
                "send PKCE (code_challenge, S256), or an openid request with a nonce",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(refuse(
                OAuthCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(_), m) if m != Some("S256") => {
            return Err(refuse(
                OAuthCode::InvalidRequest,
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (Some(c), _) => {
            // RFC 7636 §4.2: the base64url SHA-256 of a verifier is 43 characters.
            if c.len() != 43
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(refuse(
                    OAuthCode::InvalidRequest,
                    "code_challenge must be the 43-character base64url S256 of the verifier",
                ));
            }
            Some(c.to_owned())
        }
    };
    let nonce = params.nonce.clone();
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_OPAQUE) {
        return Err(refuse(OAuthCode::InvalidRequest, "nonce is too long"));
    }
    let mut prompt = Prompt::default();
    for p in params.prompt.as_deref().unwrap_or("").split(' ') {
        match p {
            "" => {}
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => prompt.select_account = true,
            _ => {
                return Err(refuse(OAuthCode::InvalidRequest, "unknown prompt value"));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
        return Err(refuse(
            OAuthCode::InvalidRequest,
            "prompt=none cannot be combined with another prompt value",
        ));
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(m) => match m.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return Err(refuse(
                    OAuthCode::InvalidRequest,
                    "max_age must be a non-negative number of seconds",
                ));
            }
        },
    };
    Ok(AuthRequest {
        client,
        redirect_uri,
        scopes,
        state,
        nonce,
        code_challenge: challenge,
        prompt,
        max_age,
        acr_values: params
            .acr_values
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|v| !v.is_empty() && v.len() <= MAX_OPAQUE)
            .take(10)
            .map(str::to_owned)
            .collect(),
        login_hint: params.login_hint.clone().filter(|h| h.len() <= 254),
        ui_locales: params.ui_locales.clone(),
    })
}

/// Space-separated scope values, each once, in the order given.
pub(crate) fn scopes(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::{ClientKind, IdTokenAlg};
    use time::OffsetDateTime;

    fn client(kind: ClientKind) -> Client {
        Client {
            id: "shop".into(),
            name: "Shop".into(),
            logo_url: None,
            kind,
            secret_hash: None,
            redirect_uris: vec!["https://shop.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            first_party: false,
            id_token_alg: IdTokenAlg::RS256,
            enabled: true,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some("shop".into()),
            redirect_uri: Some("https://shop.example.com/cb".into()),
            scope: Some("openid profile".into()),
            state: Some("s1".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        }
    }

    fn redirect_code(r: Result<AuthRequest, Rejection>) -> &'static str {
        match r {
            Err(Rejection::Redirect { error, state, .. }) => {
                assert_eq!(state.as_deref(), Some("s1"));
                error.code.as_str()
            }
            Err(Rejection::Page(e)) => panic!("a page, not a redirect: {e}"),
            Ok(_) => "ok",
        }
    }

    #[test]
    fn unknown_client_or_redirect_is_a_page() {
        let c = || Some(client(ClientKind::Public));
        assert!(matches!(check(&params(), None), Err(Rejection::Page(_))));
        let mut p = params();
        p.redirect_uri = Some("https://shop.example.com/cb/".into());
        assert!(matches!(check(&p, c()), Err(Rejection::Page(_))));
        p.redirect_uri = None;
        assert!(matches!(check(&p, c()), Err(Rejection::Page(_))));
        let mut disabled = client(ClientKind::Public);
        disabled.enabled = false;
        assert!(matches!(
            check(&params(), Some(disabled)),
            Err(Rejection::Page(_))
        ));
    }

    #[test]
    fn the_rest_is_said_at_the_redirect_uri() {
        let public = || Some(client(ClientKind::Public));
        assert_eq!(redirect_code(check(&params(), public())), "ok");
        let with = |f: fn(&mut AuthorizeParams)| {
            let mut p = params();
            f(&mut p);
            redirect_code(check(&p, public()))
        };
        assert_eq!(
            with(|p| p.response_type = Some("token".into())),
            "unsupported_response_type"
        );
        assert_eq!(with(|p| p.response_type = None), "invalid_request");
        assert_eq!(
            with(|p| p.scope = Some("openid admin".into())),
            "invalid_scope"
        );
        assert_eq!(with(|p| p.scope = None), "invalid_scope");
        assert_eq!(
            with(|p| p.code_challenge_method = Some("plain".into())),
            "invalid_request"
        );
        assert_eq!(with(|p| p.code_challenge_method = None), "invalid_request");
        assert_eq!(
            with(|p| {
                p.code_challenge = None;
                p.code_challenge_method = None;
            }),
            "invalid_request",
            "a public client must use PKCE"
        );
        assert_eq!(
            with(|p| p.code_challenge = Some("short".into())),
            "invalid_request"
        );
        assert_eq!(
            with(|p| p.prompt = Some("none login".into())),
            "invalid_request"
        );
        assert_eq!(with(|p| p.prompt = Some("bogus".into())), "invalid_request");
        assert_eq!(with(|p| p.max_age = Some("-1".into())), "invalid_request");
        assert_eq!(
            with(|p| p.request = Some("eyJ".into())),
            "request_not_supported"
        );
        assert_eq!(
            with(|p| p.response_mode = Some("fragment".into())),
            "invalid_request"
        );
        let mut conf = params();
        conf.code_challenge = None;
        conf.code_challenge_method = None;
        assert_eq!(
            redirect_code(check(&conf, Some(client(ClientKind::Confidential)))),
            "invalid_request",
            "without PKCE, only a nonce protects the code"
        );
        conf.nonce = Some("n".into());
        assert_eq!(
            redirect_code(check(&conf, Some(client(ClientKind::Confidential)))),
            "ok",
            "PKCE is optional for a confidential client sending a nonce"
        );
    }
}
