//! What throttling needs from storage: the authoritative counters, shared by every instance on
//! one database. Times are unix milliseconds.

use crate::store::StoreResult;
use async_trait::async_trait;

/// The consecutive failed sign-ins of one account key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRecord {
    pub failures: u32,
    pub last_failure_ms: i64,
    /// The next attempt is refused before this instant.
    pub locked_until_ms: i64,
}

#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// One event for the rate-limited `key` at `now_ms`, atomically (GCRA, see
    /// [`super::Rate`]): the key's TAT becomes `max(tat, now) + interval` unless that would run
    /// more than `window` ahead of now. `None` when allowed; the stored TAT when refused.
    async fn take_rate(
        &self,
        key: &str,
        now_ms: i64,
        interval_ms: i64,
        window_ms: i64,
    ) -> StoreResult<Option<i64>>;

    /// Undoes one event of `key` (an attempt that turned out not to count).
    async fn give_back_rate(&self, key: &str, interval_ms: i64) -> StoreResult<()>;

    async fn login_failures(&self, account: &str) -> StoreResult<Option<FailureRecord>>;

    /// Stores `next` for `account` only if its failure count is still `expected` (0: no record),
    /// so of concurrent attempts each counts once. False when another attempt got there first.
    async fn swap_login_failures(
        &self,
        account: &str,
        expected: u32,
        next: &FailureRecord,
    ) -> StoreResult<bool>;

    async fn clear_login_failures(&self, account: &str) -> StoreResult<()>;

    /// Deletes rate keys whose TAT has passed (the same as absent) and failure records neither
    /// locked at `now_ms` nor touched since `forget_before_ms`. Returns how many rows went.
    async fn prune_throttles(&self, now_ms: i64, forget_before_ms: i64) -> StoreResult<u64>;
}
