//! More OpenID Connect providers than the one `oidc` of the environment: each under
//! `[providers.<id>]` in the TOML file, with `issuer`, `client_id`, `client_secret` and
//! optionally `name` (the button label) and `scopes`. Its redirect URI is
//! `{public_url}/v1/auth/social/<id>/callback`. Flattened to `providers.<id>.<field>` keys, so
//! tools and tests set them like any other setting.

use std::collections::BTreeMap;

/// Ids the built-in providers own.
const RESERVED: &[&str] = &["google", "apple", "facebook", "x", "github", "oidc"];
const FIELDS: &[&str] = &["issuer", "client_id", "client_secret", "name", "scopes"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcProviderSettings {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub name: Option<String>,
    pub scopes: Option<String>,
}

/// `providers.corp.issuer` → (`corp`, `issuer`); any id, so that a bad one is reported by
/// [`problems`] rather than as an unknown setting.
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("providers.")?;
    let (id, field) = rest.split_once('.')?;
    FIELDS.contains(&field).then_some((id, field))
}

/// Sets `field` of provider `id`.
pub fn set(all: &mut BTreeMap<String, OidcProviderSettings>, id: &str, field: &str, v: &str) {
    let p = all.entry(id.to_owned()).or_default();
    let v = (!v.is_empty()).then(|| v.to_owned());
    match field {
        "issuer" => p.issuer = v,
        "client_id" => p.client_id = v,
        "client_secret" => p.client_secret = v,
        "name" => p.name = v,
        _ => p.scopes = v,
    }
}

/// What is wrong with the configured providers; `prod` refuses a plain-http issuer.
pub fn problems(
    all: &BTreeMap<String, OidcProviderSettings>,
    prod: bool,
    loopback: fn(&str) -> bool,
) -> Vec<String> {
    let mut e = Vec::new();
    for (id, p) in all {
        let at = format!("[providers.{id}]");
        let id_ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            e.push(format!(
                "{at}: the id must be 1 to 32 of a-z, 0-9 and - (it is part of the redirect URI)"
            ));
        }
        if RESERVED.contains(&id.as_str()) {
            e.push(format!(
                "{at}: `{id}` is a built-in provider's id; choose another"
            ));
        }
        if p.issuer.is_none() || p.client_id.is_none() || p.client_secret.is_none() {
            e.push(format!(
                "{at}: issuer, client_id and client_secret are required"
            ));
        }
        if let Some(iss) = &p.issuer {
            let https = iss.starts_with("https://");
            if !(https || iss.starts_with("http://")) {
                e.push(format!("{at}: issuer `{iss}` must be an http(s) URL"));
            } else if prod && !https && !loopback(iss) {
                e.push(format!("{at}: production requires an https issuer"));
            }
        }
        if let Some(s) = &p.scopes
            && !s.split(' ').any(|s| s == "openid")
        {
            e.push(format!("{at}: scopes must include openid"));
        }
        if p.name.as_ref().is_some_and(|n| n.chars().count() > 60) {
            e.push(format!("{at}: name is at most 60 characters"));
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_rules() {
        assert_eq!(split_key("providers.corp.issuer"), Some(("corp", "issuer")));
        assert_eq!(split_key("providers.corp.colour"), None);
        assert_eq!(split_key("providers.corp"), None);
        let mut all = BTreeMap::new();
        set(&mut all, "corp", "issuer", "https://login.corp.example");
        assert_eq!(problems(&all, true, |_| false).len(), 1, "secret missing");
        set(&mut all, "corp", "client_id", "kc");
        set(&mut all, "corp", "client_secret", "s");
        assert!(problems(&all, true, |_| false).is_empty());
        set(&mut all, "google", "issuer", "http://idp.example");
        set(&mut all, "google", "client_id", "kc");
        set(&mut all, "google", "client_secret", "s");
        let p = problems(&all, true, |_| false);
        assert!(p.iter().any(|p| p.contains("built-in")), "{p:?}");
        assert!(p.iter().any(|p| p.contains("https")), "{p:?}");
        let mut bad = BTreeMap::new();
        set(&mut bad, "Corp_1", "issuer", "https://i");
        set(&mut bad, "Corp_1", "client_id", "kc");
        set(&mut bad, "Corp_1", "client_secret", "s");
        set(&mut bad, "Corp_1", "scopes", "email");
        assert_eq!(problems(&bad, false, |_| false).len(), 2);
    }
}
