//! Sign-ins with more than a password: the password then an authenticator app's code (the
//! second step), and a passkey alone (two factors in one ceremony, no password, no hash).

use crate::{PASSWORD, User, hash_times, ip_for, median};
use anyhow::{Context, bail};
use keycard_testkit::{SoftPasskey, totp_code_at};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Accounts set up per client: the authenticator app accepts each 30-second step once per
/// account, so a run needs many accounts to sign in to; a passkey ceremony start is limited per
/// address, and each account signs in from an address of its own.
const ACCOUNTS_PER_CLIENT: usize = 16;
/// Accounts set up at once (each authenticator-app set-up hashes eleven times: the password and
/// ten recovery codes).
const SETUP_CONCURRENCY: usize = 8;

async fn post(
    c: &reqwest::Client,
    url: &str,
    ip: &str,
    bearer: Option<&str>,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let mut r = c.post(url).header("x-forwarded-for", ip).json(body);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.context("is Keycard running at --url?")?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn expect(
    c: &reqwest::Client,
    url: &str,
    ip: &str,
    bearer: Option<&str>,
    body: &Value,
    want: u16,
) -> anyhow::Result<Value> {
    let (status, v) = post(c, url, ip, bearer, body).await?;
    if status != want {
        bail!("{url}: {status} (expected {want}): {v}");
    }
    Ok(v)
}

/// `n` accounts, each registered from its own address and then given `setup`'s factor.
async fn accounts<T, F, Fut>(
    c: &reqwest::Client,
    url: &str,
    n: usize,
    setup: F,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(reqwest::Client, String, User, String) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let run = uuid::Uuid::new_v4().simple().to_string();
    let gate = Arc::new(tokio::sync::Semaphore::new(SETUP_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (c, url, gate, setup) = (c.clone(), url.to_owned(), gate.clone(), setup.clone());
        let user = User {
            email: format!("bench-{run}-{i}@example.com"),
            ip: ip_for(i),
        };
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let body = json!({"email": user.email, "password": PASSWORD});
            let reg = format!("{url}/v1/auth/register");
            let tokens = expect(&c, &reg, &user.ip, None, &body, 201).await?;
            let token = tokens["access_token"]
                .as_str()
                .context("no access token")?
                .to_owned();
            setup(c, url, user, token).await
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        out.push(done??);
    }
    Ok(out)
}

/// An account with a confirmed authenticator app, and the last step a code was used for.
struct AppAccount {
    user: User,
    secret: String,
    last_step: u64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The step of the next code an account whose last accepted step is `last` can use at
/// `unix_secs`: the step after `last`, if Keycard still accepts it (within a step of now) and
/// will a moment later. The previous step's code is used only while its step has a few seconds
/// left to run, so that a code is never sent just as it ages out.
fn usable_step(last: u64, unix_secs: u64) -> Option<u64> {
    let now = unix_secs / 30;
    let oldest = if unix_secs % 30 < 25 {
        now.saturating_sub(1)
    } else {
        now
    };
    let step = (last + 1).max(oldest);
    (step <= now + 1).then_some(step)
}

/// Takes an account whose app has a code Keycard accepts now; `None` when every waiting
/// account has used up its steps for now.
fn next_code(pool: &Mutex<VecDeque<AppAccount>>) -> Option<AppAccount> {
    let mut pool = pool.lock().ok()?;
    let now = now_secs();
    for _ in 0..pool.len() {
        let a = pool.pop_front()?;
        if usable_step(a.last_step, now).is_some() {
            return Some(a);
        }
        pool.push_back(a);
    }
    None
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
    sorted.get(i).copied().unwrap_or_default()
}

/// Password sign-ins of accounts with an authenticator app: `POST /v1/auth/login` answers a
/// challenge, `POST /v1/auth/mfa` with the app's code answers the tokens. Judged, like password
/// logins, against the argon2id ceiling timed right before and after; the second step's own
/// latency is reported apart.
pub async fn totp_sign_ins(
    c: &reqwest::Client,
    url: &str,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let set_up = Instant::now();
    let list = accounts(
        c,
        url,
        concurrency * ACCOUNTS_PER_CLIENT,
        |c, url, user, token| async move {
            let begun = expect(
                &c,
                &format!("{url}/v1/me/mfa/totp"),
                &user.ip,
                Some(&token),
                &json!({}),
                201,
            )
            .await?;
            let secret = begun["secret"].as_str().context("no secret")?.to_owned();
            // Confirmed with the previous step's code, which leaves this step and the next
            // for sign-ins; with the current one if the previous aged out meanwhile.
            let confirm = format!("{url}/v1/me/mfa/totp/confirm");
            let now = now_secs() / 30;
            for step in [now.saturating_sub(1), now] {
                let code = json!({ "code": totp_code_at(&secret, step * 30)? });
                let (status, v) = post(&c, &confirm, &user.ip, Some(&token), &code).await?;
                match status {
                    200 => {
                        return Ok(AppAccount {
                            user,
                            secret,
                            last_step: step,
                        });
                    }
                    422 => continue,
                    _ => bail!("{confirm}: {status}: {v}"),
                }
            }
            bail!("{confirm}: neither the previous nor the current step's code was accepted")
        },
    )
    .await?;
    let set_up = set_up.elapsed().as_secs_f64();
    let n = list.len();
    let pool = Arc::new(Mutex::new(VecDeque::from(list)));
    let before =
        median(&tokio::task::spawn_blocking(|| hash_times(30, crate::Memory::Server)).await??);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (c, url, pool, stop, ok, errors) = (
            c.clone(),
            url.to_owned(),
            pool.clone(),
            stop.clone(),
            ok.clone(),
            errors.clone(),
        );
        tasks.spawn(async move {
            let mut second_steps = Vec::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                // Every account has used its codes for now: the run ends here for every
                // client (measured up to this point, at full concurrency) rather than wait for
                // the next step.
                let Some(mut a) = next_code(&pool) else {
                    stop.store(true, Ordering::Relaxed);
                    break;
                };
                let body = json!({"email": a.user.email, "password": PASSWORD});
                let (status, challenge) =
                    post(&c, &format!("{url}/v1/auth/login"), &a.user.ip, None, &body).await?;
                // The code is chosen once the password is through: the login may have waited
                // for a hash long enough for a step to end.
                let step = usable_step(a.last_step, now_secs());
                let give_back = |a: AppAccount| -> anyhow::Result<()> {
                    pool.lock()
                        .map_err(|_| anyhow::anyhow!("poisoned"))?
                        .push_back(a);
                    Ok(())
                };
                if status != 200 || challenge["mfa_required"] != true {
                    errors.fetch_add(1, Ordering::Relaxed);
                    give_back(a)?;
                    // Refused (a limit, an overloaded server): not straight back at it.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                let Some(step) = step else {
                    give_back(a)?;
                    continue;
                };
                let body = json!({
                    "challenge_id": challenge["challenge_id"],
                    "code": totp_code_at(&a.secret, step * 30)?,
                });
                let t = Instant::now();
                let (status, tokens) =
                    post(&c, &format!("{url}/v1/auth/mfa"), &a.user.ip, None, &body).await?;
                second_steps.push(t.elapsed().as_secs_f64());
                if status == 200 && tokens["access_token"].is_string() {
                    ok.fetch_add(1, Ordering::Relaxed);
                    a.last_step = step;
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                give_back(a)?;
            }
            anyhow::Ok(second_steps)
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    // Up to the last sign-in in flight: once the pool runs dry every client stops at its
    // next turn, so concurrency falls only for that last round.
    let elapsed = started.elapsed().as_secs_f64();
    let after =
        median(&tokio::task::spawn_blocking(|| hash_times(30, crate::Memory::Server)).await??);
    latencies.sort_by(f64::total_cmp);
    let (ok, errors) = (ok.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    let rate = ok as f64 / elapsed;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let ceiling = cores / ((before + after) / 2.0);
    println!(
        "password + authenticator-app sign-ins/s (login, then the second step): {rate:.0} \
         ({ok} ok, {errors} non-2xx in {elapsed:.1} s; {n} accounts set up in {set_up:.0} s)"
    );
    println!(
        "  against the ceiling: {:.0}% of {cores} cores / {:.1} ms = {ceiling:.1}/s; \
         the second step alone p50 {:.1} ms, p99 {:.1} ms",
        100.0 * rate / ceiling,
        1000.0 * (before + after) / 2.0,
        1000.0 * percentile(&latencies, 0.5),
        1000.0 * percentile(&latencies, 0.99),
    );
    Ok(())
}

/// An account with a passkey, and the authenticator holding it.
struct KeyAccount {
    user: User,
    key: SoftPasskey,
}

/// Passwordless sign-ins with a passkey: `POST /v1/auth/passkey/begin`, the authenticator's
/// answer (an ES256 signature made here), `POST /v1/auth/passkey/finish` for the tokens.
/// `origin` is the page origin the authenticator reports: Keycard's public URL.
pub async fn passkey_sign_ins(
    c: &reqwest::Client,
    url: &str,
    origin: &str,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let origin = origin.to_owned();
    let setup_origin = origin.clone();
    let list = accounts(
        c,
        url,
        concurrency * ACCOUNTS_PER_CLIENT,
        move |c, url, user, token| {
            let origin = setup_origin.clone();
            async move {
                let begun = expect(
                    &c,
                    &format!("{url}/v1/me/passkeys/registration"),
                    &user.ip,
                    Some(&token),
                    &json!({}),
                    200,
                )
                .await?;
                let mut key = SoftPasskey::new()?;
                let credential = key.create(&begun["options"], &origin)?;
                let body = json!({
                    "ceremony_id": begun["ceremony_id"],
                    "credential": credential,
                    "name": "bench",
                });
                let added = format!("{url}/v1/me/passkeys");
                expect(&c, &added, &user.ip, Some(&token), &body, 201).await?;
                Ok(KeyAccount { user, key })
            }
        },
    )
    .await?;
    let mut clients: Vec<Vec<KeyAccount>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, a) in list.into_iter().enumerate() {
        clients[i % concurrency].push(a);
    }
    let url = url.to_owned();
    let rate = crate::run_for(
        seconds,
        clients.into_iter().map(|a| (a, 0usize)).collect(),
        move |c: reqwest::Client, (mut accounts, i): (Vec<KeyAccount>, usize)| {
            let (url, origin) = (url.clone(), origin.clone());
            async move {
                let n = accounts.len();
                let a = &mut accounts[i % n];
                let (status, begun) = post(
                    &c,
                    &format!("{url}/v1/auth/passkey/begin"),
                    &a.user.ip,
                    None,
                    &json!({}),
                )
                .await?;
                if status != 200 {
                    return Ok((status, (accounts, i + 1)));
                }
                let credential = a.key.get(&begun["options"], &origin)?;
                let body = json!({ "ceremony_id": begun["ceremony_id"], "credential": credential });
                let (status, tokens) = post(
                    &c,
                    &format!("{url}/v1/auth/passkey/finish"),
                    &a.user.ip,
                    None,
                    &body,
                )
                .await?;
                let status = if tokens["access_token"].is_string() {
                    status
                } else {
                    500
                };
                Ok((status, (accounts, i + 1)))
            }
        },
        c,
    )
    .await?;
    crate::report("passkey sign-ins/s (begin, ES256 assertion, finish)", &rate);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::usable_step;

    #[test]
    fn codes_are_used_in_order_and_never_as_they_age_out() {
        let step = 1_000u64;
        let at = |secs_into: u64| step * 30 + secs_into;
        // Long unused: the previous step first, while it still has time to run.
        assert_eq!(usable_step(step - 5, at(10)), Some(step - 1));
        assert_eq!(usable_step(step - 5, at(26)), Some(step));
        // Then this step and the next, each once.
        assert_eq!(usable_step(step - 1, at(10)), Some(step));
        assert_eq!(usable_step(step, at(10)), Some(step + 1));
        assert_eq!(usable_step(step + 1, at(10)), None);
    }
}
