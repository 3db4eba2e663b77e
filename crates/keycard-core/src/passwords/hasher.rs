//! argon2id hashing on a bounded pool of dedicated threads.
//!
//! Each hash holds ~19 MiB and ~20 ms of one core. Hashing runs on `workers` threads of its own
//! (the CPU count by default), each reusing one preallocated memory area, so the process's
//! memory stays flat however many logins arrive (the general allocator would keep a freed
//! 19 MiB area per thread arena). At most `max_waiting` callers queue behind the workers; the
//! next caller gets [`Error::Overloaded`] at once (HTTP 503 + Retry-After).

use super::Password;
use super::policy::normalize;
use crate::error::{Error, Result};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;
use tokio::sync::{Semaphore, oneshot};

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

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

impl HashParams {
    fn params(&self) -> Result<Params> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))
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

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    jobs: mpsc::Sender<Job>,
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

fn fresh_salt() -> Result<[u8; SALT_LEN]> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| Error::Internal("system random generator failed".into()))?;
    Ok(salt)
}

/// Hashes `pwd` into a PHC string with a fresh salt.
fn hash_with(params: HashParams, pwd: &[u8], mem: &mut Vec<Block>) -> Result<String> {
    hash_salted(params, pwd, &fresh_salt()?, mem)
}

fn hash_salted(
    params: HashParams,
    pwd: &[u8],
    salt: &[u8; SALT_LEN],
    mem: &mut Vec<Block>,
) -> Result<String> {
    let p = params.params()?;
    let mut out = [0u8; OUTPUT_LEN];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        p,
        pwd,
        salt,
        &mut out,
        mem,
    )?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        B64.encode(salt),
        B64.encode(out)
    ))
}

/// True when `pwd` matches the PHC string, using the parameters recorded in it.
fn verify_with(pwd: &[u8], stored: &PasswordHash, mem: &mut Vec<Block>) -> Result<bool> {
    let bad = |what: &str| Error::Internal(format!("stored password hash: {what}"));
    let alg = Algorithm::try_from(stored.algorithm.as_str()).map_err(|_| bad("algorithm"))?;
    let version = stored
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .map_err(|_| bad("version"))?;
    let expected = stored.hash.as_ref().ok_or_else(|| bad("no output"))?;
    let salt = stored.salt.as_ref().ok_or_else(|| bad("no salt"))?;
    let p = Params::try_from(stored).map_err(|_| bad("parameters"))?;
    let p = Params::new(p.m_cost(), p.t_cost(), p.p_cost(), Some(expected.len()))
        .map_err(|_| bad("parameters"))?;
    let mut out = vec![0u8; expected.len()];
    compute(alg, version, p, pwd, salt.as_ref(), &mut out, mem)?;
    Ok(aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_ref()).is_ok())
}

fn compute(
    alg: Algorithm,
    version: Version,
    params: Params,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
    mem: &mut Vec<Block>,
) -> Result<()> {
    // Hashes made with larger, older parameters need more room than the worker keeps.
    if mem.len() < params.block_count() {
        mem.resize(params.block_count(), Block::default());
    }
    Argon2::new(alg, version, params)
        .hash_password_into_with_memory(pwd, salt, out, &mut mem[..])
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

fn spawn_workers(workers: usize, params: HashParams) -> Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let blocks = params.params()?.block_count();
    for i in 0..workers.max(1) {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("keycard-hash-{i}"))
            .spawn(move || {
                let mut mem = super::hash_area(blocks);
                loop {
                    let job = {
                        let guard = rx.lock().unwrap_or_else(|p| p.into_inner());
                        match guard.recv() {
                            Ok(job) => job,
                            // Every hasher handle is gone: the pool shuts down.
                            Err(_) => return,
                        }
                    };
                    job(&mut mem);
                    // A resize for an old, larger hash is not kept.
                    mem.truncate(blocks);
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start hash worker: {e}")))?;
    }
    Ok(tx)
}

impl PasswordHasher {
    /// Starts the worker threads and computes the dummy hash (one hash: call at start-up).
    pub fn new(params: HashParams, workers: usize, max_waiting: usize) -> Result<Self> {
        let jobs = spawn_workers(workers, params)?;
        let mut mem = Vec::new();
        let dummy = hash_with(
            params,
            b"keycard dummy password for unknown accounts",
            &mut mem,
        )?;
        Ok(Self {
            params,
            jobs,
            permits: Arc::new(Semaphore::new(workers.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            dummy: dummy.into(),
        })
    }

    /// Hashes a policy-checked password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let params = self.params;
        let pw = password.as_bytes().to_vec();
        self.run(move |mem| hash_with(params, &pw, mem)).await
    }

    /// Checks an attempt against a stored PHC string; `None` (unknown account) verifies against
    /// the dummy hash and always fails, at the same cost.
    pub async fn verify(&self, attempt: &str, stored: Option<&str>) -> Result<Verification> {
        let params = self.params;
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy.to_string(), str::to_owned);
        let attempt = normalize(attempt);
        self.run(move |mem| {
            let parsed = PasswordHash::new(&stored)
                .map_err(|_| Error::Internal("stored password hash is not a PHC string".into()))?;
            if !verify_with(attempt.as_bytes(), &parsed, mem)? || !known {
                return Ok(Verification::Invalid);
            }
            let rehash = if params.matches(&parsed) {
                None
            } else {
                Some(hash_with(params, attempt.as_bytes(), mem)?)
            };
            Ok(Verification::Valid { rehash })
        })
        .await
    }

    /// Hashes a set of lookup secrets (recovery codes) under one fresh salt, so that one hash
    /// of an attempt can be compared with all of them ([`Self::match_lookup_secret`]). Each is
    /// a PHC string; the set's salt keeps precomputed tables out, as ASVS 6.5.2 asks of
    /// secrets too short for a plain digest.
    pub async fn hash_lookup_secrets(&self, secrets: Vec<String>) -> Result<Vec<String>> {
        let params = self.params;
        self.run(move |mem| {
            let salt = fresh_salt()?;
            secrets
                .iter()
                .map(|s| hash_salted(params, s.as_bytes(), &salt, mem))
                .collect()
        })
        .await
    }

    /// Which of `stored` (one set from [`Self::hash_lookup_secrets`]) `attempt` is, at the cost
    /// of one hash. `None` when it is none of them (or the set is empty: a hash is spent anyway).
    pub async fn match_lookup_secret(
        &self,
        attempt: String,
        stored: Vec<String>,
    ) -> Result<Option<usize>> {
        let dummy = self.dummy.to_string();
        self.run(move |mem| {
            let first = stored.first().unwrap_or(&dummy);
            let parsed = PasswordHash::new(first)
                .map_err(|_| Error::Internal("stored lookup secret is not a PHC string".into()))?;
            let bad = || Error::Internal("stored lookup secret: salt".into());
            let salt: [u8; SALT_LEN] = parsed
                .salt
                .as_ref()
                .ok_or_else(bad)?
                .as_ref()
                .try_into()
                .map_err(|_| bad())?;
            let p = Params::try_from(&parsed)
                .map_err(|_| Error::Internal("stored lookup secret: parameters".into()))?;
            let params = HashParams {
                memory_kib: p.m_cost(),
                iterations: p.t_cost(),
                parallelism: p.p_cost(),
            };
            let ours = hash_salted(params, attempt.as_bytes(), &salt, mem)?;
            let mut found = None;
            for (i, s) in stored.iter().enumerate() {
                // Every entry is compared, in constant time, whatever matched before.
                let same = s.len() == ours.len()
                    && aws_lc_rs::constant_time::verify_slices_are_equal(
                        s.as_bytes(),
                        ours.as_bytes(),
                    )
                    .is_ok();
                if same && found.is_none() {
                    found = Some(i);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> Result<T> + Send + 'static,
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
        let (tx, rx) = oneshot::channel();
        // The permit travels with the job, so a cancelled request cannot let more hashes run
        // than there are workers.
        let work: Job = Box::new(move |mem| {
            let _ = tx.send(job(mem));
            drop(permit);
        });
        self.jobs
            .send(work)
            .map_err(|_| Error::Internal("hash workers stopped".into()))?;
        let out = rx
            .await
            .map_err(|_| Error::Internal("hash worker dropped a job".into()))?;
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
            .check(
                s,
                Some(&Email::parse("someone@example.com").unwrap()),
                "password",
            )
            .unwrap()
    }

    #[tokio::test]
    async fn default_params_are_owasp_argon2id() {
        let h = PasswordHasher::new(HashParams::default(), 1, 4).unwrap();
        let phc = h.hash(&pw("Tr4in-7x-sample")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[tokio::test]
    async fn lookup_secrets_share_a_salt_and_match_with_one_hash() {
        let h = PasswordHasher::new(cheap(), 1, 4).unwrap();
        let codes: Vec<String> = ["aaaaabbbbb", "cccccddddd", "eeeeefffff"]
            .map(String::from)
            .into();
        let stored = h.hash_lookup_secrets(codes).await.unwrap();
        assert_eq!(stored.len(), 3);
        let salt = |s: &str| s.split('$').nth(4).unwrap().to_owned();
        assert_eq!(salt(&stored[0]), salt(&stored[2]));
        let again = h
            .hash_lookup_secrets(vec!["aaaaabbbbb".into()])
            .await
            .unwrap();
        assert_ne!(
            salt(&stored[0]),
            salt(&again[0]),
            "each set has its own salt"
        );
        let m = |a: &str, s: Vec<String>| h.match_lookup_secret(a.into(), s);
        assert_eq!(m("cccccddddd", stored.clone()).await.unwrap(), Some(1));
        assert_eq!(m("cccccdddde", stored.clone()).await.unwrap(), None);
        assert_eq!(m("aaaaabbbbb", Vec::new()).await.unwrap(), None);
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
    async fn phc_strings_interoperate_with_the_reference_implementation() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let h = PasswordHasher::new(cheap(), 1, 4).unwrap();
        let ours = h.hash(&pw("Tr4in-7x-sample")).await.unwrap();
        let reference = cheap_argon();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            reference
                .verify_password(b"Tr4in-7x-sample", &parsed)
                .is_ok()
        );
        assert!(
            reference
                .verify_password(b"Tr4in-7x-wrong", &parsed)
                .is_err()
        );
        let theirs = reference
            .hash_password(b"Tr4in-7x-sample")
            .unwrap()
            .to_string();
        assert!(matches!(
            h.verify("Tr4in-7x-sample", Some(&theirs)).await.unwrap(),
            Verification::Valid { .. }
        ));
        assert_eq!(
            h.verify("nope-nope-nope", Some(&theirs)).await.unwrap(),
            Verification::Invalid
        );
    }

    fn cheap_argon() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
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
        let h = PasswordHasher::new(cheap(), 1, 2).unwrap();
        // Occupy the only worker until released, so the queue state is deterministic.
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let busy = {
            let h = h.clone();
            tokio::spawn(async move {
                h.run(move |_| {
                    let _ = blocked.recv();
                    Ok(())
                })
                .await
            })
        };
        while h.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let mut queued = Vec::new();
        for _ in 0..2 {
            let h = h.clone();
            queued.push(tokio::spawn(
                async move { h.verify("whatever-123", None).await },
            ));
        }
        while h.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        // Worker busy, queue full: the next caller is turned away at once.
        match h.verify("whatever-123", None).await {
            Err(Error::Overloaded { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected Overloaded, got {other:?}"),
        }
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for q in queued {
            assert_eq!(q.await.unwrap().unwrap(), Verification::Invalid);
        }
        assert_eq!(h.waiting.load(Ordering::Acquire), 0);
        // Capacity is back.
        assert_eq!(
            h.verify("whatever-123", None).await.unwrap(),
            Verification::Invalid
        );
    }
}
