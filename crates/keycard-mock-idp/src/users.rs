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

pub fn find(id: &str) -> Option<&'static TestUser> {
    USERS.iter().find(|u| u.id == id)
}

impl TestUser {
    /// The provider's subject for this user: stable, and different per provider, as real
    /// providers' are.
    pub fn subject(&self, provider: &str) -> String {
        format!("{provider}-{}-0001", self.id)
    }
}
