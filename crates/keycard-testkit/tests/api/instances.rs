//! Several Keycard instances on one PostgreSQL database, as behind a load balancer. Each instance
//! remembers sessions for a few seconds; a change made through one must still reach the others
//! at once (well within that time), through PostgreSQL's change notices.
//!
//! PostgreSQL only: an embedded SQLite database belongs to one process. In-process only (the
//! second instance is started here), so in the container these return early.

use crate::me_status;
use anyhow::{Context, Result, bail, ensure};
use keycard_testkit::{Backend, PASSWORD, TestApp, send};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// Far below the default cache lifetime (10 s): passing within it proves the change was heard,
/// not waited out.
const PROPAGATION: Duration = Duration::from_secs(3);

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_made_on_one_instance_reaches_the_other() {
        if let Err(e) = super::a_change_made_on_one_instance_reaches_the_other().await {
            panic!("{e:#}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_by_hand_in_the_database_reach_every_instance() {
        if let Err(e) = super::changes_made_by_hand_in_the_database_reach_every_instance().await {
            panic!("{e:#}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_listener_pauses_the_cache_until_it_is_back() {
        if let Err(e) = super::a_lost_listener_pauses_the_cache_until_it_is_back().await {
            panic!("{e:#}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_on_one_instance_lock_the_account_on_the_other() {
        if let Err(e) = super::failures_on_one_instance_lock_the_account_on_the_other().await {
            panic!("{e:#}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_share_one_limit_on_password_reset_requests() {
        if let Err(e) = super::instances_share_one_limit_on_password_reset_requests().await {
            panic!("{e:#}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn second_factors_set_up_on_one_instance_show_on_the_other() {
        if let Err(e) = super::second_factors_set_up_on_one_instance_show_on_the_other().await {
            panic!("{e:#}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_password_change_on_one_instance_ends_sessions_on_the_other() {
        if let Err(e) = super::a_password_change_on_one_instance_ends_sessions_on_the_other().await
        {
            panic!("{e:#}");
        }
    }
}

/// Two instances whose session caches are both active (each hears the other's changes).
async fn pair() -> Result<Option<(TestApp, TestApp)>> {
    let Some(a) = TestApp::builder(Backend::Postgres).start().await? else {
        return Ok(None);
    };
    let Some(b) = a.peer().await? else {
        return Ok(None);
    };
    for app in [&a, &b] {
        let (state, _) = app.session_cache().await?;
        if state != "active" {
            bail!("session cache of {} is {state}", app.base_url());
        }
    }
    Ok(Some((a, b)))
}

async fn wait_for<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let started = Instant::now();
    loop {
        if check().await? {
            return Ok(());
        }
        if started.elapsed() > PROPAGATION {
            bail!("waited {PROPAGATION:?} for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn logout(app: &TestApp, token: &str) -> Result<()> {
    send(
        app.request(Method::POST, "/v1/auth/logout")
            .bearer_auth(token),
    )
    .await?
    .expect_status(204)?;
    Ok(())
}

/// Waits until `app` refuses `token` (401), as [`wait_for`] says.
async fn refused_by(app: &TestApp, token: &str, what: &str) -> Result<()> {
    wait_for(what, || async { Ok(me_status(app, token).await? == 401) }).await
}

async fn a_change_made_on_one_instance_reaches_the_other() -> Result<()> {
    let Some((a, b)) = pair().await? else {
        return Ok(());
    };
    let acct = a.new_account().await?;
    let token = acct.tokens.access_token.as_str();
    // Read through B twice: the second answer comes from B's memory.
    for _ in 0..2 {
        b.bearer_get("/v1/me", token).await?.expect_status(200)?;
    }
    assert_eq!(b.session_cache().await?.1, 1, "B remembers the session");

    a.bearer_patch("/v1/me", token, &json!({ "name": "Renamed On A" }))
        .await?
        .expect_status(200)?;
    wait_for("B to show the new name", || async {
        let me = b.bearer_get("/v1/me", token).await?.expect_status(200)?;
        Ok(me.json()?["name"] == "Renamed On A")
    })
    .await?;

    logout(&a, token).await?;
    refused_by(&b, token, "B to refuse the ended session").await?;
    b.bearer_get("/v1/me", token)
        .await?
        .expect_problem(401, "session_ended")?;
    drop(b);
    Ok(())
}

async fn a_password_change_on_one_instance_ends_sessions_on_the_other() -> Result<()> {
    let Some((a, b)) = pair().await? else {
        return Ok(());
    };
    let acct = a.new_account().await?;
    let phone = b.login(&acct.email, PASSWORD).await?;
    b.bearer_get("/v1/me", &phone.access_token)
        .await?
        .expect_status(200)?;
    assert_eq!(b.session_cache().await?.1, 1, "B remembers the session");

    a.bearer_post(
        "/v1/me/password",
        &acct.tokens.access_token,
        &json!({ "current_password": PASSWORD, "new_password": "a different long passphrase" }),
    )
    .await?
    .expect_status(200)?;
    refused_by(&b, &phone.access_token, "B to refuse the other session").await?;
    // The session that changed the password goes on, on either instance.
    assert_eq!(me_status(&b, &acct.tokens.access_token).await?, 200);
    drop(b);
    Ok(())
}

/// An operator's UPDATE or TRUNCATE, not made through Keycard, is announced by the triggers.
async fn changes_made_by_hand_in_the_database_reach_every_instance() -> Result<()> {
    let Some((a, b)) = pair().await? else {
        return Ok(());
    };
    let acct = a.new_account().await?;
    let token = acct.tokens.access_token.as_str();
    b.bearer_get("/v1/me", token).await?.expect_status(200)?;
    a.psql(&format!(
        "UPDATE sessions SET idle_expires_at = now() - interval '1 minute' WHERE id = '{}'",
        acct.tokens.session_id
    ))
    .await?;
    refused_by(
        &b,
        token,
        "B to refuse a session moved past its idle deadline",
    )
    .await?;

    let other = a.new_account().await?;
    let token = other.tokens.access_token.as_str();
    b.bearer_get("/v1/me", token).await?.expect_status(200)?;
    a.psql("TRUNCATE sessions CASCADE").await?;
    refused_by(&b, token, "B to refuse a session of an emptied table").await?;
    drop(b);
    Ok(())
}

/// While its LISTEN connection is gone an instance cannot hear changes, so it must not answer
/// from memory; once it listens again it remembers again.
async fn a_lost_listener_pauses_the_cache_until_it_is_back() -> Result<()> {
    let Some((a, b)) = pair().await? else {
        return Ok(());
    };
    let acct = a.new_account().await?;
    let token = acct.tokens.access_token.as_str();
    b.bearer_get("/v1/me", token).await?.expect_status(200)?;

    // Both instances' listeners (the database is this test's own).
    a.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'keycard-listener' AND datname = current_database()",
    )
    .await?;
    // A change made while B may be deaf: B must still refuse the session promptly.
    logout(&a, token).await?;
    refused_by(&b, token, "B to refuse the ended session").await?;

    b.wait_for_session_cache(Duration::from_secs(20))
        .await
        .context("after its listener was cut")?;
    let again = a.login(&acct.email, PASSWORD).await?;
    b.bearer_get("/v1/me", &again.access_token)
        .await?
        .expect_status(200)?;
    assert_eq!(b.session_cache().await?.1, 1, "B remembers again");
    logout(&a, &again.access_token).await?;
    refused_by(
        &b,
        &again.access_token,
        "B to refuse the second ended session",
    )
    .await?;
    drop(b);
    Ok(())
}

/// Failures counted on one instance lock the account on the other: the count is the
/// database's, not a process's.
async fn failures_on_one_instance_lock_the_account_on_the_other() -> Result<()> {
    let Some(a) = TestApp::builder(Backend::Postgres)
        .setting("login_free_failures", "2")
        .setting("login_backoff", "30s")
        .setting("login_lockout", "30s")
        .setting("login_ip_limit", "off")
        .start()
        .await?
    else {
        return Ok(());
    };
    let Some(b) = a.peer().await? else {
        return Ok(());
    };
    let acct = a.new_account().await?;
    for app in [&a, &b, &b] {
        app.login_raw(&acct.email, "wrong password 123")
            .await?
            .expect_problem(401, "invalid_credentials")?;
    }
    // `a` saw one failure only; the lock it now refuses with came from the database.
    let r = a.login_raw(&acct.email, PASSWORD).await?;
    r.expect_problem(429, "account_locked")?;
    ensure!(crate::throttle::retry_after(&r)? >= 29, "{r:?}");
    // The lock and the refusal are in the audit trail (the refusal names no user: looking the
    // account up would make a locked account answer differently from an unknown one).
    a.psql(
        "DO $$ BEGIN \
           IF (SELECT count(*) FROM audit_events WHERE kind = 'account_locked' AND user_id IS NOT NULL) <> 1 \
           THEN RAISE EXCEPTION 'expected one account_locked event'; END IF; \
           IF NOT EXISTS (SELECT 1 FROM audit_events WHERE kind = 'throttled' \
             AND detail->>'limit' = 'login_per_account' AND ip IS NOT NULL) \
           THEN RAISE EXCEPTION 'expected a throttled event'; END IF; END $$",
    )
    .await?;
    drop(b);
    Ok(())
}

/// Requests for a reset link counted on one instance count on the other: the limit is kept in
/// the database, so a second instance is no second allowance.
async fn instances_share_one_limit_on_password_reset_requests() -> Result<()> {
    let Some((a, b)) = pair().await? else {
        return Ok(());
    };
    let email = keycard_testkit::unique_email();
    for app in [&a, &b, &a] {
        app.post("/v1/auth/password/forgot", &json!({ "email": email }))
            .await?
            .expect_status(202)?;
    }
    for app in [&b, &a] {
        app.post("/v1/auth/password/forgot", &json!({ "email": email }))
            .await?
            .expect_problem(429, "rate_limited")?;
    }
    Ok(())
}

async fn second_factors_set_up_on_one_instance_show_on_the_other() -> Result<()> {
    let Some((a, b)) = pair().await? else {
        return Ok(());
    };
    let acct = a.new_account().await?;
    let token = acct.tokens.access_token.as_str();
    let b = &b;
    // B remembers the session with no second factor.
    for _ in 0..2 {
        ensure!(mfa_of(b, token).await?["enabled"] == false);
    }
    let e = crate::mfa::enroll(&a, acct.email.clone(), acct.tokens.clone()).await?;
    wait_for("B to show the app set up on A", || async {
        Ok(mfa_of(b, token).await?["enabled"] == true)
    })
    .await?;
    // A recovery code spent on A.
    let challenge = crate::mfa::challenged(&a, &e.email).await?;
    a.post(
        "/v1/auth/mfa",
        &json!({ "challenge_id": challenge, "code": e.recovery_codes[0] }),
    )
    .await?
    .expect_status(200)?;
    wait_for("B to count the recovery code spent on A", || async {
        Ok(mfa_of(b, token).await?["recovery_codes_left"] == 9)
    })
    .await
}

/// The second factors `GET /v1/me` shows on `app`.
async fn mfa_of(app: &TestApp, token: &str) -> Result<serde_json::Value> {
    let me = app
        .bearer_get("/v1/me", token)
        .await?
        .expect_status(200)?
        .json()?;
    Ok(me["mfa"].clone())
}
