//! A rate limit as a generic cell rate (GCRA): `count` events per `period`, all of them allowed in
//! one burst, then one every `period / count`. The whole state of a key is one number, its
//! *theoretical arrival time* (TAT), so a database can advance it in one conditional statement
//! and the in-memory front limiter keeps exactly the same arithmetic.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn new(count: u32, period: Duration) -> Self {
        Self { count, period }
    }

    /// Milliseconds one event adds to the TAT.
    pub fn interval_ms(&self) -> i64 {
        (self.window_ms() / i64::from(self.count.max(1))).max(1)
    }

    /// How far ahead of now the TAT may run: the burst.
    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// One more event at `now_ms` for a key whose TAT is `tat_ms` (`None`: never seen, or
    /// forgotten, which is the same). `Ok(new_tat)` when allowed, `Err(wait_ms)` when refused.
    pub fn take(&self, tat_ms: Option<i64>, now_ms: i64) -> Result<i64, i64> {
        let next = tat_ms.unwrap_or(now_ms).max(now_ms) + self.interval_ms();
        let ahead = next - now_ms;
        if ahead <= self.window_ms() {
            Ok(next)
        } else {
            Err(ahead - self.window_ms())
        }
    }

    /// How long a key whose TAT is `tat_ms` must wait before its next event is allowed.
    pub fn wait_ms(&self, tat_ms: i64, now_ms: i64) -> i64 {
        (tat_ms + self.interval_ms() - now_ms - self.window_ms()).max(0)
    }

    /// `30/1m`, `5/1h`, `1000/10s`: a count, a slash and a duration (bare numbers are seconds).
    pub fn parse(
        s: &str,
        duration: impl Fn(&str) -> Result<Duration, String>,
    ) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a rate like 30/1m (a count per duration)");
        let (count, period) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = duration(period.trim())?;
        if count == 0 || period.is_zero() {
            return Err(format!(
                "`{s}`: count and duration must both be above zero (use `off` to turn the limit off)"
            ));
        }
        Ok(Self { count, period })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.count, self.period.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_minute(n: u32) -> Rate {
        Rate::new(n, Duration::from_secs(60))
    }

    #[test]
    fn a_burst_of_count_then_one_per_interval() {
        let r = per_minute(3);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(r.take(tat, 0).unwrap());
        }
        // The fourth must wait one interval (20 s).
        assert_eq!(r.take(tat, 0), Err(20_000));
        assert_eq!(r.wait_ms(tat.unwrap(), 0), 20_000);
        assert_eq!(r.take(tat, 19_999), Err(1));
        assert!(r.take(tat, 20_000).is_ok());
    }

    #[test]
    fn an_idle_key_starts_over() {
        let r = per_minute(2);
        let tat = r.take(r.take(None, 0).ok(), 0).unwrap();
        assert!(r.take(Some(tat), 0).is_err());
        // Long after, the old TAT is in the past and counts for nothing.
        let later = r.take(Some(tat), 600_000).unwrap();
        assert_eq!(later, 600_000 + 30_000);
    }

    #[test]
    fn parses_rates() {
        let secs = |s: &str| {
            s.trim_end_matches('s')
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| "bad".to_owned())
        };
        assert_eq!(Rate::parse("30/60s", secs).unwrap(), per_minute(30));
        assert!(Rate::parse("0/60s", secs).is_err());
        assert!(Rate::parse("30", secs).is_err());
        assert!(Rate::parse("x/60s", secs).is_err());
    }
}
