//! Which URIs a client may register, for redirects, logout redirects and back-channel logout.
//! Registered URIs are later compared exactly, character for character (RFC 9700 §4.1.3), so
//! what is refused here is what could never be safe to compare against: fragments, credentials,
//! plain http away from the loopback interface, relative or malformed URIs.

/// How a URI is used, which decides the schemes allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// An authorization response: https, loopback http (RFC 8252 §7.3) or a native app's
    /// private-use scheme (RFC 8252 §7.1, reverse domain: `com.example.app:/callback`).
    Redirect,
    /// Where Keycard itself calls, or a logo it links: https or loopback http only.
    Web,
}

const MAX_LEN: usize = 2000;

/// Why `uri` cannot be registered, or `None` when it can.
pub(crate) fn problem(uri: &str, usage: Use) -> Option<&'static str> {
    if uri.is_empty() || uri.len() > MAX_LEN {
        return Some("must be 1 to 2000 characters");
    }
    if uri
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b >= 0x80)
    {
        return Some("must be an ASCII URI without spaces");
    }
    if uri.contains('#') {
        return Some("must not have a fragment");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Some("must be an absolute URI");
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    if !scheme_ok {
        return Some("must start with a lower-case scheme");
    }
    match scheme {
        "https" | "http" => {
            let Some(after) = rest.strip_prefix("//") else {
                return Some("must be scheme://host/…");
            };
            let authority = after.split(['/', '?']).next().unwrap_or_default();
            if authority.contains('@') {
                return Some("must not carry credentials");
            }
            let host = match authority.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => authority.split(':').next().unwrap_or_default(),
            };
            if host.is_empty() {
                return Some("must name a host");
            }
            let loopback = matches!(host, "127.0.0.1" | "::1" | "localhost");
            (scheme == "http" && !loopback).then_some("must be https (plain http only on loopback)")
        }
        _ if usage == Use::Redirect && scheme.contains('.') => {
            // RFC 8252 §7.1: a single slash after the scheme, no authority.
            (rest.is_empty() || rest.starts_with("//"))
                .then_some("a private-use scheme is followed by a path: com.example.app:/callback")
        }
        _ if usage == Use::Redirect => {
            Some("must be https, loopback http or a reverse-domain private-use scheme")
        }
        _ => Some("must be https (plain http only on loopback)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_registered() {
        for ok in [
            "https://shop.example.com/callback",
            "https://shop.example.com:8443/cb?tenant=1",
            "http://127.0.0.1:4000/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.shop:/oauth",
        ] {
            assert_eq!(problem(ok, Use::Redirect), None, "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "https://shop.example.com/cb#frag",
            "https://user:pw@shop.example.com/cb",
            "http://shop.example.com/cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "com.example.shop://host/cb",
            "https:///cb",
            "https://shop.example.com/ cb",
            "HTTPS://shop.example.com/cb",
        ] {
            assert!(problem(bad, Use::Redirect).is_some(), "{bad}");
        }
        assert!(problem("com.example.shop:/oauth", Use::Web).is_some());
        assert_eq!(problem("https://shop.example.com/logout", Use::Web), None);
    }
}
