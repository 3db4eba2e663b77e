//! `keycard-load`: drives a running Keycard over HTTP and reports throughput, so performance
//! claims come from the real server, not from timed tests.

#![forbid(unsafe_code)]

mod flood;
mod provider;
mod second_factor;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Load generator for a running Keycard")]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Seconds to run (not for burst).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients (burst: requests fired at once).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Server process id, to sample its resident memory (burst).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Wrong-password logins per second sent by the attacker (flood).
    #[arg(long, default_value_t = 2000)]
    flood_rate: u32,
    /// The registered app the provider scenarios sign in to (device-poll: a device app).
    #[arg(long)]
    client_id: Option<String>,
    /// Its secret (a confidential app, first-party so that no consent is asked).
    #[arg(long)]
    client_secret: Option<String>,
    /// One of its registered redirect URIs.
    #[arg(long, default_value = "http://127.0.0.1/cb")]
    redirect_uri: String,
    /// The page origin a passkey reports (passkey-sign-in): Keycard's public URL, which must
    /// be a domain name (`http://localhost:PORT` will do). Defaults to `--url`.
    #[arg(long)]
    origin: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Scenario {
    /// One argon2id hash (OWASP parameters) as the server computes it, on one thread and on all
    /// cores at once, and on ordinary 4 KiB pages for comparison.
    Hash,
    /// Password logins, judged against hashes timed right before and after them.
    Login,
    /// Refresh-token rotations, each client following its own chain.
    Refresh,
    /// Authenticated GET /v1/me.
    Me,
    /// N concurrent logins fired at once while sampling the server's memory.
    Burst,
    /// Latency of failed logins: unknown email against known email with a wrong password.
    Enumeration,
    /// Other users' logins, alone and then during a wrong-password flood from one address at
    /// one account (`--flood-rate` per second).
    Flood,
    /// An app's sign-in for a signed-in person: authorization request, then the code redeemed.
    AppSignIn,
    /// An app's refresh-token rotations at the token endpoint.
    AppRefresh,
    /// GET /oauth2/userinfo with app access tokens.
    Userinfo,
    /// POST /oauth2/introspect of active app access tokens.
    Introspect,
    /// Devices polling the token endpoint while nobody has approved them.
    DevicePoll,
    /// Password sign-ins of accounts with an authenticator app: the password, then the second
    /// step with the app's code.
    TotpSignIn,
    /// Passwordless sign-ins with a passkey (begin, the authenticator's signature, finish).
    PasskeySignIn,
}

const PASSWORD: &str = "bench password 4 keycard";

/// A benchmark user and the address it connects from. The server under test trusts
/// `X-Forwarded-For`, so each user counts as a client of its own, as real users do: the
/// per-network limits then apply as in production instead of to the whole benchmark at once.
#[derive(Clone, Debug)]
struct User {
    email: String,
    ip: String,
}

/// The address of the `i`-th user, in 198.18.0.0/15 (set aside for benchmarking).
fn ip_for(i: usize) -> String {
    // From 198.18.0.1 on, one address per user (198.18.1.0 is a host like any other in a /15).
    let n = i + 1;
    format!(
        "198.{}.{}.{}",
        18 + (n >> 16) % 2,
        (n >> 8) & 0xff,
        n & 0xff
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(1) * 2)
        .timeout(Duration::from_secs(60))
        .build()?;
    match args.scenario {
        Scenario::Hash => hash(),
        Scenario::Login => {
            let users = register_users(&client, &args.url, args.concurrency).await?;
            let url = format!("{}/v1/auth/login", args.url);
            // The machine's speed drifts by tens of percent from minute to minute (a shared
            // VM): the ceiling is measured right before and right after the logins it judges.
            let before =
                median(&tokio::task::spawn_blocking(|| hash_times(30, Memory::Server)).await??);
            let rate = run_for(
                args.seconds,
                users,
                move |c: reqwest::Client, user: User| {
                    let url = url.clone();
                    async move {
                        let r = c
                            .post(&url)
                            .header("x-forwarded-for", &user.ip)
                            .json(&json!({"email": user.email, "password": PASSWORD}))
                            .send()
                            .await?;
                        Ok((r.status().as_u16(), user))
                    }
                },
                &client,
            )
            .await?;
            let after =
                median(&tokio::task::spawn_blocking(|| hash_times(30, Memory::Server)).await??);
            report("logins/s", &rate);
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let hash = (before + after) / 2.0;
            let ceiling = cores / hash;
            println!(
                "logins/s against the ceiling: {:.0}% of {cores} cores / {:.1} ms = {ceiling:.1}/s \
                 (median hash {:.1} ms before, {:.1} ms after; target 80%)",
                100.0 * rate.ok as f64 / rate.seconds / ceiling,
                hash * 1000.0,
                before * 1000.0,
                after * 1000.0,
            );
            Ok(())
        }
        Scenario::Refresh => {
            let users = register_users(&client, &args.url, args.concurrency).await?;
            let mut chains = Vec::new();
            for user in users {
                chains.push(
                    login(&client, &args.url, &user).await?["refresh_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            let url = format!("{}/v1/auth/refresh", args.url);
            let rate = run_for(
                args.seconds,
                chains,
                move |c: reqwest::Client, token: String| {
                    let url = url.clone();
                    async move {
                        let r = c
                            .post(&url)
                            .json(&json!({"refresh_token": token}))
                            .send()
                            .await?;
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        let next = body["refresh_token"].as_str().map_or(token, str::to_owned);
                        Ok((status, next))
                    }
                },
                &client,
            )
            .await?;
            report("refreshes/s", &rate);
            Ok(())
        }
        Scenario::Me => {
            let users = register_users(&client, &args.url, args.concurrency).await?;
            let mut tokens = Vec::new();
            for user in users {
                tokens.push(
                    login(&client, &args.url, &user).await?["access_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            let url = format!("{}/v1/me", args.url);
            let rate = run_for(
                args.seconds,
                tokens,
                move |c: reqwest::Client, token: String| {
                    let url = url.clone();
                    async move {
                        let r = c.get(&url).bearer_auth(&token).send().await?;
                        let status = r.status().as_u16();
                        let _ = r.bytes().await?;
                        Ok((status, token))
                    }
                },
                &client,
            )
            .await?;
            report("GET /v1/me/s", &rate);
            Ok(())
        }
        Scenario::Burst => burst(&client, &args).await,
        Scenario::TotpSignIn => {
            second_factor::totp_sign_ins(&client, &args.url, args.seconds, args.concurrency).await
        }
        Scenario::PasskeySignIn => {
            let origin = args.origin.as_deref().unwrap_or(&args.url);
            second_factor::passkey_sign_ins(
                &client,
                &args.url,
                origin,
                args.seconds,
                args.concurrency,
            )
            .await
        }
        Scenario::Enumeration => enumeration(&client, &args.url).await,
        Scenario::AppSignIn
        | Scenario::AppRefresh
        | Scenario::Userinfo
        | Scenario::Introspect
        | Scenario::DevicePoll => provider_scenario(&args).await,
        Scenario::Flood => {
            flood::run(
                &client,
                &args.url,
                args.seconds,
                args.concurrency,
                args.flood_rate,
            )
            .await
        }
    }
}

async fn provider_scenario(args: &Args) -> anyhow::Result<()> {
    let id = args.client_id.clone().context("--client-id is required")?;
    let (url, s, n) = (args.url.as_str(), args.seconds, args.concurrency);
    if let Scenario::DevicePoll = args.scenario {
        return provider::device_polls(url, &id, s, n).await;
    }
    let app = provider::App {
        id,
        secret: args
            .client_secret
            .clone()
            .context("--client-secret is required")?,
        redirect_uri: args.redirect_uri.clone(),
    };
    match args.scenario {
        Scenario::AppSignIn => provider::sign_ins(url, &app, s, n).await,
        Scenario::AppRefresh => provider::refreshes(url, &app, s, n).await,
        Scenario::Userinfo => provider::userinfo(url, &app, s, n).await,
        _ => provider::introspection(url, &app, s, n).await,
    }
}

/// One hash as the server computes it: argon2id into a reused memory area (no allocation).
fn hash() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let single = median(&hash_times(30, Memory::Server)?);
    let ordinary = median(&hash_times(30, Memory::Ordinary)?);
    // The same hashes on every core at once, as a saturated server runs them: they compete for
    // the shared cache and memory bandwidth, which one hash alone does not show.
    let started = Instant::now();
    let per_thread = 15;
    let threads: Vec<_> = (0..cores)
        .map(|_| std::thread::spawn(move || hash_times(per_thread, Memory::Server)))
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("hash thread panicked"))??;
    }
    let parallel = (cores * per_thread) as f64 / started.elapsed().as_secs_f64();
    println!(
        "argon2id m=19456 t=2 p=1, one thread: median {:.1} ms per hash; {} cores / hash = {:.1}/s",
        single * 1000.0,
        cores,
        cores as f64 / single,
    );
    println!(
        "the same hash on ordinary (4 KiB-page) memory: median {:.1} ms",
        ordinary * 1000.0
    );
    println!(
        "argon2id on all {cores} cores at once: {parallel:.1} hashes/s ({:.1} ms per hash per core)",
        1000.0 * cores as f64 / parallel,
    );
    Ok(())
}

fn median(sorted: &[f64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Which memory a hash runs in.
#[derive(Clone, Copy)]
enum Memory {
    /// `keycard_core::passwords::hash_area`, as the server's hashing threads use it: the ceiling
    /// is the server's own hash.
    Server,
    /// A plain vector on ordinary 4 KiB pages: shows what the huge-page advice is worth here.
    Ordinary,
}

/// Wall time of `n` hashes in a row on this thread, sorted, reusing one memory area.
fn hash_times(n: usize, memory: Memory) -> anyhow::Result<Vec<f64>> {
    let params = argon2::Params::new(19_456, 2, 1, Some(32)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut mem = match memory {
        Memory::Server => keycard_core::passwords::hash_area(params.block_count()),
        Memory::Ordinary => vec![argon2::Block::default(); params.block_count()],
    };
    let mut out = [0u8; 32];
    let salt = *b"benchmark-salt-0";
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        argon
            .hash_password_into_with_memory(PASSWORD.as_bytes(), &salt, &mut out, &mut mem[..])
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

async fn register_users(
    client: &reqwest::Client,
    url: &str,
    n: usize,
) -> anyhow::Result<Vec<User>> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("bench-{run}-{i}@example.com");
        let ip = ip_for(i);
        let r = client
            .post(format!("{url}/v1/auth/register"))
            .header("x-forwarded-for", &ip)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .context("is Keycard running at --url?")?;
        if !r.status().is_success() {
            bail!(
                "register failed: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        out.push(User { email, ip });
    }
    Ok(out)
}

async fn login(client: &reqwest::Client, url: &str, user: &User) -> anyhow::Result<Value> {
    let r = client
        .post(format!("{url}/v1/auth/login"))
        .header("x-forwarded-for", &user.ip)
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("login failed: {}", r.status());
    }
    Ok(r.json().await?)
}

struct Rate {
    ok: u64,
    errors: u64,
    seconds: f64,
}

fn report(what: &str, r: &Rate) {
    println!(
        "{what}: {:.0} ({} ok, {} non-2xx in {:.1} s)",
        r.ok as f64 / r.seconds,
        r.ok,
        r.errors,
        r.seconds
    );
}

/// Runs one task per state item until the time is up; each call returns (status, next state).
async fn run_for<S, F, Fut>(
    seconds: u64,
    states: Vec<S>,
    op: F,
    client: &reqwest::Client,
) -> anyhow::Result<Rate>
where
    S: Send + 'static,
    F: Fn(reqwest::Client, S) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<(u16, S)>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for state in states {
        let (stop, ok, errors, op, client) = (
            stop.clone(),
            ok.clone(),
            errors.clone(),
            op.clone(),
            client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut state = state;
            while !stop.load(Ordering::Relaxed) {
                match op(client.clone(), state).await {
                    Ok((status, next)) => {
                        if (200..300).contains(&status) {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        state = next;
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    Ok(Rate {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        seconds,
    })
}

/// Sequential failed logins, interleaved so drift affects both kinds alike. One failure per
/// account and per address, so no limit is reached: this measures the answer, not the throttle.
async fn enumeration(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let known = register_users(client, url, 100).await?;
    let login_url = format!("{url}/v1/auth/login");
    let (mut k, mut u) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let (email, into) = if i % 2 == 0 {
            (known[i / 2].email.clone(), &mut k)
        } else {
            (
                format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple()),
                &mut u,
            )
        };
        let t = Instant::now();
        let r = client
            .post(&login_url)
            .header("x-forwarded-for", ip_for(10_000 + i))
            .json(&json!({"email": email, "password": "not the password 1"}))
            .send()
            .await?;
        let status = r.status().as_u16();
        let _ = r.bytes().await?;
        into.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != 401 {
            bail!("expected 401, got {status}");
        }
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "failed-login latency p50/p90: known email {:.1}/{:.1} ms, unknown email {:.1}/{:.1} ms",
        pct(&mut k, 0.5),
        pct(&mut k, 0.9),
        pct(&mut u, 0.5),
        pct(&mut u, 0.9)
    );
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn burst(client: &reqwest::Client, args: &Args) -> anyhow::Result<()> {
    // At most four concurrent logins per account: attempts on one account count as failures
    // until their verdict, and this measures memory, not the lockout.
    let users = register_users(client, &args.url, args.concurrency.div_ceil(4)).await?;
    let before = args.server_pid.and_then(rss_kib);
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = args.server_pid.map(|pid| {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    });
    // A fresh client per request: a burst of new connections, as from many devices.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.concurrency {
        let user = users[i % users.len()].clone();
        let url = format!("{}/v1/auth/login", args.url);
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            c.post(url)
                .header("x-forwarded-for", &user.ip)
                .json(&json!({"email": user.email, "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let (mut ok, mut busy, mut other) = (0, 0, 0);
    for t in tasks {
        match t.await {
            Ok(Ok(200)) => ok += 1,
            Ok(Ok(503)) => busy += 1,
            _ => other += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.await;
    }
    println!(
        "burst of {} logins: {ok} ok, {busy} 503 (queue full), {other} other, in {elapsed:.1} s",
        args.concurrency
    );
    if let Some(b) = before {
        println!(
            "server RSS: {:.1} MiB before, peak {:.1} MiB during the burst",
            b as f64 / 1024.0,
            peak.load(Ordering::Relaxed) as f64 / 1024.0
        );
    }
    Ok(())
}
