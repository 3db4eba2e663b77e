//! argon2id hashing on a bounded worker pool.
//!
//! Each hash holds ~19 MiB and ~20 ms of one core. Hashing therefore runs on tokio's blocking
//! threads, at most `workers` at once (the CPU count), with at most `max_waiting` callers queued
//! behind them; the next caller gets [`Error::Overloaded`] at once (HTTP 503 + Retry-After)
//! instead of queueing without bound.

use super::Password;
use super::policy::normalize;
use crate::error::{Error, Result};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;

/// argon2id cost. The default is OWASP's primary recommendation: m=19 MiB, t=2, p=1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashParams {
    fn argon2(&self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    fn matches(&self, hash: &PasswordHash) -> bool {
        hash.algorithm.as_str() == "argon2id"
            && Params::try_from(hash).is_ok_and(|p| {
                p.m_cost() == self.memory_kib
                    && p.t_cost() == self.iterations
                    && p.p_cost() == self.parallelism
            })
    }
}

/// Outcome of checking a login attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Invalid,
    /// `rehash` holds a new PHC string when the stored one used outdated parameters.
    Valid {
        rehash: Option<String>,
    },
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// Verified against when the email is unknown, so that case costs a full hash too.
    dummy: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("max_waiting", &self.max_waiting)
            .finish_non_exhaustive()
    }
}

/// Keeps the queue gauge right even when the waiting request is cancelled.
struct QueueSlot(Arc<AtomicUsize>);

impl Drop for QueueSlot {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics::gauge!("keycard_password_hash_queue_depth").set(now as f64);
    }
}

impl PasswordHasher {
    /// Builds the pool and computes the dummy hash (one hash: call at start-up).
    pub fn new(params: HashParams, workers: usize, max_waiting: usize) -> Result<Self> {
        let argon = params.argon2()?;
        let dummy = argon
            .hash_password(b"keycard dummy password for unknown accounts")
            .map_err(|e| Error::Internal(format!("argon2: {e}")))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(workers.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            dummy: dummy.into(),
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Hashes a policy-checked password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let argon = self.params.argon2()?;
        let pw = password.as_bytes().to_vec();
        self.run(move || {
            argon
                .hash_password(&pw)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2: {e}")))
        })
        .await
    }

    /// Checks an attempt against a stored PHC string; `None` (unknown account) verifies against
    /// the dummy hash and always fails, at the same cost.
    pub async fn verify(&self, attempt: &str, stored: Option<&str>) -> Result<Verification> {
        let params = self.params;
        let argon = params.argon2()?;
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy.to_string(), str::to_owned);
        let attempt = normalize(attempt);
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Err(Error::Internal(
                    "stored password hash is not a PHC string".into(),
                ));
            };
            // Verification uses the parameters recorded in the hash, not the configured ones.
            if argon.verify_password(attempt.as_bytes(), &parsed).is_err() || !known {
                return Ok(Verification::Invalid);
            }
            let rehash = if params.matches(&parsed) {
                None
            } else {
                let fresh = argon
                    .hash_password(attempt.as_bytes())
                    .map_err(|e| Error::Internal(format!("argon2: {e}")))?;
                Some(fresh.to_string())
            };
            Ok(Verification::Valid { rehash })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let depth = self.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        let slot = QueueSlot(self.waiting.clone());
        if depth > self.max_waiting + self.permits.available_permits() {
            drop(slot);
            metrics::counter!("keycard_password_hash_rejected_total").increment(1);
            return Err(Error::Overloaded {
                retry_after_secs: 1,
            });
        }
        metrics::gauge!("keycard_password_hash_queue_depth").set(depth as f64);
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("hash pool closed".into()))?;
        drop(slot);
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || {
            let r = job();
            drop(permit);
            r
        })
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))?;
        metrics::histogram!("keycard_password_hash_seconds")
            .record(started.elapsed().as_secs_f64());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Email;
    use crate::passwords::PasswordPolicy;

    fn cheap() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn pw(s: &str) -> Password {
        PasswordPolicy::default()
            .check(s, &Email::parse("someone@example.com").unwrap(), "password")
            .unwrap()
    }

    #[tokio::test]
    async fn default_params_are_owasp_argon2id() {
        let h = PasswordHasher::new(HashParams::default(), 1, 4).unwrap();
        let phc = h.hash(&pw("Tr4in-7x-sample")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[tokio::test]
    async fn verifies_and_rejects() {
        let h = PasswordHasher::new(cheap(), 2, 4).unwrap();
        let phc = h.hash(&pw("Tr4in-7x-sample")).await.unwrap();
        assert_eq!(
            h.verify("Tr4in-7x-sample", Some(&phc)).await.unwrap(),
            Verification::Valid { rehash: None }
        );
        assert_eq!(
            h.verify("Tr4in-7x-Sample", Some(&phc)).await.unwrap(),
            Verification::Invalid
        );
        // Unknown account: always invalid, even with the dummy's own password.
        assert_eq!(
            h.verify("keycard dummy password for unknown accounts", None)
                .await
                .unwrap(),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn outdated_parameters_are_upgraded_on_success_only() {
        let old = PasswordHasher::new(cheap(), 1, 4).unwrap();
        let phc = old.hash(&pw("Tr4in-7x-sample")).await.unwrap();
        let new_params = HashParams {
            memory_kib: 2048,
            ..cheap()
        };
        let new = PasswordHasher::new(new_params, 1, 4).unwrap();
        let Verification::Valid { rehash: Some(up) } =
            new.verify("Tr4in-7x-sample", Some(&phc)).await.unwrap()
        else {
            panic!("expected an upgrade");
        };
        assert!(up.contains("m=2048,t=1,p=1"), "{up}");
        assert_eq!(
            new.verify("wrong-password", Some(&phc)).await.unwrap(),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn nfkc_applies_to_attempts() {
        let h = PasswordHasher::new(cheap(), 1, 4).unwrap();
        let phc = h.hash(&pw("ﬁsh and chips")).await.unwrap();
        assert!(matches!(
            h.verify("fish and chips", Some(&phc)).await.unwrap(),
            Verification::Valid { .. }
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_is_bounded() {
        let h = PasswordHasher::new(HashParams::default(), 1, 2).unwrap();
        let stored = h.hash(&pw("Tr4in-7x-sample")).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let h = h.clone();
            let s = stored.clone();
            tasks.push(tokio::spawn(async move {
                h.verify("Tr4in-7x-sample", Some(&s)).await
            }));
        }
        let mut overloaded = 0;
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(Error::Overloaded { retry_after_secs }) => {
                    assert!(retry_after_secs >= 1);
                    overloaded += 1;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(ok >= 3, "ok={ok}");
        assert!(overloaded >= 1, "no request was turned away");
        assert_eq!(h.waiting.load(Ordering::Acquire), 0);
    }
}
