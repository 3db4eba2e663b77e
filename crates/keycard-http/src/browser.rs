//! What ties a browser to Keycard: the session cookie, the flow cookie of a sign-in away at a
//! provider, and where a browser may be sent back to.

use crate::state::{HttpConfig, origin_of};
use axum_extra::extract::cookie::{Cookie, SameSite};

/// The browser session (single sign-on). `__Host-`: Secure, Path=/, no Domain, so no subdomain
/// can set or shadow it. Lax, so it comes along when another app sends the person here.
pub const SESSION_COOKIE: &str = "__Host-keycard_session";
/// Binds a sign-in that left for a provider to the browser that started it. Lax, because the
/// provider sends the person back with a top-level GET from its own site.
pub const FLOW_COOKIE: &str = "__Host-keycard_flow";
/// A random id of the browser before it signs in, which the sign-in and sign-up forms' tokens
/// are bound to. Strict: only Keycard's own pages need it.
pub const BROWSER_COOKIE: &str = "__Host-keycard_browser";
/// The page language a social sign-in started in (`ui_locales`), so the pages at its end speak
/// it too, whatever the provider's redirect carries. Not a secret: a language code.
pub const LANG_COOKIE: &str = "__Host-keycard_lang";

/// A sign-in whose first factor held, waiting for its second step: the challenge id. Lax, not
/// Strict: after a provider's sign-in the callback sets it and redirects to the second-step
/// page, and browsers send no Strict cookie anywhere along a redirect chain a provider's site
/// started. Lax adds no risk here: the second step's form is still bound to the challenge and
/// checked for the same origin, and the challenge needs the code.
pub const MFA_COOKIE: &str = "__Host-keycard_mfa";

pub fn mfa_cookie(value: String, max_age: time::Duration) -> Cookie<'static> {
    host_cookie(MFA_COOKIE, value, max_age)
}

fn host_cookie(name: &'static str, value: String, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(max_age)
        .build()
}

pub fn session_cookie(value: String, max_age: time::Duration) -> Cookie<'static> {
    host_cookie(SESSION_COOKIE, value, max_age)
}

pub fn flow_cookie(value: String, max_age: time::Duration) -> Cookie<'static> {
    host_cookie(FLOW_COOKIE, value, max_age)
}

pub fn lang_cookie(lang: &str, max_age: time::Duration) -> Cookie<'static> {
    host_cookie(LANG_COOKIE, lang.to_owned(), max_age)
}

pub fn browser_cookie(value: String) -> Cookie<'static> {
    Cookie::build((BROWSER_COOKIE, value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time::Duration::days(1))
        .build()
}

pub fn expired(name: &'static str) -> Cookie<'static> {
    host_cookie(name, String::new(), time::Duration::ZERO)
}

/// Where a browser may be sent after signing in: Keycard's own origin or one of the platform's
/// app origins, as an absolute http(s) URL or a path on Keycard. Anything else — another site,
/// `//evil.example`, `/\evil.example`, `javascript:`, credentials in the URL — is refused, so
/// Keycard is never an open redirect. `None` means Keycard's own start page.
pub fn return_to(raw: Option<&str>, config: &HttpConfig) -> Result<String, &'static str> {
    let public = config.public_url.trim_end_matches('/');
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(format!("{public}/"));
    };
    if raw.len() > 2048
        || raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err("return_to is not a valid URL");
    }
    if raw.starts_with('/') {
        if raw.starts_with("//") {
            return Err("return_to must be a path on Keycard or an allowed origin");
        }
        return Ok(format!("{public}{raw}"));
    }
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or("return_to must be an absolute http(s) URL or a path")?;
    if !matches!(scheme, "http" | "https") {
        return Err("return_to must be an absolute http(s) URL or a path");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("return_to must not carry credentials");
    }
    let origin = origin_of(raw);
    let allowed = origin == config.public_origin()
        || config
            .allowed_origins
            .iter()
            .any(|o| origin_of(o) == origin);
    if allowed {
        Ok(raw.to_owned())
    } else {
        Err("return_to is not Keycard's origin nor an allowed app origin")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HttpConfig {
        HttpConfig::for_tests()
    }

    #[test]
    fn only_keycard_and_the_platforms_origins() {
        let c = cfg();
        assert_eq!(return_to(None, &c).unwrap(), "https://id.example.com/");
        assert_eq!(
            return_to(Some("/account?x=1"), &c).unwrap(),
            "https://id.example.com/account?x=1"
        );
        for ok in [
            "https://shop.example.com/cart",
            "https://SHOP.example.com",
            "https://id.example.com/x#y",
        ] {
            assert!(return_to(Some(ok), &c).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "https://shop.example.com@evil.example/",
            "https://user:pw@shop.example.com/",
            "https://shop.example.com.evil.example/",
            "http://shop.example.com/",
            "https://shop.example.com:444/",
            "ftp://shop.example.com/",
            "https://shop.example.com/\nx",
            "shop.example.com",
        ] {
            assert!(return_to(Some(bad), &c).is_err(), "{bad}");
        }
    }
}
