//! What the device flow stores: one row per device authorization request, found by the hash of
//! its device code (the device's secret) or by its user code (what the person types).

use crate::audit::AuditEvent;
use crate::ids::{SessionId, UserId};
use crate::sessions::Session;
use crate::store::{NewRefreshToken, StoreResult};
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    /// Allowed by this person, signed in this way.
    Approved {
        user_id: UserId,
        session_id: SessionId,
        amr: Vec<String>,
        auth_time: OffsetDateTime,
    },
    Denied,
    /// Its tokens were issued.
    Used,
}

impl DeviceState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved { .. } => "approved",
            Self::Denied => "denied",
            Self::Used => "used",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub device_hash: TokenHash,
    /// Normalised (`BCDFGHJK`).
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// What the device said it is ("Firefox on Linux", or its own User-Agent's label).
    pub device: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Seconds the device must wait between polls; grows with each `slow_down`.
    pub interval: i64,
    pub last_polled_at: Option<OffsetDateTime>,
    pub state: DeviceState,
}

/// A poll of the token endpoint: the request as it was, and whether this poll came too soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    pub request: DeviceRequest,
    pub too_soon: bool,
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// `false` when the user code is already in use by a live request (try another).
    async fn insert_device_request(&self, req: &DeviceRequest) -> StoreResult<bool>;

    async fn find_device_request(&self, user_code: &str) -> StoreResult<Option<DeviceRequest>>;

    /// Sets a pending, unexpired request to `decision` (approved or denied) with its audit
    /// event; false when it was not pending or has expired.
    async fn decide_device_request(
        &self,
        user_code: &str,
        decision: &DeviceState,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;

    /// Records a poll at `now`: a poll sooner than the interval after the last one makes the
    /// interval 5 seconds longer (RFC 8628 §3.5 `slow_down`).
    async fn poll_device_request(
        &self,
        device_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Polled>>;

    /// Marks an approved request used and stores the grant it opens, atomically: exactly one
    /// poll gets the tokens.
    async fn redeem_device_request(
        &self,
        device_hash: &TokenHash,
        grant: &Session,
        refresh: Option<&NewRefreshToken>,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;

    /// Deletes requests expired before `before`.
    async fn prune_device_requests(&self, before: OffsetDateTime) -> StoreResult<u64>;
}
