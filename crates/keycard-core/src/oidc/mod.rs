//! Keycard as the OpenID Provider of the platform's apps. Its first part is the registry of
//! client applications: who may ask Keycard to sign people in, where the answers may go, and
//! with which grants — managed from the command line, a seed file and (later) the admin API,
//! all through the [`Clients`] use case.

mod admin;
mod authorize;
mod claims;
mod client;
mod consents;
mod end_session;
mod grants;
mod logout;
mod oauth_error;
mod provider;
mod redirect;
mod registry;
mod revocation;
mod secrets;
mod store;
mod token;

pub use admin::ADMIN_SCOPE;
/// Space-separated scope values, each once.
pub(crate) use authorize::scopes as scopes_of;
pub use authorize::{AuthRequest, AuthorizeParams, Prompt, Rejection};
pub use claims::{AppAccessClaims, IdTokenClaims, ProfileClaims};
pub use client::{Client, ClientKind, ClientSpec, GrantType, IdTokenAlg};
pub use consents::AppAccess;
pub use end_session::EndSession;
pub use grants::{AuthCode, GrantStore, Redemption};
pub use logout::{LOGOUT_TOKEN_TYP, LogoutChannel};
pub use oauth_error::{OAuthCode, OAuthError};
pub use provider::{CODE_TTL, Next, Provider, answer_url, error_url};
pub use registry::{Clients, Registered, Seeded};
pub use secrets::ClientSecrets;
pub use store::ClientStore;
pub use token::{ClientAuth, TokenRequest, TokenResponse};
