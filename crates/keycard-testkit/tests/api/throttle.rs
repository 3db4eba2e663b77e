//! Brute-force and flood protection: per-account lockout and its end, per-network limits on
//! sign-in failures and sign-ups, a locked account answering exactly like an unknown one, one
//! count shared by two instances. Clients are told apart by `X-Forwarded-For` with forwarding
//! trusted, as behind Keycard's proxy. (That a refusal spends no password hash is proven from the
//! hash metric in the `hash_budget` test binary, which has a process of its own.)

use crate::event_kinds;
use anyhow::{Context, Result, ensure};
use keycard_testkit::{PASSWORD, Reply, TestApp, unique_email};
use std::time::Duration;

backend_tests!(
    failures_slow_down_then_lock_and_the_lock_ends_by_itself,
    a_locked_account_answers_exactly_like_an_unknown_one,
    failed_sign_ins_per_network_are_limited_and_successes_do_not_count,
    sign_ups_are_limited_per_network_and_per_address,
    default_limits_leave_a_person_who_mistypes_alone,
    default_limits_lock_after_five_failures_and_refuse_a_sixth_sign_up,
    the_client_is_as_many_forwarded_entries_from_the_right_as_there_are_proxies,
);

/// Two free failures, then 2 s waits (the doubling starts at the cap), no network limit.
async fn lockout_app(app: TestApp, wait: &str) -> Result<Option<TestApp>> {
    app.reconfigure()
        .setting("login_free_failures", "2")
        .setting("login_backoff", wait)
        .setting("login_lockout", wait)
        .setting("login_ip_limit", "off")
        .start()
        .await
}

pub fn retry_after(r: &Reply) -> Result<u64> {
    r.header("retry-after")
        .context("429 without Retry-After")?
        .parse()
        .with_context(|| format!("Retry-After is not a number of seconds: {r:?}"))
}

async fn failures_slow_down_then_lock_and_the_lock_ends_by_itself(app: TestApp) -> Result<()> {
    let Some(app) = lockout_app(app, "2s").await? else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    // However the address is typed, it is one account and one count.
    let spellings = [
        acct.email.clone(),
        acct.email.to_uppercase(),
        format!("  {}  ", acct.email),
    ];
    for email in &spellings {
        app.login_raw(email, "wrong password 123")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    // The third failure locked the account: even the right password waits, unchecked.
    let locked = app.login_raw(&acct.email, PASSWORD).await?;
    let problem = locked.expect_problem(429, "account_locked")?;
    ensure!(
        problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{locked}"
    );
    let wait = retry_after(&locked)?;
    ensure!((1..=2).contains(&wait), "Retry-After {wait} for a 2 s lock");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let signed_in = app.login(&acct.email, PASSWORD).await?;
    // A success starts the count over: two free failures again.
    for _ in 0..2 {
        app.login_raw(&acct.email, "wrong password 123")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    let kinds = event_kinds(&app, &signed_in.access_token).await?;
    ensure!(
        kinds.iter().filter(|k| *k == "login_failed").count() == 5,
        "{kinds:?}"
    );
    ensure!(
        kinds.iter().filter(|k| *k == "account_locked").count() == 1,
        "{kinds:?}"
    );
    Ok(())
}

async fn a_locked_account_answers_exactly_like_an_unknown_one(app: TestApp) -> Result<()> {
    let Some(app) = lockout_app(app, "30s").await? else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let unknown = unique_email();
    let mut last = Vec::new();
    for email in [&acct.email, &unknown] {
        for _ in 0..3 {
            app.login_raw(email, "wrong password 123")
                .await?
                .expect_problem(401, "invalid_credentials")?;
        }
        let r = app.login_raw(email, PASSWORD).await?;
        r.expect_problem(429, "account_locked")?;
        last.push(r);
    }
    let (known, unknown) = (&last[0], &last[1]);
    ensure!(
        known.text == unknown.text,
        "bodies differ:\n{known}\n{unknown}"
    );
    let (a, b) = (retry_after(known)?, retry_after(unknown)?);
    ensure!(
        a.abs_diff(b) <= 1 && (29..=30).contains(&a),
        "Retry-After {a} vs {b}"
    );
    let names = |r: &Reply| {
        let mut v: Vec<String> = r.headers.keys().map(|k| k.to_string()).collect();
        v.retain(|k| k != "x-request-id" && k != "date");
        v.sort();
        v
    };
    ensure!(
        names(known) == names(unknown),
        "headers differ:\n{known:?}\n{unknown:?}"
    );
    Ok(())
}

async fn failed_sign_ins_per_network_are_limited_and_successes_do_not_count(
    app: TestApp,
) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("trust_forwarded_for", "true")
        .setting("login_ip_limit", "3/1m")
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let wrong = |ip: &'static str| {
        let app = &app;
        async move {
            app.login_from(ip, &unique_email(), "wrong password 123")
                .await
        }
    };
    // A network's successes are given back: 2 failures + 1 success + 1 failure = 3 counted.
    for _ in 0..2 {
        wrong("203.0.113.7")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    app.login_from("203.0.113.7", &acct.email, PASSWORD)
        .await?
        .expect_status(200)?;
    wrong("203.0.113.7")
        .await?
        .expect_problem(401, "invalid_credentials")?;
    // The fourth failure is over the limit: refused, whatever the account or password.
    let refused = wrong("203.0.113.7").await?;
    refused.expect_problem(429, "rate_limited")?;
    let wait = retry_after(&refused)?;
    ensure!((19..=20).contains(&wait), "Retry-After {wait} for 3/min");
    app.login_from("203.0.113.7", &acct.email, PASSWORD)
        .await?
        .expect_problem(429, "rate_limited")?;
    // Another network, and another IPv6 /64, are not affected; the same /64 is.
    wrong("203.0.113.8")
        .await?
        .expect_problem(401, "invalid_credentials")?;
    for _ in 0..3 {
        wrong("2001:db8:7:7::1")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    wrong("2001:db8:7:7:ffff::2")
        .await?
        .expect_problem(429, "rate_limited")?;
    wrong("2001:db8:7:8::1")
        .await?
        .expect_problem(401, "invalid_credentials")?;
    app.login_from("203.0.113.9", &acct.email, PASSWORD)
        .await?
        .expect_status(200)?;
    let metrics = app.get("/metrics").await?.expect_status(200)?;
    ensure!(
        metrics
            .text
            .lines()
            .any(|l| l.starts_with("keycard_throttled_total{")
                && l.contains(r#"endpoint="login""#)
                && l.contains(r#"limit="login_per_ip""#)),
        "no throttling metric in:\n{}",
        metrics.text
    );
    Ok(())
}

async fn sign_ups_are_limited_per_network_and_per_address(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("trust_forwarded_for", "true")
        .setting("register_ip_limit", "2/1m")
        .setting("register_email_limit", "2/1h")
        .start()
        .await?
    else {
        return Ok(());
    };
    for _ in 0..2 {
        app.register_from("198.51.100.1", &unique_email(), PASSWORD)
            .await?
            .expect_status(201)?;
    }
    let refused = app
        .register_from("198.51.100.1", &unique_email(), PASSWORD)
        .await?;
    refused.expect_problem(429, "rate_limited")?;
    ensure!((29..=30).contains(&retry_after(&refused)?), "{refused:?}");
    // One address tried from many networks: the third attempt is refused before its hash.
    let email = unique_email();
    app.register_from("198.51.100.2", &email, PASSWORD)
        .await?
        .expect_status(201)?;
    app.register_from("198.51.100.3", &email, PASSWORD)
        .await?
        .expect_problem(409, "email_taken")?;
    app.register_from("198.51.100.4", &email, PASSWORD)
        .await?
        .expect_problem(429, "rate_limited")?;
    // A rejected password spends no hash and so counts against no limit.
    app.register_from("198.51.100.5", &unique_email(), "short")
        .await?
        .expect_status(422)?;
    Ok(())
}

/// With the defaults, a person who mistypes a few times is never slowed down.
async fn default_limits_leave_a_person_who_mistypes_alone(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    for _ in 0..5 {
        app.login_raw(&acct.email, "wrong password 123")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    app.login(&acct.email, PASSWORD).await?;
    app.login_raw(&acct.email, "wrong password 123")
        .await?
        .expect_problem(401, "invalid_credentials")?;
    app.login(&acct.email, PASSWORD).await?;
    Ok(())
}

/// The defaults, as any deployment has them (this one also runs against the container stack):
/// five free failures, then a one-second wait; five sign-up attempts per address an hour.
async fn default_limits_lock_after_five_failures_and_refuse_a_sixth_sign_up(
    app: TestApp,
) -> Result<()> {
    let acct = app.new_account().await?;
    for _ in 0..6 {
        app.login_raw(&acct.email, "wrong password 123")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    let locked = app.login_raw(&acct.email, PASSWORD).await?;
    locked.expect_problem(429, "account_locked")?;
    ensure!(retry_after(&locked)? == 1, "{locked:?}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.login(&acct.email, PASSWORD).await?;

    // The account's address was tried once (its sign-up): four more, then refused unhashed.
    for _ in 0..4 {
        app.register_raw(&acct.email, PASSWORD)
            .await?
            .expect_problem(409, "email_taken")?;
    }
    app.register_raw(&acct.email, PASSWORD)
        .await?
        .expect_problem(429, "rate_limited")?;
    Ok(())
}

/// Behind a CDN and a load balancer (two trusted hops), the client is the second entry from the
/// right; what the client wrote further left is ignored.
async fn the_client_is_as_many_forwarded_entries_from_the_right_as_there_are_proxies(
    app: TestApp,
) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("trust_forwarded_for", "true")
        .setting("trusted_proxy_hops", "2")
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let signed_in = app
        .login_from("6.6.6.6, 203.0.113.50, 198.51.100.1", &acct.email, PASSWORD)
        .await?
        .expect_status(200)?
        .json()?;
    let token = signed_in["access_token"].as_str().unwrap_or_default();
    let list = app
        .bearer_get("/v1/me/sessions", token)
        .await?
        .expect_status(200)?
        .json()?;
    let current = list["sessions"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["current"] == true))
        .context("no current session")?;
    ensure!(current["ip"] == "203.0.113.50", "{current}");
    Ok(())
}
