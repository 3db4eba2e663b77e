//! Keycard as the OpenID Provider of the platform's apps. Its first part is the registry of
//! client applications: who may ask Keycard to sign people in, where the answers may go, and
//! with which grants — managed from the command line, a seed file and (later) the admin API,
//! all through the [`Clients`] use case.

mod client;
mod redirect;
mod registry;
mod secrets;
mod store;

pub use client::{Client, ClientKind, ClientSpec, GrantType, IdTokenAlg};
pub use registry::{Clients, Registered, Seeded};
pub use secrets::ClientSecrets;
pub use store::ClientStore;
