//! Hosted pages: server-rendered HTML (askama, escaped by default), each response with a
//! Content-Security-Policy carrying a fresh nonce, so no inline script or style runs unless
//! Keycard wrote it for this very response.

mod error;

pub use error::{ErrorPage, wants_page};

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// A fresh CSP nonce: 128 random bits, base64url.
pub fn nonce() -> String {
    keycard_core::tokens::random_secret("")
        .map(|s| s[..22].to_owned())
        // Without randomness no nonce can be trusted: an empty one allows nothing inline.
        .unwrap_or_default()
}

/// Renders a page with its status and the page security headers.
pub fn render(status: StatusCode, page: &impl Template, nonce: &str) -> Response {
    let html = match page.render() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "page template failed to render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>"),
            )
                .into_response();
        }
    };
    let mut resp = (status, Html(html)).into_response();
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    resp
}
