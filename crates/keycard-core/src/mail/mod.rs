//! Mail that Keycard sends people (the link that verifies an address, and later resets and
//! notices). A message is written to a durable outbox in the same transaction as the change it
//! announces, and delivered off the request path by [`Keycard::deliver_mail`], with retries:
//! a crash or an unreachable mail server loses no message and never fails the request. Keycard's
//! core knows no SMTP: the server supplies a [`MailSender`]. What a message carries (a link with
//! a one-time token, for one) is sealed with the key-encryption key while it waits.

mod delivery;
mod store;

pub use delivery::{Delivered, RETRY_BACKOFF};
pub use store::{OutboxStore, PendingMail};

use crate::accounts::Email;
use crate::ids::MailId;
use time::OffsetDateTime;

/// Which message, which decides its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// The link that proves the person reads this address.
    VerifyEmail,
    /// The link that sets a new password.
    PasswordReset,
    /// A notice that the password was changed or reset, with the way back if it was not them.
    PasswordChanged,
    /// Someone tried to sign up with an address that has an account (hidden sign-up mode).
    SignupAttempt,
    /// The link that makes a new address the account's, mailed to the new address.
    ConfirmEmailChange,
    /// To the old address: the account's address changed, with the link that undoes it.
    EmailChanged,
    /// A change to how the account signs in (second factor set up or removed, recovery codes
    /// made or used); the `change` field says which.
    SecurityChange,
}

impl MailKind {
    pub const ALL: [Self; 7] = [
        Self::VerifyEmail,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::SignupAttempt,
        Self::ConfirmEmailChange,
        Self::EmailChanged,
        Self::SecurityChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::SignupAttempt => "signup_attempt",
            Self::ConfirmEmailChange => "confirm_email_change",
            Self::EmailChanged => "email_changed",
            Self::SecurityChange => "security_change",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A message to one person, as the sender renders it: its kind, their language, and the fields
/// of its template (`name`, `link`…).
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub id: MailId,
    pub kind: MailKind,
    pub to: Email,
    /// A page language (`en`, `es`); the sender falls back to English.
    pub locale: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: OffsetDateTime,
}

impl Mail {
    pub fn new(
        kind: MailKind,
        to: Email,
        locale: &str,
        fields: serde_json::Map<String, serde_json::Value>,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id: MailId::new(),
            kind,
            to,
            locale: locale.to_owned(),
            fields,
            created_at,
        }
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.as_str())
    }
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    /// Worth trying again later (the server is down, busy, or refused for now).
    #[error("transient: {0}")]
    Transient(String),
    /// Trying again cannot help (the address was refused for good, the message is malformed).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Delivers one rendered message; supplied by the server (SMTP, or the log in development).
#[async_trait::async_trait]
pub trait MailSender: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), SendFailure>;
}
