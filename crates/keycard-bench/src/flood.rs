//! Fairness under a password-guessing flood: other users' logins alone, then the same logins
//! while one address sends wrong-password logins at one account at a fixed rate. Keycard must
//! refuse the flood before it spends hashes, so the others keep (target) 80 % of their rate
//! with a p99 under 1 s.

use crate::{PASSWORD, User, register_users};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The attacker's address (TEST-NET-3).
const ATTACKER: &str = "203.0.113.66";
/// Requests the attacker keeps in flight at most; beyond, a tick's request is not sent (and
/// counted as such), so a slow server cannot make the generator pile up without bound.
const MAX_IN_FLIGHT: usize = 1024;

struct Logins {
    ok: u64,
    other: u64,
    seconds: f64,
    /// Latencies of the successful logins, in ms, sorted.
    latencies: Vec<f64>,
}

impl Logins {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    fn pct(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

/// Each user logs in again and again, one login at a time, for `seconds`.
async fn logins(
    client: &reqwest::Client,
    url: &str,
    users: &[User],
    seconds: u64,
) -> anyhow::Result<Logins> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for user in users.iter().cloned() {
        let (client, stop) = (client.clone(), stop.clone());
        let url = format!("{url}/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut other) = (Vec::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("x-forwarded-for", &user.ip)
                    .json(&json!({"email": user.email, "password": PASSWORD}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(r) => {
                        let _ = r.bytes().await;
                        other += 1;
                    }
                    Err(_) => other += 1,
                }
            }
            (lat, other)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let (mut latencies, mut other) = (Vec::new(), 0);
    for t in tasks {
        let (lat, o) = t.await?;
        latencies.extend(lat);
        other += o;
    }
    latencies.sort_by(f64::total_cmp);
    Ok(Logins {
        ok: latencies.len() as u64,
        other,
        seconds,
        latencies,
    })
}

#[derive(Default)]
struct Attack {
    sent: AtomicU64,
    not_sent: AtomicU64,
    checked: AtomicU64,
    throttled: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
}

/// Sends wrong-password logins at `victim` from one address at `per_sec` until `stop`.
async fn attack(
    url: String,
    victim: String,
    per_sec: u32,
    stop: Arc<AtomicBool>,
    tally: Arc<Attack>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{url}/v1/auth/login");
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // Ticks of 1 ms (finer ones are not kept reliably), each sending its share of the rate.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * f64::from(per_sec)) as u64;
        while tally.sent.load(Ordering::Relaxed) + tally.not_sent.load(Ordering::Relaxed) < due {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tally.not_sent.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            tally.sent.fetch_add(1, Ordering::Relaxed);
            let (client, url, victim, tally) =
                (client.clone(), url.clone(), victim.clone(), tally.clone());
            tokio::spawn(async move {
                let r = client
                    .post(&url)
                    .header("x-forwarded-for", ATTACKER)
                    .json(&json!({"email": victim, "password": "guess 123456 guess"}))
                    .send()
                    .await;
                let counter = match r.as_ref().map(|r| r.status().as_u16()) {
                    Ok(401) => &tally.checked,
                    Ok(429) => &tally.throttled,
                    Ok(503) => &tally.busy,
                    _ => &tally.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if let Ok(r) = r {
                    let _ = r.bytes().await;
                }
                drop(slot);
            });
        }
    }
    Ok(())
}

pub async fn run(
    client: &reqwest::Client,
    url: &str,
    seconds: u64,
    concurrency: usize,
    per_sec: u32,
) -> anyhow::Result<()> {
    let mut users = register_users(client, url, concurrency + 1).await?;
    let victim = users.pop().map(|u| u.email).unwrap_or_default();
    let calm = logins(client, url, &users, seconds).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Attack::default());
    let attacker = tokio::spawn(attack(
        url.to_owned(),
        victim,
        per_sec,
        stop.clone(),
        tally.clone(),
    ));
    // Let the flood reach its rate first: the lockout is measured under it, not before it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flooded_started = Instant::now();
    let flooded = logins(client, url, &users, seconds).await?;
    let attack_secs = flooded_started.elapsed().as_secs_f64() + 1.0;
    stop.store(true, Ordering::Relaxed);
    attacker.await??;
    // Let the attacker's last requests land before reading the tally.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let t = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "flood: other users' logins alone {:.1}/s (p50 {:.0} ms, p99 {:.0} ms, {} non-2xx); \
         during a {:.0}/s wrong-password flood from one address at one account {:.1}/s = {:.0}% \
         (p50 {:.0} ms, p99 {:.0} ms, {} non-2xx) — target ≥ 80% and p99 < 1000 ms",
        calm.rate(),
        calm.pct(0.5),
        calm.pct(0.99),
        calm.other,
        t(&tally.sent) as f64 / attack_secs,
        flooded.rate(),
        100.0 * flooded.rate() / calm.rate().max(f64::MIN_POSITIVE),
        flooded.pct(0.5),
        flooded.pct(0.99),
        flooded.other,
    );
    println!(
        "flood: attacker sent {} in {attack_secs:.1} s ({} not sent: {MAX_IN_FLIGHT} in flight): \
         {} checked (401), {} refused unhashed (429), {} 503, {} other",
        t(&tally.sent),
        t(&tally.not_sent),
        t(&tally.checked),
        t(&tally.throttled),
        t(&tally.busy),
        t(&tally.other),
    );
    Ok(())
}
