//! What throttling needs from storage: the authoritative counters, shared by every instance on
//! one database. Times are unix milliseconds.

use super::Lockout;
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

impl FailureRecord {
    /// The end of the lock this record imposes at `now_ms`, if any. A record without a wait
    /// (locked until its own failure) is no lock, even when an attempt that read the clock a
    /// moment before another wrote it finds it "in the future".
    pub fn locked_at(&self, now_ms: i64) -> Option<i64> {
        (self.locked_until_ms > self.last_failure_ms && self.locked_until_ms > now_ms)
            .then_some(self.locked_until_ms)
    }

    /// The record after one more failure at `now_ms`, with the wait it imposes.
    pub fn after_failure(previous: Option<&Self>, now_ms: i64, lockout: &Lockout) -> Self {
        let failures = previous.map_or(0, |p| p.failures).saturating_add(1);
        let wait = i64::try_from(lockout.delay_after(failures).as_millis()).unwrap_or(i64::MAX / 4);
        Self {
            failures,
            last_failure_ms: now_ms,
            locked_until_ms: now_ms.saturating_add(wait),
        }
    }
}

/// What counting a sign-in attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Counted as a failure until its verdict: `counted` is stored, `previous` was.
    Counted {
        previous: Option<FailureRecord>,
        counted: FailureRecord,
    },
    /// The account is locked until then: nothing was counted.
    Locked { until_ms: i64 },
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

    /// Counts one more failure for `account` ([`FailureRecord::after_failure`]) unless it is
    /// locked at `now_ms`. Concurrent calls for one account take turns: each sees the count the
    /// previous one left, so none is lost and a lock stops the ones after it.
    async fn count_login_failure(
        &self,
        account: &str,
        now_ms: i64,
        lockout: &Lockout,
    ) -> StoreResult<Counted>;

    /// Puts `previous` back (no record when `None`) if the record is still exactly `counted`
    /// (all of it, not only its count), i.e. nothing was counted or cleared since.
    async fn uncount_login_failure(
        &self,
        account: &str,
        counted: &FailureRecord,
        previous: Option<&FailureRecord>,
    ) -> StoreResult<()>;

    async fn clear_login_failures(&self, account: &str) -> StoreResult<()>;

    /// Deletes rate keys whose TAT has passed (the same as absent) and failure records of at most
    /// `free_failures` failures neither locked at `now_ms` nor touched since `forget_before_ms`
    /// (records that impose waits stay until a success clears them). Returns how many rows went.
    async fn prune_throttles(
        &self,
        now_ms: i64,
        forget_before_ms: i64,
        free_failures: u32,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_up_and_only_a_wait_is_a_lock() {
        let l = Lockout {
            free_failures: 1,
            ..Lockout::default()
        };
        let first = FailureRecord::after_failure(None, 1_000, &l);
        assert_eq!(first.failures, 1);
        assert_eq!(first.locked_at(999), None, "a free failure locks nothing");
        let second = FailureRecord::after_failure(Some(&first), 2_000, &l);
        assert_eq!(second.failures, 2);
        assert_eq!(second.locked_until_ms, 3_000);
        assert_eq!(second.locked_at(2_500), Some(3_000));
        assert_eq!(second.locked_at(3_000), None, "the lock ends by itself");
    }
}
