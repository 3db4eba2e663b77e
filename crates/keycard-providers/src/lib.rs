//! Keycard's adapters to identity providers: each turns keycard-core's
//! [`IdentityProvider`](keycard_core::social::IdentityProvider) into the provider's protocol over
//! HTTPS. The core decides everything about accounts and sessions; an adapter only builds the
//! authorization URL and turns a code into a verified profile.
//!
//! OpenID Connect providers (Google, Apple, any by its issuer) verify an ID token; the plain OAuth 2.0
//! ones (Facebook, GitHub, X) exchange the code with PKCE and read the person from the
//! provider's API.
//!
//! Every outbound call has a timeout, follows no redirect, and is timed per provider and call
//! (`keycard_provider_request_seconds`).

#![forbid(unsafe_code)]

mod apple;
mod facebook;
mod github;
mod http;
mod oauth2;
mod oidc;
mod x;

pub use apple::{APPLE_ISSUER, AppleConfig, AppleKey, AppleKeyError, AppleProvider};
pub use facebook::FacebookProvider;
pub use github::GitHubProvider;
pub use http::outbound_client;
pub use oauth2::{EndpointOverrides, OAuth2Config, OAuth2Endpoints};
pub use oidc::{ClientAuth, Endpoints, OidcConfig, OidcProvider};
pub use x::XProvider;
