//! Keycard's adapters to identity providers: each turns keycard-core's
//! [`IdentityProvider`](keycard_core::social::IdentityProvider) into the provider's protocol over
//! HTTPS. The core decides everything about accounts and sessions; an adapter only builds the
//! authorization URL and turns a code into a verified profile.
//!
//! Every outbound call has a timeout, follows no redirect, and is timed per provider and call
//! (`keycard_provider_request_seconds`).

#![forbid(unsafe_code)]

mod http;
mod oidc;

pub use http::outbound_client;
pub use oidc::{Endpoints, OidcConfig, OidcProvider};
