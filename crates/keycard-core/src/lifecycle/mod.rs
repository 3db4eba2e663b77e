//! The account's lifecycle after sign-up: proving the address (verification links) and getting
//! back in without the password (reset links). Each flow writes its token and the mail that
//! carries it in one transaction (see [`crate::mail`]).

mod email_change;
mod hidden_signup;
mod reset;
mod store;
mod verification;

pub use email_change::{CHANGE_PREFIX, EmailChange, UNDO_PREFIX};
pub use hidden_signup::HiddenSignUp;
pub(crate) use reset::AskedBy;
pub use reset::{PasswordReset, RESET_PREFIX};
pub use store::{
    CompletedReset, EmailChangeStore, LifecycleStore, NewEmailChange, NewPasswordReset,
    NewVerification, PendingChange, ResetDone, ResetLink, UndoLink, Verified,
};
pub use verification::{VERIFICATION_PREFIX, Verification};
