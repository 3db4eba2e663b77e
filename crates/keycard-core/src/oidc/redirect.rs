//! Which URIs a client may register, for redirects, logout redirects and back-channel logout.
//! Registered URIs are later compared exactly, character for character (RFC 9700 §4.1.3; on
//! the loopback interface any port, RFC 8252 §7.3), so what is refused here is what could never
//! be safe to compare: a URI that a browser would read otherwise than it is written (not in
//! WHATWG normal form: a backslash, `..`, an upper-case scheme or host, a bad port), fragments,
//! credentials, plain http away from the loopback interface.

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
    if uri.contains('#') {
        return Some("must not have a fragment");
    }
    let Ok(parsed) = url::Url::parse(uri) else {
        return Some("must be an absolute URI");
    };
    // What a browser would go to must be exactly what is registered.
    if parsed.as_str() != uri {
        return Some("must be written in normal form (as a browser reads it)");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("must not carry credentials");
    }
    match parsed.scheme() {
        "https" => None,
        "http" => match parsed.host_str() {
            Some("127.0.0.1" | "[::1]") => None,
            // RFC 8252 §8.3: `localhost` may resolve elsewhere; the literal address is safe.
            Some("localhost") => Some("use http://127.0.0.1 or http://[::1], not localhost"),
            _ => Some("must be https (plain http only on 127.0.0.1 or [::1])"),
        },
        scheme if usage == Use::Redirect && scheme.contains('.') => {
            // RFC 8252 §7.1: `com.example.app:/path`, no authority.
            let path_only = uri[scheme.len()..].starts_with(":/") && !parsed.has_host();
            (!path_only)
                .then_some("a private-use scheme is followed by a path: com.example.app:/callback")
        }
        _ if usage == Use::Redirect => {
            Some("must be https, loopback http or a reverse-domain private-use scheme")
        }
        _ => Some("must be https (plain http only on 127.0.0.1 or [::1])"),
    }
}

/// Whether the `requested` redirect URI is the `registered` one: equal character for character,
/// except that a loopback http URI may name any port (RFC 8252 §7.3: a native app gets its port
/// from the system when it starts listening).
pub(crate) fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"));
    if !loopback(&reg) || !loopback(&req) || req.as_str() != requested {
        return false;
    }
    let mut any_port = req.clone();
    if any_port.set_port(reg.port()).is_err() {
        return false;
    }
    any_port.as_str() == registered
}

/// Whether `uri` is an https URI (a redirect whose owner the web's PKI vouches for).
pub(crate) fn is_https(uri: &str) -> bool {
    uri.starts_with("https://")
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
            "http://localhost:3000/cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "com.example.shop://host/cb",
            "com.example.shop:cb",
            "https:///cb",
            "https://shop.example.com/ cb",
            "HTTPS://shop.example.com/cb",
            "https://evil.example\\.shop.example.com/cb",
            "https://shop.example.com/a/../cb",
            "http://[::1]evil.example/cb",
            "https://shop.example.com:99999/cb",
            "https://shop.example.com:443/cb",
            "https://Shop.example.com/cb",
            "https://shop.example.com",
        ] {
            assert!(problem(bad, Use::Redirect).is_some(), "{bad}");
        }
        assert!(problem("com.example.shop:/oauth", Use::Web).is_some());
        assert_eq!(problem("https://shop.example.com/logout", Use::Web), None);
    }

    #[test]
    fn requested_redirects_match_exactly_except_a_loopback_port() {
        let reg = "https://shop.example.com/cb";
        assert!(matches(reg, reg));
        for bad in [
            "https://shop.example.com/cb/",
            "https://shop.example.com/CB",
            "https://SHOP.example.com/cb",
            "https://shop.example.com:444/cb",
            "https://shop.example.com/cb/more",
            "https://user@shop.example.com/cb",
            "https://shop.example.com/cb?x=1",
            "https://shop.example.com/cb#x",
            "https://shop.example.com:443/cb",
            "http://shop.example.com/cb",
        ] {
            assert!(!matches(reg, bad), "{bad}");
        }
        let loop4 = "http://127.0.0.1/cb";
        assert!(matches(loop4, "http://127.0.0.1:51234/cb"));
        assert!(matches(
            "http://127.0.0.1:4000/cb",
            "http://127.0.0.1:4001/cb"
        ));
        assert!(matches("http://[::1]/cb", "http://[::1]:8080/cb"));
        for bad in [
            "http://127.0.0.1:51234/cb2",
            "http://127.0.0.1:51234/cb?x",
            "http://[::1]:51234/cb",
            "http://localhost:51234/cb",
            "https://127.0.0.1:51234/cb",
            "http://127.0.0.1:051234/cb",
        ] {
            assert!(!matches(loop4, bad), "{bad}");
        }
    }
}
