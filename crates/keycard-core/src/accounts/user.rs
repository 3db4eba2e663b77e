use super::Email;
use crate::error::Error;
use crate::ids::UserId;
use time::OffsetDateTime;

/// A person's account and public profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// `None` for an account made through a provider that shares no address (X).
    pub email: Option<Email>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture_url: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Set while an operator has the account disabled: it then gets no session and no token.
    pub disabled_at: Option<OffsetDateTime>,
}

const MAX_NAME_CHARS: usize = 200;
const MAX_URL_LEN: usize = 2048;

/// A validated change to the profile; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub name: Option<Option<String>>,
    pub picture_url: Option<Option<String>>,
}

impl ProfileUpdate {
    pub fn parse(
        name: Option<Option<&str>>,
        picture_url: Option<Option<&str>>,
    ) -> Result<Self, Error> {
        let name = name
            .map(|n| n.map(parse_name).transpose())
            .transpose()?
            .map(Option::flatten);
        let picture_url = picture_url
            .map(|u| u.map(parse_picture_url).transpose())
            .transpose()?;
        Ok(Self { name, picture_url })
    }
}

/// Display names: no control characters, bounded (both checked as sent, so the rule is exactly
/// what the OpenAPI schema states), then trimmed. An empty name clears it.
pub(crate) fn parse_name(raw: &str) -> Result<Option<String>, Error> {
    let n = raw;
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            "invalid_name",
            "name is longer than 200 characters",
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "invalid_name",
            "name must not contain control characters",
        ));
    }
    let n = n.trim();
    Ok((!n.is_empty()).then(|| n.to_owned()))
}

/// Only absolute https URLs: a picture is rendered by other apps, and `javascript:` or `data:`
/// URLs there would be an XSS vector. Checked as sent (no trimming), as the schema states it.
fn parse_picture_url(raw: &str) -> Result<String, Error> {
    let u = raw;
    let bad = || {
        Error::invalid(
            "picture_url",
            "invalid_picture_url",
            "picture_url must be an absolute https URL",
        )
    };
    if u.chars().count() > MAX_URL_LEN || !u.starts_with("https://") || u.len() <= "https://".len()
    {
        return Err(bad());
    }
    if u.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return Err(bad());
    }
    Ok(u.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_update_semantics() {
        let u = ProfileUpdate::parse(Some(Some("  Ada ")), None).unwrap();
        assert_eq!(u.name, Some(Some("Ada".into())));
        assert_eq!(u.picture_url, None);
        let cleared = ProfileUpdate::parse(Some(None), Some(None)).unwrap();
        assert_eq!(cleared.name, Some(None));
        assert_eq!(cleared.picture_url, Some(None));
        assert_eq!(
            ProfileUpdate::parse(Some(Some("   ")), None).unwrap().name,
            Some(None)
        );
    }

    #[test]
    fn rejects_unsafe_pictures_and_long_names() {
        for bad in [
            "javascript:alert(1)",
            "http://x.example/p.png",
            "data:image/png;base64,AAAA",
            "https://",
        ] {
            assert!(
                ProfileUpdate::parse(None, Some(Some(bad))).is_err(),
                "{bad}"
            );
        }
        assert!(ProfileUpdate::parse(Some(Some(&"x".repeat(201))), None).is_err());
        assert!(ProfileUpdate::parse(Some(Some("a\u{7}b")), None).is_err());
    }
}
