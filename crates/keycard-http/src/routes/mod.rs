pub mod admin;
pub mod apps;
pub mod auth;
pub mod identities;
pub mod me;
pub mod ops;
pub mod sessions;
pub mod social;
