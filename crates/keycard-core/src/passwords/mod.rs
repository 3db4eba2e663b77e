//! Passwords: the acceptance policy (NIST 800-63B style) and argon2id hashing, which runs on a
//! bounded pool off the async runtime so a login burst cannot exhaust CPU or memory.

mod breached;
mod hasher;
mod memory;
mod policy;

pub use breached::{BreachScreen, RangeSource};
pub use hasher::{HashParams, PasswordHasher, Verification};
pub use memory::hash_area;
pub use policy::{Password, PasswordPolicy};
