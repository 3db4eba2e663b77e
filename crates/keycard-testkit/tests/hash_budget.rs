//! A refused sign-in or sign-up spends no password hash, read from the server's own hash metric.
//! A test binary of its own: metrics are process-wide, and here no other server of the process
//! hashes meanwhile, so the count is exact. Both backends run one after the other in one test
//! for the same reason.

#![forbid(unsafe_code)]

use anyhow::{Result, ensure};
use futures::future::join_all;
use keycard_testkit::{Backend, PASSWORD, TestApp, unique_email};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_spend_no_hash() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Err(e) = refused_attempts_spend_no_hash_on(backend).await {
            panic!("{backend:?}: {e:#}");
        }
    }
}

async fn refused_attempts_spend_no_hash_on(backend: Backend) -> Result<()> {
    let Some(app) = TestApp::builder(backend)
        .setting("trust_forwarded_for", "true")
        .setting("login_free_failures", "1")
        .setting("login_backoff", "1m")
        .setting("login_lockout", "1m")
        .setting("login_ip_limit", "2/1m")
        .setting("register_ip_limit", "1/1m")
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let before = app.hashes_computed().await?;

    // One account, attacked from many networks at once: two guesses are checked (the free one,
    // and the one that locks), every other one is refused unhashed.
    let guesses = join_all((0..40).map(|i| {
        let (app, email) = (&app, &acct.email);
        async move {
            app.login_from(&format!("192.0.2.{}", i + 1), email, "wrong password 123")
                .await
        }
    }))
    .await;
    let mut checked = 0;
    for r in guesses {
        let r = r?;
        match r.status.as_u16() {
            401 => checked += 1,
            429 => {
                r.expect_problem(429, "account_locked")?;
            }
            _ => anyhow::bail!("unexpected reply: {r}"),
        }
    }
    ensure!(checked == 2, "{checked} guesses were checked, expected 2");

    // One network, many accounts: two failures allowed, then refused unhashed.
    for i in 0..30 {
        let r = app
            .login_from("198.51.100.77", &unique_email(), "wrong password 123")
            .await?;
        let want = if i < 2 { 401 } else { 429 };
        ensure!(r.status.as_u16() == want, "attempt {i}: {r}");
    }
    // Sign-ups from one network: one allowed (one hash), the rest refused unhashed.
    for i in 0..10 {
        let r = app
            .register_from("198.51.100.78", &unique_email(), PASSWORD)
            .await?;
        let want = if i < 1 { 201 } else { 429 };
        ensure!(r.status.as_u16() == want, "sign-up {i}: {r}");
    }
    let spent = app.hashes_computed().await? - before;
    ensure!(spent == 2 + 2 + 1, "{spent} hashes spent, expected 5");
    Ok(())
}
