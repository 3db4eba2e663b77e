//! What every form POST of the hosted pages must show before it is acted on: that it comes from
//! Keycard's own pages (`Origin`, or Fetch Metadata when a browser sends no Origin) and that it
//! carries the form token bound to this browser.

use crate::state::{HttpConfig, origin_of};
use axum::http::HeaderMap;

/// A form POST from another site is refused whatever it carries (OWASP: verify the origin with
/// standard headers; Fetch Metadata). Browsers that send neither header are left to the token.
pub fn same_origin(headers: &HeaderMap, config: &HttpConfig) -> bool {
    if let Some(origin) = headers.get("origin") {
        return origin
            .to_str()
            .is_ok_and(|o| origin_of(o) == config.public_origin());
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => true,
        Some(_) => false,
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
    fn only_keycards_own_pages_may_post_its_forms() {
        let c = cfg();
        assert!(same_origin(
            &headers(&[("origin", "https://id.example.com")]),
            &c
        ));
        // An app origin may call the API, but does not post Keycard's forms.
        assert!(!same_origin(
            &headers(&[("origin", "https://shop.example.com")]),
            &c
        ));
        assert!(!same_origin(&headers(&[("origin", "null")]), &c));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &c
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            &c
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &c
        ));
        assert!(same_origin(&headers(&[]), &c));
    }
}
