//! The test users a person (or a test) chooses from at the provider: the cases Keycard must
//! handle — a verified email, an unverified one, none at all.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    pub id: &'static str,
    pub name: &'static str,
    pub email: Option<&'static str>,
    pub email_verified: bool,
    pub picture: &'static str,
}

pub const USERS: &[TestUser] = &[
    TestUser {
        id: "ada",
        name: "Ada Lovelace",
        email: Some("ada@example.com"),
        email_verified: true,
        picture: "https://pictures.example.com/ada.png",
    },
    TestUser {
        id: "grace",
        name: "Grace Hopper",
        email: Some("grace@example.com"),
        email_verified: false,
        picture: "https://pictures.example.com/grace.png",
    },
    TestUser {
        id: "alan",
        name: "Alan Turing",
        email: None,
        email_verified: false,
        picture: "https://pictures.example.com/alan.png",
    },
];

/// A test user as chosen: `ada`, or `ada+TAG` — the same kind of person with a subject and an
/// email address of their own (`ada+TAG@example.com`), so tests sharing one double (and one
/// Keycard) never meet each other's accounts. TAG: 1–40 of `a-z`, `0-9`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user: &'static TestUser,
    pub tag: Option<String>,
}

impl Person {
    pub fn subject(&self, provider: &str) -> String {
        match &self.tag {
            Some(t) => format!("{provider}-{}+{t}-0001", self.user.id),
            None => self.user.subject(provider),
        }
    }

    /// The provider's numeric id for this person, for the providers whose ids are numbers
    /// (GitHub's is a JSON number; Facebook's and X's are strings of digits). Derived from
    /// [`Person::subject`], so stable and different per provider and tag; below 10^15, so it
    /// survives a trip through a JavaScript number.
    pub fn numeric_id(&self, provider: &str) -> u64 {
        let d = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            self.subject(provider).as_bytes(),
        );
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.as_ref()[..8]);
        u64::from_be_bytes(b) % 1_000_000_000_000_000 + 1
    }

    pub fn email(&self) -> Option<String> {
        let email = self.user.email?;
        Some(match (&self.tag, email.split_once('@')) {
            (Some(t), Some((local, domain))) => format!("{local}+{t}@{domain}"),
            _ => email.to_owned(),
        })
    }
}

pub fn find(id: &str) -> Option<Person> {
    let (base, tag) = match id.split_once('+') {
        Some((b, t)) => (b, Some(t)),
        None => (id, None),
    };
    let valid_tag = |t: &str| {
        (1..=40).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if tag.is_some_and(|t| !valid_tag(t)) {
        return None;
    }
    let user = USERS.iter().find(|u| u.id == base)?;
    Some(Person {
        user,
        tag: tag.map(str::to_owned),
    })
}

impl TestUser {
    /// The provider's subject for this user: stable, and different per provider, as real
    /// providers' are.
    pub fn subject(&self, provider: &str) -> String {
        format!("{provider}-{}-0001", self.id)
    }
}
