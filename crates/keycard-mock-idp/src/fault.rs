//! Failures a tester can ask the double to simulate, chosen with the test user on the
//! authorization page, so each flow carries its own and parallel tests do not interfere.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The token endpoint answers 500 with an HTML body.
    ServerError,
    /// The token endpoint answers only after 30 seconds.
    Slow,
    /// The token endpoint answers 200 with a body that is not JSON.
    Garbage,
    /// The profile API (userinfo's stand-in for plain OAuth 2.0) answers 500.
    ApiError,
    BadSignature,
    WrongNonce,
    WrongIssuer,
    WrongAudience,
    Expired,
    AlgNone,
    HmacWithPublicKey,
    UnknownKid,
}

impl Fault {
    /// What the OpenID Connect providers' page offers: ID-token forgeries included.
    pub(crate) const OIDC: &[Fault] = &[
        Fault::ServerError,
        Fault::Slow,
        Fault::Garbage,
        Fault::BadSignature,
        Fault::WrongNonce,
        Fault::WrongIssuer,
        Fault::WrongAudience,
        Fault::Expired,
        Fault::AlgNone,
        Fault::HmacWithPublicKey,
        Fault::UnknownKid,
    ];

    /// What the plain OAuth 2.0 providers' pages offer: they sign nothing, so only the token
    /// step and the profile API can fail.
    pub(crate) const OAUTH2: &[Fault] = &[
        Fault::ServerError,
        Fault::Slow,
        Fault::Garbage,
        Fault::ApiError,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::ServerError => "server_error",
            Fault::Slow => "slow",
            Fault::Garbage => "garbage",
            Fault::ApiError => "api_error",
            Fault::BadSignature => "bad_signature",
            Fault::WrongNonce => "wrong_nonce",
            Fault::WrongIssuer => "wrong_issuer",
            Fault::WrongAudience => "wrong_audience",
            Fault::Expired => "expired",
            Fault::AlgNone => "alg_none",
            Fault::HmacWithPublicKey => "hmac_with_public_key",
            Fault::UnknownKid => "unknown_kid",
        }
    }

    /// The fault named `s`, if the provider's page offers it.
    pub(crate) fn parse(s: &str, offered: &[Fault]) -> Option<Self> {
        offered.iter().copied().find(|f| f.name() == s)
    }
}

/// The token step's transport-level failures, shared by every provider: the answer to send
/// instead of the tokens, or `None` to carry on (after the delay, for `Slow`).
pub(crate) async fn at_token_step(fault: Option<Fault>) -> Option<Response> {
    match fault {
        Some(Fault::ServerError) => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Internal Server Error</h1>"),
            )
                .into_response(),
        ),
        Some(Fault::Slow) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            None
        }
        Some(Fault::Garbage) => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                "<html>not json",
            )
                .into_response(),
        ),
        _ => None,
    }
}
