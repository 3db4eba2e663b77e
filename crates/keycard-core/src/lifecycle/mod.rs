//! The account's lifecycle after sign-up: proving the address (verification links). Each flow
//! writes its token and the mail that carries it in one transaction (see [`crate::mail`]).

mod store;
mod verification;

pub use store::{LifecycleStore, NewVerification, Verified};
pub use verification::{VERIFICATION_PREFIX, Verification};
