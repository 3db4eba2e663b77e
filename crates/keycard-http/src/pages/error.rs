//! The friendly error page: what went wrong in words a person understands (in their language),
//! a way back, and the stable code for support. Browsers get it; API clients get the same error
//! as problem+json.

use super::{PageCtx, render};
use crate::error::ApiError;
use askama::Template;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    ctx: &'a PageCtx,
    title: &'a str,
    message: &'a str,
    code: &'a str,
    back_href: &'a str,
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
    pub ctx: PageCtx,
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(&self.error);
        if let ApiError::Domain(Error::Internal(cause) | Error::Unavailable(cause)) = &self.error {
            tracing::error!(error.cause = %cause, "error shown on a page");
        }
        let key = catalogue_key(code, &self.ctx);
        let title = self.ctx.t(&format!("error.{key}.title"));
        let message = self.ctx.t(&format!("error.{key}"));
        let retry_after = match &self.error {
            ApiError::Domain(
                Error::Throttled {
                    retry_after_secs, ..
                }
                | Error::Overloaded { retry_after_secs },
            ) => Some(*retry_after_secs),
            _ => None,
        };
        let mut resp = render(
            status,
            &ErrorTemplate {
                ctx: &self.ctx,
                title: &title,
                message: &message,
                code,
                back_href: &self.back_href,
            },
            &self.ctx.nonce,
        );
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

fn status_and_code(e: &ApiError) -> (StatusCode, &'static str) {
    let (status, code, _) = e.parts();
    let code = match e {
        ApiError::Domain(Error::Throttled { .. }) => "throttled",
        ApiError::Domain(Error::Overloaded { .. }) => "unavailable",
        _ => code,
    };
    (status, code)
}

/// The catalogue entry for an error code, or the generic one.
fn catalogue_key<'a>(code: &'a str, ctx: &PageCtx) -> &'a str {
    if ctx.m.has(&format!("error.{code}.title")) {
        code
    } else {
        "other"
    }
}
