//! Sign-up, login, refresh and logout.

use crate::csrf;
use crate::dto::{
    LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, SessionsEnded, TokenDelivery,
    TokenResponse, UserResponse,
};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{AppJson, Authenticated, Client, bearer};
use crate::routes::mfa::MfaChallengeResponse;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use keycard_core::config::SignupDisclosure;
use keycard_core::error::AuthFailure;
use keycard_core::service::{LoginOutcome, SignedIn};
use keycard_core::social::Identity;
use keycard_core::tokens::{RefreshToken, TokenPair};
use keycard_core::{Error, ids::SessionId};
use serde::de::DeserializeOwned;

/// `__Host-`: Secure, Path=/, no Domain — the browser will not let a subdomain overwrite it.
pub const REFRESH_COOKIE: &str = "__Host-keycard_refresh";

pub(crate) fn refresh_cookie(value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((REFRESH_COOKIE, value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

fn cleared_cookie() -> Cookie<'static> {
    refresh_cookie(String::new(), 0)
}

fn token_response(
    jar: CookieJar,
    status: StatusCode,
    session: SessionId,
    tokens: TokenPair,
    delivery: TokenDelivery,
    user: Option<UserResponse>,
) -> Response {
    let (jar, refresh_token) = match delivery {
        TokenDelivery::Cookie => (
            jar.add(refresh_cookie(
                tokens.refresh_token.expose().to_owned(),
                tokens.refresh_expires_in,
            )),
            None,
        ),
        TokenDelivery::Body => (jar, Some(tokens.refresh_token.expose().to_owned())),
    };
    let body = TokenResponse {
        access_token: tokens.access_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
        refresh_token,
        refresh_expires_in: tokens.refresh_expires_in,
        session_id: session.0,
        user,
    };
    (status, jar, Json(body)).into_response()
}

/// The answer to a sign-up or sign-in: the tokens and the account with its linked identities.
pub(crate) fn signed_in(
    jar: CookieJar,
    status: StatusCode,
    s: SignedIn,
    delivery: TokenDelivery,
    identities: &[Identity],
) -> Response {
    let user = UserResponse::new(s.user, identities);
    token_response(jar, status, s.session_id, s.tokens, delivery, Some(user))
}

/// Bodies that may be empty (cookie clients often send none). Read as bytes, so a body over the
/// size limit is refused by the `Bytes` extractor (413) before this runs.
pub(crate) fn optional_json<T: DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed(format!("invalid JSON body: {e}")))?;
    // `null` is an absent body too.
    if value.is_null() {
        return Ok(T::default());
    }
    crate::extract::body_object(value)
}

/// The answer of a sign-up in hidden mode, the same for every address.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SignupAccepted {
    /// Always true: check the inbox (a verification link for a new account, a note for the
    /// owner of an existing one).
    pub accepted: bool,
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = TokenResponse),
        (status = 202, description = "With `KEYCARD_SIGNUP_DISCLOSURE=hidden`, for a new address and a taken one alike: a new account is created unverified and mailed its verification link (it signs in once its address is proved); the owner of a taken address is mailed that someone tried", body = SignupAccepted),
        (status = 409, description = "Email already registered (not with `KEYCARD_SIGNUP_DISCLOSURE=hidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Email or password rejected by policy", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this network (`rate_limited`) or for this address; see Retry-After. Checked before any password is hashed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Password hashing saturated; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    AppJson(req): AppJson<RegisterRequest>,
) -> ApiResult<Response> {
    if state.keycard.policy().signup_disclosure == SignupDisclosure::Hidden {
        state
            .keycard
            .hidden_sign_up()
            .register(&req.email, &req.password, req.name.as_deref(), &client)
            .await?;
        let body = axum::Json(SignupAccepted { accepted: true });
        return Ok((StatusCode::ACCEPTED, body).into_response());
    }
    let s = state
        .keycard
        .register(&req.email, &req.password, req.name.as_deref(), &client)
        .await?;
    // A new account has no identity yet.
    Ok(signed_in(
        jar,
        StatusCode::CREATED,
        s,
        req.token_delivery,
        &[],
    ))
}

/// A signed-in answer or a second-step challenge.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub(crate) enum LoginAnswer {
    SignedIn(TokenResponse),
    SecondStep(MfaChallengeResponse),
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; or, for an account with a second factor, a challenge to complete at `POST /v1/auth/mfa` (`mfa_required: true`, no tokens)", body = inline(LoginAnswer)),
        (status = 401, description = "Email or password wrong (never says which)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The right password of an account an operator disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins from this network (`rate_limited`) or on this account (`account_locked`, the same whether the account exists or not); see Retry-After. Checked before any password is hashed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Password hashing saturated; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    AppJson(req): AppJson<LoginRequest>,
) -> ApiResult<Response> {
    let s = match state
        .keycard
        .login(&req.email, &req.password, &client)
        .await?
    {
        LoginOutcome::SignedIn(s) => s,
        LoginOutcome::SecondFactor(m) => {
            return Ok(Json(MfaChallengeResponse::from(m)).into_response());
        }
    };
    let identities = state.keycard.social().identities_of(s.user.id).await?;
    Ok(signed_in(
        jar,
        StatusCode::OK,
        s,
        req.token_delivery,
        &identities,
    ))
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "May be empty when the refresh token is in the cookie"),
    responses(
        (status = 200, description = "Rotated: new access and refresh token; the presented one is spent", body = TokenResponse),
        (status = 401, description = "Unknown, expired or reused refresh token (reuse revokes the session)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cookie used without the CSRF header or from a foreign origin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<Response> {
    let req: RefreshRequest = optional_json(&body)?;
    let (presented, from_cookie) = match req.refresh_token {
        Some(t) => (t, false),
        None => {
            let c = jar.get(REFRESH_COOKIE).ok_or(Error::InvalidRefreshToken)?;
            csrf::check(&headers, &state.config)?;
            (c.value().to_owned(), true)
        }
    };
    let delivery = req.token_delivery.unwrap_or(if from_cookie {
        TokenDelivery::Cookie
    } else {
        TokenDelivery::Body
    });
    let presented = RefreshToken::from_client(&presented);
    match state.keycard.refresh(&presented, &client).await {
        Ok((session, tokens)) => Ok(token_response(
            jar,
            StatusCode::OK,
            session,
            tokens,
            delivery,
            None,
        )),
        // A dead cookie is useless to keep: clear it with the error.
        Err(e) if from_cookie => Ok((jar.add(cleared_cookie()), ApiError::from(e)).into_response()),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Only when no bearer token is sent"),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, description = "No credential", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<Response> {
    // Checked even when the bearer token decides: a malformed request is refused either way.
    let req: LogoutRequest = optional_json(&body)?;
    if let Some(token) = bearer(&headers) {
        let who = state.keycard.authenticate(token).await?;
        state.keycard.logout(&who, &client).await?;
    } else {
        let token = match req.refresh_token {
            Some(t) => t,
            None => {
                let c = jar
                    .get(REFRESH_COOKIE)
                    .ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
                csrf::check(&headers, &state.config)?;
                c.value().to_owned()
            }
        };
        state
            .keycard
            .logout_refresh(&RefreshToken::from_client(&token), &client)
            .await?;
    }
    let jar = if jar.get(REFRESH_COOKIE).is_some() {
        jar.add(cleared_cookie())
    } else {
        jar
    };
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every session of the user has ended", body = SessionsEnded),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout_all(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
) -> ApiResult<Json<SessionsEnded>> {
    let n = state.keycard.logout_all(&who, &client).await?;
    Ok(Json(SessionsEnded { sessions_ended: n }))
}
