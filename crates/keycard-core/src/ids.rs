//! Identifier newtypes, so a session id can never be passed where a user id is expected.
//! UUIDv7: time-ordered, which keeps B-tree inserts local. They are identifiers, never secrets.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person's account.
    UserId
);
id_type!(
    /// One signed-in device or grant; every token belongs to exactly one.
    SessionId
);
id_type!(
    /// One row of the audit trail.
    AuditId
);
id_type!(
    /// One refresh token in a session's rotation chain.
    RefreshTokenId
);
id_type!(
    /// One provider identity linked to an account.
    IdentityId
);
id_type!(
    /// One message in the mail outbox.
    MailId
);
