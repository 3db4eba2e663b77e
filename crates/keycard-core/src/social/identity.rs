//! One way into an account through a provider, with what the provider said about the person.

use crate::ids::{IdentityId, UserId};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: IdentityId,
    pub user_id: UserId,
    /// Keycard's id of the provider (`google`, `oidc`…).
    pub provider: String,
    /// With `subject`, the key of the identity: an email can change hands, a subject cannot.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// As the provider asserts it.
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture_url: Option<String>,
    pub linked_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
}
