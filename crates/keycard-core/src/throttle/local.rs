//! The in-memory front of the limiter. It answers floods without a database round trip: a key
//! this process has already seen over its limit is refused here. It is only ever *stricter than
//! nothing and never stricter than the database*: it counts this process's events (a subset of
//! everyone's) and learns the database's state whenever the database refuses, so dropping it at
//! any time loses no protection — which is what happens when it grows too big.

use super::rate::Rate;
use std::collections::HashMap;
use std::sync::Mutex;

/// Beyond this many keys (a spray from very many addresses) the memo starts over.
const MAX_KEYS: usize = 200_000;
/// Expired entries are swept every this many calls.
const SWEEP_EVERY: u32 = 4_096;
/// A key still refused is reported again after this long: one audit event and one log line a
/// minute per flooding key, however large the flood.
const REPORT_EVERY_MS: i64 = 60_000;

#[derive(Debug, Default)]
pub(crate) struct LocalMemo {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Rate keys → TAT (ms).
    rates: HashMap<String, i64>,
    /// Account keys → locked until (ms).
    locks: HashMap<String, i64>,
    /// Keys whose refusals have been reported (audited), and when last.
    reported: HashMap<String, i64>,
    calls: u32,
}

impl Inner {
    fn sweep(&mut self, now_ms: i64) {
        self.calls = self.calls.wrapping_add(1);
        if !self.calls.is_multiple_of(SWEEP_EVERY) {
            return;
        }
        self.rates.retain(|_, tat| *tat > now_ms);
        self.locks.retain(|_, until| *until > now_ms);
        self.reported.retain(|_, at| *at + REPORT_EVERY_MS > now_ms);
        if self.rates.len() + self.locks.len() > MAX_KEYS {
            tracing::warn!(
                keys = self.rates.len() + self.locks.len(),
                "throttle memo full: starting over (the database still holds every limit)"
            );
            *self = Inner::default();
        }
    }
}

impl LocalMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One event for `key` as this process counts it; `Err(wait_ms)` when over the limit.
    pub fn take(&self, key: &str, rate: &Rate, now_ms: i64) -> Result<(), i64> {
        let mut g = self.lock();
        g.sweep(now_ms);
        let tat = g.rates.get(key).copied();
        let next = rate.take(tat, now_ms)?;
        g.rates.insert(key.to_owned(), next);
        Ok(())
    }

    /// The database refused `key` with this TAT: remember it, so the flood stops here.
    pub fn learn_tat(&self, key: &str, tat_ms: i64) {
        let mut g = self.lock();
        let e = g.rates.entry(key.to_owned()).or_insert(tat_ms);
        *e = (*e).max(tat_ms);
    }

    /// Undoes one event (an attempt that turned out not to count).
    pub fn give_back(&self, key: &str, rate: &Rate) {
        if let Some(tat) = self.lock().rates.get_mut(key) {
            *tat -= rate.interval_ms();
        }
    }

    /// How long `key` is still locked, if this process knows it is.
    pub fn locked_for(&self, key: &str, now_ms: i64) -> Option<i64> {
        let mut g = self.lock();
        g.sweep(now_ms);
        g.locks
            .get(key)
            .map(|until| until - now_ms)
            .filter(|w| *w > 0)
    }

    pub fn learn_lock(&self, key: &str, until_ms: i64) {
        let mut g = self.lock();
        let e = g.locks.entry(key.to_owned()).or_insert(until_ms);
        *e = (*e).max(until_ms);
    }

    pub fn forget_lock(&self, key: &str) {
        self.lock().locks.remove(key);
    }

    /// True when a refusal of `key` is worth reporting: the first one, and then one a minute
    /// while the refusals go on; the rest of a flood is only counted.
    pub fn first_refusal(&self, key: &str, now_ms: i64) -> bool {
        let mut g = self.lock();
        match g.reported.get(key) {
            Some(at) if *at + REPORT_EVERY_MS > now_ms => false,
            _ => {
                g.reported.insert(key.to_owned(), now_ms);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refuses_locally_and_learns_from_the_database() {
        let m = LocalMemo::default();
        let r = Rate::new(2, Duration::from_secs(10));
        assert!(m.take("k", &r, 0).is_ok());
        assert!(m.take("k", &r, 0).is_ok());
        assert_eq!(m.take("k", &r, 0), Err(5_000));
        m.give_back("k", &r);
        assert!(m.take("k", &r, 0).is_ok());
        // Another process used the key: the database's TAT is further ahead.
        m.learn_tat("j", 30_000);
        assert_eq!(m.take("j", &r, 0), Err(25_000));
    }

    #[test]
    fn locks_end_and_refusals_are_reported_once_a_minute() {
        let m = LocalMemo::default();
        m.learn_lock("a", 1_000);
        assert_eq!(m.locked_for("a", 400), Some(600));
        assert_eq!(m.locked_for("a", 1_000), None);
        assert!(m.first_refusal("a", 0));
        assert!(!m.first_refusal("a", 59_999));
        assert!(m.first_refusal("a", 60_000));
        assert!(m.first_refusal("b", 60_000));
    }
}
