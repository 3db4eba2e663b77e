//! Settings of Sign in with Apple: enabled by the Services ID, the team id, the key id and the
//! team's private key (the `.p8` file's text; `KEYCARD_APPLE_PRIVATE_KEY_FILE` reads it from a
//! file instead); `KEYCARD_APPLE_ISSUER` points it at a stand-in.

const FIELDS: &[(&str, &str)] = &[
    (
        "client_id",
        "Sign in with Apple: the Services ID (with apple_team_id, apple_key_id and apple_private_key)",
    ),
    ("team_id", "Sign in with Apple: the developer team id"),
    (
        "key_id",
        "Sign in with Apple: the id of the team's Sign in with Apple key",
    ),
    (
        "private_key",
        "Sign in with Apple: that key, the .p8 file's PEM text (\\n escapes allowed)",
    ),
    (
        "private_key_file",
        "Sign in with Apple: a path to the .p8 file, instead of apple_private_key",
    ),
    (
        "issuer",
        "another issuer than https://appleid.apple.com (a stand-in), read by discovery",
    ),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppleSettings {
    pub client_id: Option<String>,
    pub team_id: Option<String>,
    pub key_id: Option<String>,
    pub private_key: Option<String>,
    pub private_key_file: Option<std::path::PathBuf>,
    pub issuer: Option<String>,
}

/// Everything an enabled Apple provider needs.
pub struct AppleEnabled<'a> {
    pub client_id: &'a str,
    pub team_id: &'a str,
    pub key_id: &'a str,
    /// The key's PEM text, read from the file when configured so.
    pub private_key: String,
    pub issuer: Option<&'a str>,
}

impl AppleSettings {
    /// Sets `field`; false if there is no such field.
    pub fn set(&mut self, field: &str, value: &str) -> bool {
        let v = (!value.is_empty()).then(|| value.to_owned());
        match field {
            "client_id" => self.client_id = v,
            "team_id" => self.team_id = v,
            "key_id" => self.key_id = v,
            "private_key" => self.private_key = v,
            "private_key_file" => self.private_key_file = v.map(Into::into),
            "issuer" => self.issuer = v,
            _ => return false,
        }
        true
    }

    fn has_key(&self) -> bool {
        self.private_key.is_some() || self.private_key_file.is_some()
    }

    /// The settings when Apple is enabled (the key file read now).
    pub fn enabled(&self) -> anyhow::Result<Option<AppleEnabled<'_>>> {
        let (Some(client_id), Some(team_id), Some(key_id)) =
            (&self.client_id, &self.team_id, &self.key_id)
        else {
            return Ok(None);
        };
        let private_key = match (&self.private_key, &self.private_key_file) {
            (Some(pem), _) => pem.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("apple_private_key_file {}: {e}", path.display()))?,
            (None, None) => return Ok(None),
        };
        Ok(Some(AppleEnabled {
            client_id,
            team_id,
            key_id,
            private_key,
            issuer: self.issuer.as_deref(),
        }))
    }

    /// What is wrong; `prod` refuses a plain-http issuer.
    pub fn problems(&self, prod: bool, loopback: fn(&str) -> bool) -> Vec<String> {
        let mut e = Vec::new();
        let set = [
            self.client_id.is_some(),
            self.team_id.is_some(),
            self.key_id.is_some(),
            self.has_key(),
        ];
        if set.contains(&true) && set.contains(&false) {
            e.push("apple_client_id, apple_team_id, apple_key_id and apple_private_key (KEYCARD_APPLE_…): set all four or none".into());
        }
        if self.private_key.is_some() && self.private_key_file.is_some() {
            e.push("apple_private_key and apple_private_key_file: set one, not both".into());
        }
        if let Some(iss) = &self.issuer {
            let https = iss.starts_with("https://");
            if !(https || iss.starts_with("http://")) {
                e.push(format!(
                    "apple_issuer (KEYCARD_APPLE_ISSUER): `{iss}` must be an http(s) URL"
                ));
            } else if prod && !https && !loopback(iss) {
                e.push("apple_issuer (KEYCARD_APPLE_ISSUER): production requires https".into());
            }
        }
        e
    }
}

/// `apple_team_id` → `team_id`.
pub fn split_key(key: &str) -> Option<&str> {
    let field = key.strip_prefix("apple_")?;
    FIELDS.iter().any(|(f, _)| *f == field).then_some(field)
}

/// Every key these settings add, with its help text.
pub fn keys() -> Vec<(String, String)> {
    FIELDS
        .iter()
        .map(|(f, help)| (format!("apple_{f}"), (*help).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_four_or_none() {
        let mut a = AppleSettings::default();
        assert!(a.problems(true, |_| false).is_empty());
        assert!(a.set("client_id", "com.example.id"));
        assert_eq!(a.problems(true, |_| false).len(), 1);
        for (f, v) in [("team_id", "T"), ("key_id", "K"), ("private_key", "PEM")] {
            assert!(a.set(f, v));
        }
        assert!(a.problems(true, |_| false).is_empty());
        assert!(a.set("private_key_file", "/k.p8"));
        assert_eq!(a.problems(true, |_| false).len(), 1);
        assert!(!a.set("colour", "red"));
        assert_eq!(split_key("apple_key_id"), Some("key_id"));
        assert_eq!(split_key("apple_colour"), None);
        assert_eq!(keys().len(), 6);
    }
}
