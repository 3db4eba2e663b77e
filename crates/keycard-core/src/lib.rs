//! Keycard's domain core: the rules of accounts, passwords, sessions, tokens, signing keys and the
//! audit trail. It knows neither HTTP nor SQL: storage is reached through the traits in [`store`],
//! time through [`clock::Clock`], so every rule here is unit-testable and shared by both backends.
//!
//! Entry point: [`Keycard`], the service object the HTTP layer calls once per request.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod browser;
pub mod clock;
pub mod config;
pub mod devices;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod mail;
pub mod mfa;
pub mod oidc;
pub mod passkeys;
pub mod passwords;
pub mod service;
pub mod sessions;
pub mod social;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod webhooks;

pub use config::Policy;
pub use error::{Error, Result};
pub use service::{ClientInfo, Keycard};
