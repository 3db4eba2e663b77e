//! The admin API, for an app holding `keycard:admin` (see `keycard_core::oidc::ADMIN_SCOPE`)
//! with a `client_credentials` token: the registry of apps, people's accounts and the audit
//! trail.

pub mod apps;
pub mod events;
pub mod users;

use crate::error::ApiError;
use crate::extract::bearer;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use keycard_core::error::AuthFailure;
use keycard_core::{ClientInfo, Error};

/// The admin app making the call.
pub struct Admin(pub String);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        Ok(Self(state.keycard.provider().admin_of(token).await?))
    }
}

/// Audit events of an admin action name the app that made it where a person's name their
/// browser.
fn acting(by: &mut ClientInfo, admin: &str) {
    by.user_agent = Some(format!("admin app {admin}"));
}
