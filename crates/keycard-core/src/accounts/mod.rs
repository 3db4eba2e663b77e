//! Accounts: who a person is to Keycard. One user owns one email and, later, many identities.

mod email;
mod user;

pub use email::Email;
pub(crate) use user::parse_name;
pub use user::{ProfileUpdate, User};
