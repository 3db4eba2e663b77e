//! How long an account's password sign-in waits after consecutive failures.
//!
//! The count is *consecutive*: only a successful sign-in (or a password change) resets it, never
//! the passing of time, so the NIST 800-63B bound on consecutive failures holds however slowly an
//! attacker guesses. The first `free_failures` cost nothing (typos); then each failure makes the
//! next attempt wait, doubling from `first_delay` up to `lockout`; from `max_failures` on, each
//! failure locks for `max_failures_lockout`. Every lock ends by itself.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub free_failures: u32,
    pub first_delay: Duration,
    pub lockout: Duration,
    pub max_failures: u32,
    pub max_failures_lockout: Duration,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            lockout: Duration::from_secs(15 * 60),
            max_failures: 100,
            max_failures_lockout: Duration::from_secs(24 * 3600),
        }
    }
}

impl Lockout {
    /// The wait imposed after the `failures`-th consecutive failure.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures <= self.free_failures {
            return Duration::ZERO;
        }
        if failures >= self.max_failures {
            return self.max_failures_lockout;
        }
        let doublings = (failures - self.free_failures - 1).min(40);
        self.first_delay
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.lockout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_then_doubling_then_capped_then_the_long_lock() {
        let l = Lockout::default();
        for n in 0..=5 {
            assert_eq!(l.delay_after(n), Duration::ZERO, "failure {n}");
        }
        assert_eq!(l.delay_after(6), Duration::from_secs(1));
        assert_eq!(l.delay_after(7), Duration::from_secs(2));
        assert_eq!(l.delay_after(10), Duration::from_secs(16));
        assert_eq!(l.delay_after(16), Duration::from_secs(900));
        assert_eq!(l.delay_after(60), Duration::from_secs(900));
        assert_eq!(l.delay_after(99), Duration::from_secs(900));
        assert_eq!(l.delay_after(100), Duration::from_secs(86_400));
        assert_eq!(l.delay_after(u32::MAX), Duration::from_secs(86_400));
    }

    #[test]
    fn delays_never_shrink() {
        let l = Lockout::default();
        let mut last = Duration::ZERO;
        for n in 0..200 {
            let d = l.delay_after(n);
            assert!(d >= last, "failure {n}: {d:?} < {last:?}");
            last = d;
        }
    }
}
