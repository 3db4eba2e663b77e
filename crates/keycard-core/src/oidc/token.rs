//! The token endpoint (RFC 6749 §3.2) and userinfo: client authentication, the grants an app
//! may use, and the tokens it gets.

use super::claims::{
    ACCESS_TOKEN_TYP, AppAccessClaims, ID_TOKEN_TYP, IdTokenClaims, ProfileClaims, at_hash,
};
use super::grants::Redemption;
use super::oauth_error::{OAuthCode, OAuthError};
use super::provider::Provider;
use super::{Client, ClientKind, GrantType};
use crate::accounts::User;
use crate::audit::AuditKind;
use crate::error::{AuthFailure, Error, Result};
use crate::ids::{SessionId, UserId};
use crate::service::ClientInfo;
use crate::sessions::{Session, SessionKind};
use crate::tokens::{RefreshToken, SigningAlg, TokenHash, pkce_challenge};
use jsonwebtoken::{Algorithm, Validation};
use uuid::Uuid;

/// How the client proved who it is (RFC 6749 §2.3).
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// `client_secret_basic` or `client_secret_post`.
    Secret {
        id: String,
        secret: String,
    },
    /// A public client: its id only (`none`).
    Id(String),
    Missing,
}

/// The form of a token request, as sent.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub device_code: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<String>,
    pub scope: String,
}

fn oauth(code: OAuthCode, why: &str) -> Error {
    Error::OAuth(OAuthError::new(code, why))
}

fn disabled() -> Error {
    oauth(OAuthCode::InvalidGrant, "the account is disabled")
}

/// The person a grant is for, who must still exist and be enabled: a grant read just before a
/// disabling committed must not mint tokens after it.
fn enabled(user: Option<crate::accounts::User>) -> Result<crate::accounts::User> {
    match user {
        Some(u) if u.disabled_at.is_none() => Ok(u),
        Some(_) => Err(disabled()),
        None => Err(oauth(
            OAuthCode::InvalidGrant,
            "the account no longer exists",
        )),
    }
}

impl Provider<'_> {
    fn kc(&self) -> &std::sync::Arc<crate::service::Keycard> {
        self.kc
    }

    /// The client the request authenticates as, or `invalid_client`.
    pub async fn authenticate_client(&self, auth: &ClientAuth) -> Result<Client> {
        let bad = || oauth(OAuthCode::InvalidClient, "client authentication failed");
        let id = match auth {
            ClientAuth::Secret { id, .. } | ClientAuth::Id(id) => id,
            ClientAuth::Missing => return Err(bad()),
        };
        let client = self
            .kc()
            .store()
            .find_client(id)
            .await?
            .filter(|c| c.enabled)
            .ok_or_else(bad)?;
        match (client.kind, auth, client.secret_hash) {
            (ClientKind::Public, ClientAuth::Id(_), _) => Ok(client),
            (ClientKind::Confidential, ClientAuth::Secret { secret, .. }, Some(stored)) => {
                let given = self.kc().client_secrets().hash(secret);
                aws_lc_rs::constant_time::verify_slices_are_equal(&given.0, &stored.0)
                    .map_err(|_| bad())?;
                Ok(client)
            }
            _ => Err(bad()),
        }
    }

    /// Answers a token request from `client`.
    pub async fn token(
        &self,
        client: &Client,
        req: &TokenRequest,
        by: &ClientInfo,
    ) -> Result<TokenResponse> {
        let grant = match req.grant_type.as_deref() {
            None => return Err(oauth(OAuthCode::InvalidRequest, "grant_type is missing")),
            Some("password") => {
                return Err(oauth(
                    OAuthCode::UnsupportedGrantType,
                    "the password grant is not supported (RFC 9700 §2.4)",
                ));
            }
            // Only the RFC names: `device_code` is the registry's shorthand, not a grant type.
            Some(g) => GrantType::ALL
                .into_iter()
                .find(|t| t.as_str() == g)
                .ok_or_else(|| oauth(OAuthCode::UnsupportedGrantType, "unknown grant_type"))?,
        };
        if !client.grant_types.contains(&grant) {
            return Err(oauth(
                OAuthCode::UnauthorizedClient,
                "this application may not use this grant",
            ));
        }
        let answer = match grant {
            GrantType::AuthorizationCode => self.redeem(client, req, by).await,
            GrantType::RefreshToken => self.refresh(client, req, by).await,
            GrantType::ClientCredentials => self.client_credentials(client, req),
            GrantType::DeviceCode => {
                let code = req
                    .device_code
                    .as_deref()
                    .ok_or_else(|| oauth(OAuthCode::InvalidRequest, "device_code is missing"))?;
                let (grant, user, refresh) = self.kc.devices().redeem(client, code, by).await?;
                let user = enabled(Some(user))?;
                self.tokens(client, &grant, &user, None, refresh)
            }
        };
        // A disabling that raced the grant refused its session in the store (migration 0009):
        // for the app, that is a grant that no longer holds.
        answer.map_err(|e| match e {
            Error::AccountDisabled => disabled(),
            other => other,
        })
    }

    async fn redeem(
        &self,
        client: &Client,
        req: &TokenRequest,
        by: &ClientInfo,
    ) -> Result<TokenResponse> {
        let kc = self.kc();
        let code = req
            .code
            .as_deref()
            .ok_or_else(|| oauth(OAuthCode::InvalidRequest, "code is missing"))?;
        let hash = TokenHash::of(code);
        let invalid = |why: &str| oauth(OAuthCode::InvalidGrant, why);
        let stored = kc
            .store()
            .find_code(&hash)
            .await?
            .ok_or_else(|| invalid("the code is unknown"))?;
        if stored.client_id != client.id {
            return Err(invalid("the code was issued to another client"));
        }
        let now = kc.now();
        let mut session = kc.new_grant(
            stored.user_id,
            &client.id,
            by,
            stored.amr.clone(),
            stored.auth_time,
            stored.scopes.clone(),
        );
        session.origin = Some(stored.browser_session_id);
        let mut ev = kc.audit_event(
            AuditKind::AppAuthorized,
            Some(stored.user_id),
            Some(session.id),
            by,
        );
        ev.detail = serde_json::json!({ "client_id": client.id, "scope": stored.scopes.join(" ") });
        let mut replay_ev =
            kc.audit_event(AuditKind::CodeReuseDetected, Some(stored.user_id), None, by);
        replay_ev.detail = serde_json::json!({ "client_id": client.id });
        if stored.used_at.is_none() {
            if now >= stored.expires_at {
                return Err(invalid("the code has expired"));
            }
            // Signed out since (or the session ended): the approval went with it.
            let approved_in = kc
                .store()
                .find_session_with_user(stored.browser_session_id)
                .await?;
            let Some((browser, _)) = approved_in.filter(|(s, _)| s.is_active(now)) else {
                return Err(invalid("the sign-in the code came from has ended"));
            };
            // The grant is where the person is, not where the app's server is: the session
            // list shows the app on the device it was allowed from.
            session.device = browser.device;
            session.user_agent = browser.user_agent;
            session.ip = browser.ip;
            if req.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
                return Err(invalid(
                    "redirect_uri differs from the authorization request's",
                ));
            }
            match (&stored.code_challenge, req.code_verifier.as_deref()) {
                (Some(challenge), Some(v)) => {
                    let well_formed = (43..=128).contains(&v.len())
                        && v.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
                        });
                    if !well_formed || &pkce_challenge(v) != challenge {
                        return Err(invalid("code_verifier does not match the code_challenge"));
                    }
                }
                (Some(_), None) => return Err(invalid("code_verifier is missing")),
                // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a
                // PKCE downgrade.
                (None, Some(_)) => {
                    return Err(invalid("a code_verifier for a code issued without PKCE"));
                }
                (None, None) => {}
            }
        }
        let refresh = if client.grant_types.contains(&GrantType::RefreshToken) {
            Some(kc.new_refresh(session.id)?)
        } else {
            None
        };
        let outcome = kc
            .changing_user(stored.user_id, {
                let (session, refresh_row, ev, replay_ev) = (
                    session.clone(),
                    refresh.as_ref().map(|(_, r)| r.clone()),
                    ev,
                    replay_ev,
                );
                move |store| async move {
                    store
                        .redeem_code(&hash, now, &session, refresh_row.as_ref(), &ev, &replay_ev)
                        .await
                }
            })
            .await?;
        match outcome {
            Redemption::Redeemed => {}
            Redemption::Replayed { grant } => {
                tracing::warn!(client_id = %client.id, grant = ?grant, "authorization code replayed: its grant is revoked");
                return Err(invalid("the code has already been used"));
            }
            Redemption::Unknown => return Err(invalid("the code is unknown")),
        }
        let user = enabled(kc.store().find_user(stored.user_id).await?)?;
        self.tokens(
            client,
            &session,
            &user,
            stored.nonce,
            refresh.map(|(s, _)| s),
        )
    }

    async fn refresh(
        &self,
        client: &Client,
        req: &TokenRequest,
        by: &ClientInfo,
    ) -> Result<TokenResponse> {
        let kc = self.kc();
        let presented = req
            .refresh_token
            .as_deref()
            .ok_or_else(|| oauth(OAuthCode::InvalidRequest, "refresh_token is missing"))?;
        let presented = RefreshToken::from_client(presented);
        let (mut session, successor) = kc
            .rotate(&presented, by, Some(client.id.clone()))
            .await
            .map_err(|e| match e {
                Error::InvalidRefreshToken | Error::RefreshTokenReused => {
                    oauth(OAuthCode::InvalidGrant, "the refresh token is invalid")
                }
                other => other,
            })?;
        if let Some(narrower) = req.scope.as_deref() {
            let asked = super::authorize::scopes(narrower);
            if asked.is_empty() || asked.iter().any(|s| !session.scopes.contains(s)) {
                return Err(oauth(
                    OAuthCode::InvalidScope,
                    "a refresh may only narrow the granted scopes",
                ));
            }
            session.scopes = asked;
        }
        let user = enabled(kc.store().find_user(session.user_id).await?)?;
        self.tokens(client, &session, &user, None, Some(successor))
    }

    fn client_credentials(&self, client: &Client, req: &TokenRequest) -> Result<TokenResponse> {
        // Scopes about a person mean nothing when no person is involved.
        let personal = ["openid", "profile", "email", "offline_access"];
        let allowed: Vec<String> = client
            .scopes
            .iter()
            .filter(|s| !personal.contains(&s.as_str()))
            .cloned()
            .collect();
        let scopes = match req.scope.as_deref() {
            None => allowed,
            Some(raw) => {
                let asked = super::authorize::scopes(raw);
                if asked.is_empty() || asked.iter().any(|s| !allowed.contains(s)) {
                    return Err(oauth(
                        OAuthCode::InvalidScope,
                        "a scope asked for is not allowed for this application",
                    ));
                }
                asked
            }
        };
        let (access_token, expires_in) =
            self.access_token(client, &client.id, &scopes, None, None)?;
        Ok(TokenResponse {
            access_token,
            expires_in,
            refresh_token: None,
            id_token: None,
            scope: scopes.join(" "),
        })
    }

    fn access_token(
        &self,
        client: &Client,
        sub: &str,
        scopes: &[String],
        session: Option<&Session>,
        ceiling: Option<time::OffsetDateTime>,
    ) -> Result<(String, i64)> {
        let kc = self.kc();
        let now = kc.now();
        let mut exp = now + kc.policy().access_token_ttl;
        if let Some(c) = ceiling {
            exp = exp.min(c);
        }
        let claims = AppAccessClaims {
            iss: self.issuer().to_owned(),
            sub: sub.to_owned(),
            aud: client.id.clone(),
            client_id: client.id.clone(),
            exp: exp.unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: Uuid::new_v4().to_string(),
            scope: scopes.join(" "),
            sid: session.map(|s| s.origin.unwrap_or(s.id).to_string()),
            gid: session.map(|s| s.id.to_string()),
            auth_time: session.map(|s| s.auth_time.unix_timestamp()),
            amr: session.map(|s| s.amr.clone()).unwrap_or_default(),
            acr: session.map(|s| s.acr().to_owned()),
        };
        let token = kc
            .keys()
            .sign_with(client.id_token_alg, ACCESS_TOKEN_TYP, &claims)?;
        Ok((token, (exp - now).whole_seconds()))
    }

    fn tokens(
        &self,
        client: &Client,
        session: &Session,
        user: &User,
        nonce: Option<String>,
        refresh: Option<RefreshToken>,
    ) -> Result<TokenResponse> {
        let kc = self.kc();
        let now = kc.now();
        let (access_token, expires_in) = self.access_token(
            client,
            &user.id.to_string(),
            &session.scopes,
            Some(session),
            Some(session.expires_at),
        )?;
        let id_token = if session.scopes.iter().any(|s| s == "openid") {
            let claims = IdTokenClaims {
                iss: self.issuer().to_owned(),
                sub: user.id.to_string(),
                aud: client.id.clone(),
                azp: client.id.clone(),
                exp: (now + kc.policy().access_token_ttl)
                    .min(session.expires_at)
                    .unix_timestamp(),
                iat: now.unix_timestamp(),
                auth_time: session.auth_time.unix_timestamp(),
                nonce,
                amr: session.amr.clone(),
                acr: Some(session.acr().to_owned()),
                // The sign-in the grant came from; a device's grant is a sign-in of its own.
                sid: Some(session.origin.unwrap_or(session.id).to_string()),
                at_hash: Some(at_hash(client.id_token_alg, &access_token)),
                profile: ProfileClaims::of(user, &session.scopes),
            };
            Some(
                kc.keys()
                    .sign_with(client.id_token_alg, ID_TOKEN_TYP, &claims)?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            expires_in,
            refresh_token: refresh,
            id_token,
            scope: session.scopes.join(" "),
        })
    }

    /// Verifies an access token Keycard issued to an app (any of its algorithms, the one its
    /// key was made for) and that its grant is still active; returns its claims.
    pub async fn verify_app_token(
        &self,
        token: &str,
    ) -> Result<(AppAccessClaims, Option<Session>)> {
        let deny = |why: &str| {
            tracing::debug!(reason = why, "app access token rejected");
            Error::Unauthenticated(AuthFailure::InvalidToken)
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| deny("malformed header"))?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(deny("wrong typ"));
        }
        if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() {
            return Err(deny("embedded key references are not accepted"));
        }
        let kid = header.kid.ok_or_else(|| deny("no kid"))?;
        let (alg, key) = self
            .kc()
            .keys()
            .verifier(&kid)
            .ok_or_else(|| deny("unknown kid"))?;
        let jose = match alg {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::EdDSA => Algorithm::EdDSA,
        };
        if header.alg != jose {
            return Err(deny("algorithm is not the key's"));
        }
        let mut v = Validation::new(jose);
        v.set_issuer(&[self.issuer()]);
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.validate_exp = false;
        v.validate_nbf = false;
        let claims = jsonwebtoken::decode::<AppAccessClaims>(token, &key, &v)
            .map_err(|_| deny("signature or claims invalid"))?
            .claims;
        if claims.aud != claims.client_id {
            return Err(deny("not an app's access token"));
        }
        let now = self.kc().now().unix_timestamp();
        if claims.exp <= now || claims.iat > now + 5 {
            return Err(deny("expired or not yet valid"));
        }
        // A disabled app's tokens stop working at once.
        let enabled = self
            .kc()
            .store()
            .find_client(&claims.client_id)
            .await?
            .is_some_and(|c| c.enabled);
        if !enabled {
            return Err(deny("the client is unknown or disabled"));
        }
        let Some(sid) = claims.gid.as_deref() else {
            return Ok((claims, None));
        };
        let sid: SessionId = sid.parse().map_err(|_| deny("bad gid"))?;
        let user: UserId = claims.sub.parse().map_err(|_| deny("bad sub"))?;
        match self.kc().store().find_session_with_user(sid).await? {
            Some((s, _))
                if s.user_id == user
                    && s.kind == SessionKind::Grant
                    && s.client_id.as_deref() == Some(claims.client_id.as_str())
                    && s.is_active(self.kc().now()) =>
            {
                Ok((claims, Some(s)))
            }
            _ => Err(Error::Unauthenticated(AuthFailure::SessionEnded)),
        }
    }

    /// The userinfo response (OpenID Connect Core §5.3) for an app's access token.
    pub async fn userinfo(&self, token: &str) -> Result<serde_json::Value> {
        let (claims, session) = self.verify_app_token(token).await?;
        let session = session.ok_or(Error::Unauthenticated(AuthFailure::InvalidToken))?;
        let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(Error::Unauthenticated(AuthFailure::InvalidToken));
        }
        let user = self
            .kc()
            .store()
            .find_user(session.user_id)
            .await?
            .ok_or(Error::Unauthenticated(AuthFailure::SessionEnded))?;
        let mut out = serde_json::to_value(ProfileClaims::of(&user, &scopes))
            .map_err(|e| Error::Internal(e.to_string()))?;
        out["sub"] = user.id.to_string().into();
        Ok(out)
    }
}
