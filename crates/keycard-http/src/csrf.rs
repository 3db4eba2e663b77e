//! CSRF defence for cookie-authenticated calls. A bearer token or a body token cannot be sent by
//! another site, but a cookie is attached by the browser, so such calls must prove they come
//! from an allowed page: a custom header (forces a CORS preflight cross-origin) plus Origin /
//! Fetch-Metadata checks (OWASP CSRF cheat sheet).

use crate::error::ApiError;
use crate::state::{HttpConfig, origin_of};
use axum::http::HeaderMap;

pub const CSRF_HEADER: &str = "keycard-csrf";

pub fn check(headers: &HeaderMap, config: &HttpConfig) -> Result<(), ApiError> {
    if headers.get(CSRF_HEADER).is_none_or(|v| v.is_empty()) {
        return Err(ApiError::CsrfRejected("missing Keycard-CSRF header"));
    }
    if let Some(origin) = headers.get("origin") {
        let origin = origin.to_str().map(origin_of).unwrap_or_default();
        let allowed = origin == config.public_origin()
            || config
                .allowed_origins
                .iter()
                .any(|o| origin_of(o) == origin);
        return if allowed {
            Ok(())
        } else {
            Err(ApiError::CsrfRejected("origin not allowed"))
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => Ok(()),
        Some(_) => Err(ApiError::CsrfRejected(
            "cross-site request without an allowed Origin",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HttpConfig {
        HttpConfig::for_tests()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn requires_header_and_allowed_origin() {
        let c = cfg();
        assert!(check(&headers(&[]), &c).is_err());
        assert!(check(&headers(&[("origin", "https://id.example.com")]), &c).is_err());
        assert!(check(&headers(&[(CSRF_HEADER, "1")]), &c).is_ok());
        assert!(
            check(
                &headers(&[(CSRF_HEADER, "1"), ("origin", "https://id.example.com")]),
                &c
            )
            .is_ok()
        );
        assert!(
            check(
                &headers(&[(CSRF_HEADER, "1"), ("origin", "https://shop.example.com")]),
                &c
            )
            .is_ok()
        );
        assert!(
            check(
                &headers(&[(CSRF_HEADER, "1"), ("origin", "https://evil.example")]),
                &c
            )
            .is_err()
        );
        assert!(check(&headers(&[(CSRF_HEADER, "1"), ("origin", "null")]), &c).is_err());
        assert!(
            check(
                &headers(&[(CSRF_HEADER, "1"), ("sec-fetch-site", "cross-site")]),
                &c
            )
            .is_err()
        );
        assert!(
            check(
                &headers(&[(CSRF_HEADER, "1"), ("sec-fetch-site", "same-site")]),
                &c
            )
            .is_err()
        );
        assert!(
            check(
                &headers(&[(CSRF_HEADER, "1"), ("sec-fetch-site", "same-origin")]),
                &c
            )
            .is_ok()
        );
    }
}
