//! Client applications from the settings file: each `[[clients]]` table is applied at start, so
//! a deployment's registry is reproducible from its configuration. Flattened to
//! `clients.<id>.<field>` keys (lists space-separated), so tools and tests set them like any
//! other setting.
//!
//! ```toml
//! [[clients]]
//! id = "storefront"
//! name = "Storefront"
//! type = "public"
//! redirect_uris = ["https://shop.example.com/callback"]
//! first_party = true
//! ```

use keycard_core::oidc::{ClientKind, ClientSpec, GrantType, IdTokenAlg};
use std::collections::BTreeMap;

pub const FIELDS: &[&str] = &[
    "name",
    "type",
    "secret",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "logo_url",
    "grant_types",
    "scopes",
    "first_party",
    "id_token_alg",
    "enabled",
];

/// One `[[clients]]` table, as text, by field.
pub type ClientSeed = BTreeMap<String, String>;

/// `clients.shop.name` → (`shop`, `name`).
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("clients.")?;
    let (id, field) = rest.rsplit_once('.')?;
    FIELDS.contains(&field).then_some((id, field))
}

fn words(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn flag(seed: &ClientSeed, field: &str, default: bool) -> Result<bool, String> {
    match seed.get(field).map(String::as_str) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!("{field} = `{other}`: true or false")),
    }
}

/// The registration a seed asks for, and its secret; or what is wrong with it.
pub fn spec(id: &str, seed: &ClientSeed) -> Result<(ClientSpec, Option<String>), String> {
    let kind = match seed.get("type").map(String::as_str) {
        Some("public") => ClientKind::Public,
        Some("confidential") => ClientKind::Confidential,
        _ => return Err("type: `public` or `confidential` is required".into()),
    };
    let name = seed.get("name").cloned().unwrap_or_else(|| id.to_owned());
    let mut spec = ClientSpec::new(id, &name, kind, words(seed.get("redirect_uris")));
    spec.post_logout_redirect_uris = words(seed.get("post_logout_redirect_uris"));
    spec.backchannel_logout_uri = seed.get("backchannel_logout_uri").cloned();
    spec.logo_url = seed.get("logo_url").cloned();
    if seed.contains_key("grant_types") {
        spec.grant_types = words(seed.get("grant_types"))
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| format!("grant_types: `{g}` is not offered"))
            })
            .collect::<Result<_, _>>()?;
    }
    if seed.contains_key("scopes") {
        spec.scopes = words(seed.get("scopes"));
    }
    spec.first_party = flag(seed, "first_party", false)?;
    spec.enabled = flag(seed, "enabled", true)?;
    if let Some(alg) = seed.get("id_token_alg") {
        spec.id_token_alg = IdTokenAlg::parse(alg)
            .ok_or_else(|| format!("id_token_alg: `{alg}`: RS256, EdDSA or ES256"))?;
    }
    spec.check().map_err(|e| e.to_string())?;
    let secret = seed.get("secret").cloned();
    match (kind, &secret) {
        (ClientKind::Confidential, None) => {
            return Err(
                "secret: a confidential client needs its secret (at least 32 characters)".into(),
            );
        }
        (ClientKind::Confidential, Some(s))
            if s.len() < 32 || s.chars().collect::<std::collections::BTreeSet<_>>().len() < 16 =>
        {
            return Err(
                "secret: at least 32 characters of a random secret (`openssl rand -base64 32`)"
                    .into(),
            );
        }
        (ClientKind::Public, Some(_)) => {
            return Err("secret: a public client has none".into());
        }
        _ => {}
    }
    Ok((spec, secret))
}

/// What is wrong with the seeds, for the settings' start-up check.
pub fn problems(all: &BTreeMap<String, ClientSeed>) -> Vec<String> {
    all.iter()
        .filter_map(|(id, seed)| {
            spec(id, seed)
                .err()
                .map(|e| format!("[[clients]] {id}: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(pairs: &[(&str, &str)]) -> ClientSeed {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn seeds_become_registrations() {
        assert_eq!(split_key("clients.shop.name"), Some(("shop", "name")));
        assert_eq!(split_key("clients.shop.colour"), None);
        let (s, secret) = spec(
            "shop",
            &seed(&[
                ("type", "public"),
                (
                    "redirect_uris",
                    "https://shop.example.com/cb com.example.shop:/cb",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(s.redirect_uris.len(), 2);
        assert!(!s.first_party && secret.is_none());
        assert!(
            spec(
                "api",
                &seed(&[
                    ("type", "confidential"),
                    ("grant_types", "client_credentials")
                ])
            )
            .is_err()
        );
        let weak = "x".repeat(40);
        let weak_seed = seed(&[
            ("type", "confidential"),
            ("grant_types", "client_credentials"),
            ("secret", &weak),
        ]);
        assert!(spec("api", &weak_seed).is_err(), "not a random secret");
        let long = "Jq8vS2mXw0tYb7LzN4kPa1cRf6eHd3gUi9oT5yWn";
        let (s, secret) = spec(
            "api",
            &seed(&[
                ("type", "confidential"),
                ("grant_types", "client_credentials"),
                ("secret", long),
            ]),
        )
        .unwrap();
        assert_eq!(s.grant_types, [GrantType::ClientCredentials]);
        assert_eq!(secret.as_deref(), Some(long));
        assert!(
            spec(
                "x",
                &seed(&[("type", "public"), ("grant_types", "password")])
            )
            .is_err()
        );
        assert!(
            spec(
                "x",
                &seed(&[
                    ("type", "public"),
                    ("redirect_uris", "http://evil.example/cb")
                ])
            )
            .is_err()
        );
    }
}
