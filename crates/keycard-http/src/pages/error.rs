//! The friendly error page: what went wrong in words a person understands, a way back, and the
//! stable code for support. Browsers get it; API clients get the same error as problem+json.

use super::{nonce, render};
use crate::error::ApiError;
use askama::Template;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;
use keycard_core::social::SocialFailure;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    lang: &'a str,
    nonce: &'a str,
    title: &'a str,
    message: &'a str,
    code: &'a str,
    back_href: &'a str,
    back_label: &'a str,
}

/// Whether the request is a browser navigation (it accepts HTML) rather than an API call.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// An error shown to a person, with a link back to where they can start again.
pub struct ErrorPage {
    pub error: ApiError,
    pub back_href: String,
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let (status, title, message) = words(&self.error);
        let code = match &self.error {
            ApiError::Domain(e) => e.code(),
            ApiError::Malformed(_) => "malformed_request",
            ApiError::CsrfRejected(_) => "csrf_rejected",
            ApiError::Http { .. } => "request_refused",
        };
        if let ApiError::Domain(Error::Internal(cause) | Error::Unavailable(cause)) = &self.error {
            tracing::error!(error.cause = %cause, "error shown on a page");
        }
        let nonce = nonce();
        render(
            status,
            &ErrorTemplate {
                lang: "en",
                nonce: &nonce,
                title,
                message: &message,
                code,
                back_href: &self.back_href,
                back_label: "Back to sign-in",
            },
            &nonce,
        )
    }
}

fn words(e: &ApiError) -> (StatusCode, &'static str, String) {
    use StatusCode as S;
    match e {
        ApiError::Domain(Error::Social(f)) => {
            let (status, title) = crate::error::social_parts(f);
            let message = match f {
                SocialFailure::InvalidState => "This sign-in took too long, was already used, or was started in another browser. Please start again.",
                SocialFailure::Denied => "You cancelled the sign-in at the provider. You can try again or choose another way to sign in.",
                SocialFailure::ProviderUnavailable => "We could not reach the provider. Please try again in a moment.",
                SocialFailure::ProviderRejected => "The provider's answer could not be verified, so we did not sign you in. Please try again.",
                SocialFailure::AccountExists => "An account with this email address already exists. Sign in to it first, then link this provider from your account page.",
                SocialFailure::IdentityInUse => "This provider account is already linked to another account.",
                SocialFailure::EmailRequired => "The provider did not share an email address with us, and we need one to create your account.",
                SocialFailure::UnknownProvider => "This sign-in provider is not available.",
                SocialFailure::LastSignInMethod => "This is your account's only way to sign in. Set a password or link another provider first.",
            };
            (status, title, message.to_owned())
        }
        ApiError::Domain(Error::Throttled { .. }) => (
            S::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Please wait a moment before trying again.".to_owned(),
        ),
        ApiError::Domain(Error::Unavailable(_) | Error::Overloaded { .. }) => (
            S::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "We are having trouble right now. Please try again in a moment.".to_owned(),
        ),
        ApiError::Domain(Error::Internal(_)) => (
            S::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "An unexpected error occurred. Please try again.".to_owned(),
        ),
        ApiError::CsrfRejected(_) => (
            S::FORBIDDEN,
            "Request refused",
            "This form was sent from another site, so we refused it. Go back and try again from this page.".to_owned(),
        ),
        other => (other.parts().0, "Something is not right", other.to_string()),
    }
}
