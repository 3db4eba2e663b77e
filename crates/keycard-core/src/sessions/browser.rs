//! Browser sessions: a session like any other (same table, same list, same revocation), reached
//! from the `__Host-keycard_session` cookie, whose secret is stored only as a SHA-256 hash. It
//! keeps an idle window of its own, shorter than an API session's, through every refresh.

use super::Session;
use crate::accounts::User;
use crate::audit::AuditEvent;
use crate::ids::SessionId;
use crate::store::{NewRefreshToken, StoreResult};
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// What makes a session a browser session in storage: the hash of its cookie secret and the
/// idle window every refresh keeps.
#[derive(Debug, Clone, Copy)]
pub struct BrowserSecret {
    pub hash: TokenHash,
    pub idle_timeout: Duration,
}

/// A browser session to open: the session row, its secret, and the first refresh token (for a
/// single-page app's cookie refresh).
#[derive(Debug, Clone)]
pub struct NewBrowserSession {
    pub session: Session,
    pub secret: BrowserSecret,
    pub refresh: NewRefreshToken,
}

#[async_trait]
pub trait BrowserStore: Send + Sync {
    /// Stores a new browser session with its first refresh token and the sign-in's audit events.
    async fn create_browser_session(
        &self,
        session: &NewBrowserSession,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;

    /// The session whose cookie secret hashes to `secret`, with its user, active or not.
    async fn find_browser_session(
        &self,
        secret: &TokenHash,
    ) -> StoreResult<Option<(Session, User)>>;

    /// Marks the session used at `now` and moves its idle deadline to `idle_expires_at` (never
    /// past its absolute end), if it is still active.
    async fn touch_browser_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
}
