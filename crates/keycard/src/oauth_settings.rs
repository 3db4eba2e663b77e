//! Settings of the plain OAuth 2.0 providers (Facebook, GitHub, X): each is enabled by its
//! client id and secret, and every endpoint can be pointed elsewhere (tests, demos, regional
//! deployments): `KEYCARD_<P>_CLIENT_ID`, `_CLIENT_SECRET`, `_AUTH_URL`, `_TOKEN_URL`, `_API_URL`.

/// The providers these settings exist for, in button order.
pub const PROVIDERS: &[&str] = &["facebook", "x", "github"];

const FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "auth_url",
    "token_url",
    "api_url",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub api_url: Option<String>,
}

impl OAuthSettings {
    /// Sets `field` (`client_id`, …); false if there is no such field.
    pub fn set(&mut self, field: &str, value: &str) -> bool {
        let v = (!value.is_empty()).then(|| value.to_owned());
        match field {
            "client_id" => self.client_id = v,
            "client_secret" => self.client_secret = v,
            "auth_url" => self.auth_url = v,
            "token_url" => self.token_url = v,
            "api_url" => self.api_url = v,
            _ => return false,
        }
        true
    }

    pub fn enabled(&self) -> Option<(&str, &str)> {
        Some((self.client_id.as_deref()?, self.client_secret.as_deref()?))
    }

    /// What is wrong with `provider`'s settings; `prod` refuses plain-http endpoints.
    pub fn problems(&self, provider: &str, prod: bool, loopback: fn(&str) -> bool) -> Vec<String> {
        let up = provider.to_ascii_uppercase();
        let mut e = Vec::new();
        if self.client_id.is_some() != self.client_secret.is_some() {
            e.push(format!(
                "{provider}_client_id and {provider}_client_secret (KEYCARD_{up}_CLIENT_ID, KEYCARD_{up}_CLIENT_SECRET): set both or neither"
            ));
        }
        for (field, url) in [
            ("auth_url", &self.auth_url),
            ("token_url", &self.token_url),
            ("api_url", &self.api_url),
        ] {
            let Some(url) = url else { continue };
            let https = url.starts_with("https://");
            let name = format!(
                "{provider}_{field} (KEYCARD_{up}_{})",
                field.to_ascii_uppercase()
            );
            if !(https || url.starts_with("http://")) {
                e.push(format!("{name}: `{url}` must be an http(s) URL"));
            } else if prod && !https && !loopback(url) {
                e.push(format!("{name}: production requires https"));
            }
        }
        e
    }
}

/// `facebook_client_id` → (`facebook`, `client_id`), for the providers and fields above.
pub fn split_key(key: &str) -> Option<(&'static str, &str)> {
    PROVIDERS.iter().find_map(|p| {
        let field = key.strip_prefix(p)?.strip_prefix('_')?;
        FIELDS.contains(&field).then_some((*p, field))
    })
}

/// Every key these settings add, with its help text.
pub fn keys() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in PROVIDERS {
        let label = match *p {
            "facebook" => "Facebook",
            "github" => "GitHub",
            _ => "X",
        };
        out.push((
            format!("{p}_client_id"),
            format!("Sign in with {label}: client id (with {p}_client_secret)"),
        ));
        out.push((
            format!("{p}_client_secret"),
            format!("Sign in with {label}: client secret"),
        ));
        out.push((
            format!("{p}_auth_url"),
            format!("{label}'s authorization endpoint (default: the real one)"),
        ));
        out.push((
            format!("{p}_token_url"),
            format!("{label}'s token endpoint (default: the real one)"),
        ));
        out.push((
            format!("{p}_api_url"),
            format!("{label}'s API base URL (default: the real one)"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_provider_and_field() {
        assert_eq!(split_key("github_token_url"), Some(("github", "token_url")));
        assert_eq!(split_key("x_client_id"), Some(("x", "client_id")));
        assert_eq!(split_key("x_colour"), None);
        assert_eq!(split_key("myspace_client_id"), None);
        assert_eq!(keys().len(), 15);
    }
}
