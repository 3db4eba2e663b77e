//! Who may administer Keycard over its admin API: a confidential app holding the
//! `keycard:admin` scope, with an access token it got by `client_credentials`. The admin
//! credential is then an ordinary client secret: registered, rotated and audited like any
//! other, and every admin action is recorded with the app that made it.

use super::provider::Provider;
use crate::error::{Error, Result};

/// The scope that makes a service an administrator.
pub const ADMIN_SCOPE: &str = "keycard:admin";

impl Provider<'_> {
    /// The admin app behind a bearer token: an unexpired `client_credentials` token of an
    /// enabled app, carrying [`ADMIN_SCOPE`]. A person's token, or a service's without the
    /// scope, is `Forbidden`; anything else `Unauthenticated`.
    pub async fn admin_of(&self, token: &str) -> Result<String> {
        let (claims, grant) = self.verify_app_token(token).await?;
        if grant.is_some() || claims.sub != claims.client_id {
            return Err(Error::Forbidden(
                "a person's token cannot administer Keycard",
            ));
        }
        if !claims.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(Error::Forbidden("the token lacks the keycard:admin scope"));
        }
        Ok(claims.client_id)
    }
}
