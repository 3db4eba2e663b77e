//! Second factors: an authenticator app (TOTP, RFC 6238) and the recovery codes that stand in
//! for it, the challenge a password sign-in gets when the account has one, and the step that
//! completes it.
//!
//! - Enrolment ([`enrol`]): a new secret is stored sealed and unconfirmed; the first correct
//!   code confirms it and makes ten recovery codes, shown once and stored hashed. Setting up,
//!   removing and new codes need a recent sign-in, and each is audited and mailed.
//! - Sign-in ([`challenge`]): a right password on an account with a factor answers with a
//!   challenge (256 bits, hashed, five minutes, single use, five wrong codes at most) instead of
//!   a session; a TOTP code or a recovery code completes it into the usual session, whose `amr`
//!   says how. Wrong codes are throttled per account and network like passwords.
//! - Each TOTP step is accepted once per account (the last accepted step is stored, and moved
//!   forward by compare-and-set), each recovery code once.

mod challenge;
mod enrol;
mod recovery;
mod store;
mod totp;

pub use challenge::{CHALLENGE_PREFIX, MfaRequired, SecondStep};
pub use enrol::{MfaStatus, TotpEnrolment};
pub use recovery::RECOVERY_CODES;
pub use store::{MfaChallenge, MfaStore, SecondFactorCounts, TotpFactor};

use crate::service::Keycard;
use std::sync::Arc;

/// The use case behind `/v1/me/mfa/…`, `/v1/auth/mfa` and their pages.
pub struct Mfa<'a> {
    kc: &'a Arc<Keycard>,
}

impl Keycard {
    pub fn mfa(self: &Arc<Self>) -> Mfa<'_> {
        Mfa { kc: self }
    }
}
