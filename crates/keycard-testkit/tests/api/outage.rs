//! A database outage: once Keycard knows PostgreSQL is down it answers 503 `unavailable` at once
//! (within 100 ms; never 500, never a hang) and stays up, and once PostgreSQL is back it serves
//! again within a second, by itself.
//!
//! PostgreSQL only — SQLite is a file that does not go away like this — so there is no
//! `backend_tests!` here; the test is still named `outage::postgres::…` to run with the other
//! PostgreSQL tests. It brings its own cluster and its own in-process Keycard, so it runs in every
//! mode, also with `KEYCARD_URL` or `KEYCARD_TEST_DATABASE_URL` set: it never skips.

use anyhow::{Context, Result, bail};
use keycard_testkit::{
    Backend, PASSWORD, PgCluster, Reply, StatusCode, TestApp, TokenResponse, send,
};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// No request may take longer than this while the database is down.
const BOUND: Duration = Duration::from_secs(15);
/// How long Keycard may take to notice that the database is gone (its notice connection drops
/// at once; a probe then confirms) or back.
const DETECTION: Duration = Duration::from_secs(10);
/// Once the outage is known, a request that needs the database is answered within this.
const FAST: Duration = Duration::from_millis(100);
/// Once PostgreSQL accepts connections again, Keycard serves within this.
const RECOVERY: Duration = Duration::from_secs(1);

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_outage_and_recovery() {
        if let Err(e) = super::database_outage_and_recovery().await {
            panic!("{e:#}");
        }
    }
}

/// Sends a request with a [`BOUND`]ed wait, saying which request hung if it does.
async fn bounded(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> Result<Reply> {
    let mut request = app.request(method.clone(), path).timeout(BOUND);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let started = Instant::now();
    send(request)
        .await
        .with_context(|| format!("{method} {path} after {:?}", started.elapsed()))
}

async fn bounded_login(app: &TestApp, email: &str) -> Result<Reply> {
    let started = Instant::now();
    send(
        app.request(Method::POST, "/v1/auth/login")
            .timeout(BOUND)
            .json(&json!({ "email": email, "password": PASSWORD })),
    )
    .await
    .with_context(|| format!("POST /v1/auth/login after {:?}", started.elapsed()))
}

/// 503 `unavailable` with a Retry-After in whole seconds.
fn expect_unavailable(r: &Reply, what: &str) -> Result<()> {
    r.expect_problem(503, "unavailable")
        .with_context(|| format!("{what} while PostgreSQL is down"))?;
    let retry = r.header("retry-after").unwrap_or_default();
    if retry.parse::<u64>().is_err() {
        bail!("{what} while PostgreSQL is down: Retry-After {retry:?} is not whole seconds: {r:?}");
    }
    Ok(())
}

async fn database_outage_and_recovery() -> Result<()> {
    // Declared first, dropped last: the cluster outlives the Keycard using it.
    let cluster = PgCluster::start().await?;
    let mut app = TestApp::builder(Backend::Postgres)
        .database_url(cluster.url())
        .start_in_process()
        .await?;
    let acct = app.new_account().await?;
    let session = &acct.tokens.access_token;
    app.get("/readyz").await?.expect_status(200)?;

    cluster.stop().await?;

    // Known down: /readyz fails (it may take one probe).
    let started = Instant::now();
    loop {
        let ready = bounded(&app, Method::GET, "/readyz", None).await?;
        if ready.status == StatusCode::SERVICE_UNAVAILABLE {
            expect_unavailable(&ready, "GET /readyz")?;
            break;
        }
        if started.elapsed() > DETECTION {
            bail!("GET /readyz {DETECTION:?} after PostgreSQL stopped: {ready}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("outage known after {:?}", started.elapsed());

    // From then on every request that needs the database is refused at once. Each is timed; the
    // median must be under 100 ms and none may take a second (a debug build sharing two cores
    // with other tests, so single outliers are the machine's, not Keycard's).
    let mut took = Vec::new();
    for round in 0..5 {
        for what in ["GET /readyz", "POST /v1/auth/login", "GET /v1/me"] {
            let t = Instant::now();
            let r = match what {
                "GET /readyz" => bounded(&app, Method::GET, "/readyz", None).await?,
                "POST /v1/auth/login" => bounded_login(&app, &acct.email).await?,
                // A session that cannot be looked up is not an ended one: 503, not 401.
                _ => bounded(&app, Method::GET, "/v1/me", Some(session)).await?,
            };
            let elapsed = t.elapsed();
            expect_unavailable(&r, what)?;
            if elapsed > Duration::from_secs(1) {
                bail!("{what} took {elapsed:?} (round {round}) although the outage was known");
            }
            took.push(elapsed);
        }
    }
    took.sort();
    let median = took[took.len() / 2];
    println!(
        "503 latency while down: median {median:?}, max {:?}",
        took[took.len() - 1]
    );
    if median > FAST {
        bail!("503s while the outage is known took {median:?} (median), over {FAST:?}: {took:?}");
    }
    // Liveness does not depend on the database: an orchestrator must not restart Keycard for it.
    let health = bounded(&app, Method::GET, "/healthz", None).await?;
    if health.status != StatusCode::OK {
        bail!("GET /healthz while PostgreSQL is down: expected 200, got {health}");
    }
    app.ensure_serving()
        .await
        .context("Keycard while PostgreSQL is down")?;

    // `restart` returns once PostgreSQL accepts connections: Keycard must serve within a second.
    cluster.restart().await?;
    let back = Instant::now();
    loop {
        let r = bounded(&app, Method::GET, "/readyz", None).await?;
        if r.status == StatusCode::OK {
            break;
        }
        if back.elapsed() > RECOVERY {
            bail!("GET /readyz {RECOVERY:?} after PostgreSQL came back: {r}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    println!(
        "serving again {:?} after PostgreSQL came back",
        back.elapsed()
    );
    let login = bounded_login(&app, &acct.email).await?.expect_status(200)?;
    let fresh: TokenResponse = serde_json::from_str(&login.text)?;
    for token in [session, &fresh.access_token] {
        bounded(&app, Method::GET, "/v1/me", Some(token))
            .await?
            .expect_status(200)
            .context("GET /v1/me after recovery")?;
    }
    // The change-notice connection is back too: sessions are remembered again.
    app.wait_for_session_cache(DETECTION)
        .await
        .context("after PostgreSQL came back")?;
    app.ensure_serving().await?;
    Ok(())
}
