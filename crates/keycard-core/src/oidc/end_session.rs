//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an app sends the person here to
//! sign out, naming itself with `id_token_hint` (an ID token Keycard gave it, expired or not)
//! or `client_id`, and where to come back: a post-logout redirect URI it registered.

use super::Client;
use super::claims::{ID_TOKEN_TYP, IdTokenClaims};
use super::provider::{Provider, answer_url_plain};
use crate::error::{Error, Result};
use crate::tokens::SigningAlg;
use jsonwebtoken::{Algorithm, Validation};

/// A checked logout request.
#[derive(Debug, Clone)]
pub struct EndSession {
    pub client: Option<Client>,
    /// Where to send the person afterwards, `state` included.
    pub redirect: Option<String>,
    /// The sign-in (`sid`) and person (`sub`) of the hint, when one was given.
    pub hinted_sid: Option<String>,
    pub hinted_sub: Option<String>,
}

fn bad(field: &'static str, why: &str) -> Error {
    Error::invalid(field, "invalid_logout_request", why)
}

impl Provider<'_> {
    /// Checks the parameters of a logout request. Anything wrong is said on a page: the
    /// redirect is only ever a URI the app registered for this.
    pub async fn end_session(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<EndSession> {
        let hint = match id_token_hint {
            Some(t) => Some(self.read_id_token_hint(t)?),
            None => None,
        };
        let named = match (hint.as_ref().map(|h| h.aud.as_str()), client_id) {
            (Some(a), Some(c)) if a != c => {
                return Err(bad(
                    "client_id",
                    "client_id is not the id_token_hint's audience",
                ));
            }
            (Some(a), _) => Some(a.to_owned()),
            (None, c) => c.map(str::to_owned),
        };
        let client = match &named {
            Some(id) => Some(
                self.kc
                    .store()
                    .find_client(id)
                    .await?
                    .filter(|c| c.enabled)
                    .ok_or_else(|| bad("client_id", "no enabled application has this id"))?,
            ),
            None => None,
        };
        let redirect = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let Some(c) = &client else {
                    return Err(bad(
                        "post_logout_redirect_uri",
                        "a post-logout redirect needs the app: send id_token_hint or client_id",
                    ));
                };
                if !c.post_logout_redirect_uris.iter().any(|r| r == uri) {
                    return Err(bad(
                        "post_logout_redirect_uri",
                        "this post-logout redirect URI is not registered for the app",
                    ));
                }
                let params: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
                Some(answer_url_plain(uri, &params))
            }
        };
        Ok(EndSession {
            client,
            redirect,
            hinted_sid: hint.as_ref().and_then(|h| h.sid.clone()),
            hinted_sub: hint.map(|h| h.sub),
        })
    }

    /// An ID token Keycard issued, checked for everything but its expiry (RP-Initiated Logout
    /// §2: the hint may have expired).
    fn read_id_token_hint(&self, token: &str) -> Result<IdTokenClaims> {
        let invalid = || {
            bad(
                "id_token_hint",
                "id_token_hint is not an ID token of this provider",
            )
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.typ.as_deref() != Some(ID_TOKEN_TYP)
            || header.jwk.is_some()
            || header.jku.is_some()
        {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let (alg, key) = self.kc.keys().verifier(&kid).ok_or_else(invalid)?;
        let jose = match alg {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::EdDSA => Algorithm::EdDSA,
        };
        if header.alg != jose {
            return Err(invalid());
        }
        let mut v = Validation::new(jose);
        v.set_issuer(&[self.issuer()]);
        v.validate_aud = false;
        v.validate_exp = false;
        v.validate_nbf = false;
        v.set_required_spec_claims(&["iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<IdTokenClaims>(token, &key, &v)
            .map_err(|_| invalid())?
            .claims;
        if claims.aud != claims.azp {
            return Err(invalid());
        }
        Ok(claims)
    }
}
