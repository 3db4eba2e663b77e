//! A refresh whose response was lost must not sign the person out. Within a short window after a
//! rotation (`KEYCARD_REFRESH_REUSE_GRACE`, 5 s by default) the just-spent token, presented again,
//! gets the very successor its rotation issued — one chain, never two — while any older token, or
//! the same one after the window, is reuse and revokes the session as before.

use crate::{event_kinds, me_status};
use anyhow::{Context, Result, ensure};
use keycard_testkit::{PASSWORD, Reply, TestApp, send};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

backend_tests!(
    a_retried_refresh_within_the_grace_gets_the_same_successor,
    a_refresh_retried_after_the_grace_revokes_the_session,
    without_a_grace_one_concurrent_refresh_wins_and_the_other_revokes,
    refreshes_whose_client_hung_up_keep_the_session,
);

fn refresh_token(r: &Reply) -> Result<String> {
    Ok(r.json()?["refresh_token"]
        .as_str()
        .with_context(|| format!("no refresh_token in {r}"))?
        .to_owned())
}

async fn a_retried_refresh_within_the_grace_gets_the_same_successor(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let first = acct.tokens.refresh()?;
    let next = refresh_token(&app.refresh_raw(first).await?.expect_status(200)?)?;
    // The response was "lost": the client retries with the token it still has.
    let retry = app.refresh_raw(first).await?.expect_status(200)?;
    ensure!(
        refresh_token(&retry)? == next,
        "a retry must get the same successor: {retry}"
    );
    let access = retry.json()?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(me_status(&app, &access).await? == 200);
    // The chain goes on from that successor…
    let third = refresh_token(&app.refresh_raw(&next).await?.expect_status(200)?)?;
    // …and the first token, now older than the last one, is reuse: the session ends.
    app.refresh_raw(first)
        .await?
        .expect_problem(401, "refresh_token_reused")?;
    app.refresh_raw(&third)
        .await?
        .expect_problem(401, "invalid_refresh_token")?;
    Ok(())
}

async fn a_refresh_retried_after_the_grace_revokes_the_session(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("refresh_reuse_grace", "2s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let first = acct.tokens.refresh()?;
    let next = refresh_token(&app.refresh_raw(first).await?.expect_status(200)?)?;
    // Stored times are whole seconds: past 3 s the 2 s window has closed whatever the rounding.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    app.refresh_raw(first)
        .await?
        .expect_problem(401, "refresh_token_reused")?;
    app.refresh_raw(&next)
        .await?
        .expect_problem(401, "invalid_refresh_token")?;
    ensure!(me_status(&app, &acct.tokens.access_token).await? == 401);
    Ok(())
}

async fn without_a_grace_one_concurrent_refresh_wins_and_the_other_revokes(
    app: TestApp,
) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("refresh_reuse_grace", "0s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    for round in 0..5 {
        let session = app.login(&acct.email, PASSWORD).await?;
        let token = session.refresh()?;
        let (a, b) = tokio::join!(app.refresh_raw(token), app.refresh_raw(token));
        let (a, b) = (a?, b?);
        let statuses = [a.status.as_u16(), b.status.as_u16()];
        ensure!(
            statuses.iter().filter(|s| **s == 200).count() == 1 && statuses.contains(&401),
            "round {round}: exactly one refresh may succeed: {a} / {b}"
        );
    }
    Ok(())
}

/// Clients that hang up mid-refresh (a phone losing signal) at every point of the request: the
/// rotation completes or never starts, and the retry with the old token a moment later always
/// succeeds, with the successor the lost answer carried.
async fn refreshes_whose_client_hung_up_keep_the_session(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let mut token = acct.tokens.refresh()?.to_owned();
    let mut cut = 0;
    for round in 0..30u64 {
        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_micros(300 + 150 * round))
            .build()?;
        let dropped = impatient
            .post(app.url("/v1/auth/refresh"))
            .header("x-forwarded-for", app.client_ip())
            .json(&json!({ "refresh_token": token }))
            .send()
            .await;
        if dropped.is_err() {
            cut += 1;
        }
        // A client retries after a pause, not in the same instant: by then the server has
        // finished whatever part of the dropped request reached it. (Were that request to arrive
        // only after the client had moved on to a newer token, it would be a token older than
        // the last one, which is reuse by design; the concurrent case is its own test.)
        tokio::time::sleep(Duration::from_millis(400)).await;
        let retry = send(
            app.request(Method::POST, "/v1/auth/refresh")
                .json(&json!({ "refresh_token": token })),
        )
        .await?;
        ensure!(
            retry.status == 200,
            "round {round}: the retry failed: {retry}"
        );
        token = refresh_token(&retry)?;
    }
    ensure!(cut > 0, "no request was cut off: the test proved nothing");
    let last = app.refresh(&token).await?;
    ensure!(me_status(&app, &last.access_token).await? == 200);
    let kinds = event_kinds(&app, &last.access_token).await?;
    ensure!(
        !kinds.iter().any(|k| k == "refresh_token_reuse_detected"),
        "{kinds:?}"
    );
    Ok(())
}
