//! The one place errors become HTTP: RFC 9457 problem+json with a stable `code`. 5xx bodies say
//! nothing about the cause; the cause is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;
use keycard_core::error::AuthFailure;
use keycard_core::social::SocialFailure;
use serde::Serialize;
use utoipa::ToSchema;

/// Errors of the HTTP layer: the domain's, plus what only HTTP can get wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    /// The body is not the JSON the endpoint takes.
    #[error("{0}")]
    Malformed(String),
    /// A cookie-authenticated state change came without the CSRF header or from another site.
    #[error("cross-site request rejected: {0}")]
    CsrfRejected(&'static str),
    /// Refused by the HTTP machinery before any handler ran (body too large, method not
    /// allowed, a timeout…); `detail` is the machinery's own, safe to show.
    #[error("{detail}")]
    Http { status: StatusCode, detail: String },
}

/// The stable code and title of an error the HTTP machinery produced, by status.
fn http_parts(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("malformed_request", "Malformed request"),
        404 => ("not_found", "Not found"),
        405 => ("method_not_allowed", "Method not allowed"),
        408 => ("request_timeout", "Request timeout"),
        411 => ("length_required", "Length required"),
        413 => ("payload_too_large", "Request body too large"),
        415 => ("unsupported_media_type", "Unsupported media type"),
        431 => ("headers_too_large", "Request headers too large"),
        503 => ("unavailable", "Service unavailable"),
        s if s < 500 => ("client_error", "Client error"),
        _ => ("internal", "Internal error"),
    }
}

/// Turns every error response that is not a problem yet into one: what tower-http's layers and
/// axum's extractors and router answer by themselves (413 `length limit exceeded` as text, 405
/// with no body, a query-string rejection…). The status and headers (`Allow`, `Retry-After`)
/// stay; only 4xx texts are kept as the `detail`, since a 5xx text could say too much.
pub async fn ensure_problem<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let response = response.map(axum::body::Body::new);
    let status = response.status();
    // Hosted pages answer their errors with a page of their own, made for people.
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/problem+json")
                || v.as_bytes().starts_with(b"text/html")
                // The OAuth endpoints' own error bodies (RFC 6749 §5.2).
                || v.as_bytes().starts_with(b"application/json")
        });
    if status.as_u16() < 400 || is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if status.is_client_error() && !text.is_empty() {
        text
    } else {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    };
    let problem = ApiError::Http { status, detail }.into_response();
    // Keep what the machinery said in headers (Allow on a 405, Retry-After), minus its body's.
    parts.headers.remove(header::CONTENT_LENGTH);
    let (problem_parts, problem_body) = problem.into_parts();
    for (name, value) in &problem_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, problem_body)
}

/// RFC 9457 problem details, as served for every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:keycard:problem:<code>`; stable.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case identifier clients switch on.
    pub code: String,
    /// Per-field validation failures (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub(crate) fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::Malformed(_) => (S::BAD_REQUEST, "malformed_request", "Malformed request"),
            Self::CsrfRejected(_) => (S::FORBIDDEN, "csrf_rejected", "Cross-site request rejected"),
            Self::Http { status, .. } => {
                let (code, title) = http_parts(*status);
                (*status, code, title)
            }
            Self::Domain(e) => {
                let (status, title) = match e {
                    Error::Invalid { .. } => (S::UNPROCESSABLE_ENTITY, "Invalid input"),
                    Error::InvalidCredentials => (S::UNAUTHORIZED, "Invalid credentials"),
                    Error::EmailTaken => (S::CONFLICT, "Email already registered"),
                    Error::Unauthenticated(_) => (S::UNAUTHORIZED, "Authentication required"),
                    Error::RefreshTokenReused => (S::UNAUTHORIZED, "Refresh token reused"),
                    Error::InvalidRefreshToken => (S::UNAUTHORIZED, "Invalid refresh token"),
                    Error::NotFound => (S::NOT_FOUND, "Not found"),
                    Error::Forbidden(_) => (S::FORBIDDEN, "Forbidden"),
                    Error::ClientExists => (S::CONFLICT, "Client already registered"),
                    Error::AccountDisabled => (S::FORBIDDEN, "Account disabled"),
                    Error::InvalidVerification => (S::BAD_REQUEST, "Invalid verification link"),
                    Error::InvalidResetToken => (S::BAD_REQUEST, "Invalid password reset link"),
                    Error::InvalidEmailChange => (S::BAD_REQUEST, "Invalid email change link"),
                    Error::ReauthenticationRequired => (S::FORBIDDEN, "Recent sign-in required"),
                    Error::AlreadyVerified => (S::CONFLICT, "Already verified"),
                    Error::InvalidMfaCode => (S::UNAUTHORIZED, "Invalid code"),
                    Error::InvalidMfaChallenge => (S::UNAUTHORIZED, "Sign-in expired"),
                    Error::MfaAlreadyEnabled => (S::CONFLICT, "Already set up"),
                    Error::MfaNotEnabled => (S::CONFLICT, "Not set up"),
                    Error::PasskeysUnavailable => (S::NOT_FOUND, "Passkeys unavailable"),
                    Error::PasskeyRejected => (S::BAD_REQUEST, "Passkey refused"),
                    Error::InvalidPasskey => (S::UNAUTHORIZED, "Passkey sign-in failed"),
                    Error::Throttled { .. } => (S::TOO_MANY_REQUESTS, "Too many attempts"),
                    Error::Social(f) => social_parts(f),
                    Error::OAuth(e) if e.code == keycard_core::oidc::OAuthCode::InvalidClient => {
                        (S::UNAUTHORIZED, "Client authentication failed")
                    }
                    Error::OAuth(_) => (S::BAD_REQUEST, "Protocol error"),
                    Error::Overloaded { .. } => (S::SERVICE_UNAVAILABLE, "Service busy"),
                    Error::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "Service unavailable"),
                    Error::Internal(_) => (S::INTERNAL_SERVER_ERROR, "Internal error"),
                };
                (status, e.code(), title)
            }
        }
    }
}

/// Status and title of a social sign-in failure. A provider that fails is a bad gateway, not a
/// fault of Keycard's (5xx without being 500) nor of the person's.
pub(crate) fn social_parts(f: &SocialFailure) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match f {
        SocialFailure::UnknownProvider => (S::NOT_FOUND, "Unknown provider"),
        SocialFailure::InvalidState => (S::BAD_REQUEST, "Sign-in expired"),
        SocialFailure::Denied => (S::FORBIDDEN, "Sign-in cancelled"),
        SocialFailure::ProviderUnavailable => (S::BAD_GATEWAY, "Provider unavailable"),
        SocialFailure::ProviderRejected => (S::BAD_GATEWAY, "Provider answer refused"),
        SocialFailure::AccountExists => (S::CONFLICT, "Account already exists"),
        SocialFailure::IdentityInUse => (S::CONFLICT, "Provider account already linked"),
        SocialFailure::LastSignInMethod => (S::CONFLICT, "Last way to sign in"),
        SocialFailure::InvalidLoginCode => (S::BAD_REQUEST, "Invalid login code"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        // The protocol endpoints answer as RFC 6749 §5.2 says, for relying-party libraries.
        if let Self::Domain(Error::OAuth(e)) = &self {
            let body = serde_json::json!({
                "error": e.code.as_str(),
                "error_description": e.description,
            });
            let mut resp = (status, axum::Json(body)).into_response();
            if status == StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"keycard\""),
                );
            }
            return resp;
        }
        let detail = match &self {
            Self::Domain(Error::Unavailable(cause)) => {
                tracing::error!(error.cause = %cause, "storage unavailable");
                "The service is temporarily unavailable; retry shortly.".to_owned()
            }
            Self::Domain(Error::Internal(cause)) => {
                tracing::error!(error.cause = %cause, "internal error");
                "An unexpected error occurred.".to_owned()
            }
            Self::CsrfRejected(why) => {
                tracing::info!(reason = why, "csrf check rejected a request");
                "Cookie-authenticated requests must come from an allowed origin and carry the Keycard-CSRF header.".to_owned()
            }
            other => other.to_string(),
        };
        let errors = match &self {
            Self::Domain(Error::Invalid {
                field,
                code,
                message,
            }) => vec![FieldError {
                field: (*field).to_owned(),
                code: (*code).to_owned(),
                message: message.clone(),
            }],
            _ => Vec::new(),
        };
        let body = Problem {
            kind: format!("urn:keycard:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            errors,
        };
        let mut resp = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            Self::Domain(
                Error::Overloaded { retry_after_secs }
                | Error::Throttled {
                    retry_after_secs, ..
                },
            ) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Domain(Error::Unavailable(_)) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Http { status, .. } if *status == StatusCode::SERVICE_UNAVAILABLE => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Domain(Error::Unauthenticated(f)) => {
                let v = match f {
                    AuthFailure::Missing => "Bearer realm=\"keycard\"",
                    _ => "Bearer realm=\"keycard\", error=\"invalid_token\"",
                };
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
            }
            _ => {}
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
