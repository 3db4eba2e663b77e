pub mod auth;
pub mod me;
pub mod ops;
pub mod sessions;
pub mod social;
