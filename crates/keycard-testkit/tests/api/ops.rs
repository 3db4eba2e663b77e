//! Operations: health, readiness, metrics, the OpenAPI document and docs UI, request ids, and
//! shedding load when password hashing is saturated.

use anyhow::{Context, Result};
use futures::future::join_all;
use keycard_testkit::{PASSWORD, TestApp, send, unique_email};
use reqwest::Method;

async fn health_and_readiness(app: TestApp) -> Result<()> {
    app.get("/healthz").await?.expect_status(200)?;
    app.get("/readyz").await?.expect_status(200)?;
    let (state, _) = app.session_cache().await?;
    assert_eq!(state, "active", "the session cache is on by default");
    Ok(())
}

async fn session_cache_remembers_and_can_be_turned_off(app: TestApp) -> Result<()> {
    let Some(app) = app.reconfigure().start().await? else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let token = &acct.tokens.access_token;
    app.bearer_get("/v1/me", token).await?.expect_status(200)?;
    let (state, entries) = app.session_cache().await?;
    assert_eq!((state.as_str(), entries), ("active", 1));

    let Some(app) = app
        .reconfigure()
        .session_cache_ttl(std::time::Duration::ZERO)
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let token = &acct.tokens.access_token;
    for _ in 0..2 {
        app.bearer_get("/v1/me", token).await?.expect_status(200)?;
    }
    let (state, entries) = app.session_cache().await?;
    assert_eq!((state.as_str(), entries), ("disabled", 0));
    send(
        app.request(Method::POST, "/v1/auth/logout")
            .bearer_auth(token),
    )
    .await?
    .expect_status(204)?;
    app.bearer_get("/v1/me", token)
        .await?
        .expect_problem(401, "session_ended")?;
    Ok(())
}

async fn metrics_count_logins_and_requests(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    app.login(&acct.email, PASSWORD).await?;
    let r = app.get("/metrics").await?.expect_status(200)?;
    for metric in ["keycard_logins_total", "keycard_http_requests_total"] {
        assert!(
            r.text.contains(metric),
            "/metrics lacks {metric}:\n{}",
            r.text
        );
    }
    Ok(())
}

async fn openapi_document_lists_the_api(app: TestApp) -> Result<()> {
    let r = app.get("/openapi.json").await?.expect_status(200)?;
    let doc = r.json()?;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi version {version:?}");
    let paths = doc["paths"].as_object().context("no paths")?;
    for path in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/me",
        "/v1/me/sessions/{id}",
        "/v1/me/apps/{client_id}",
        "/oauth2/token",
        "/oauth2/userinfo",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/device_authorization",
        "/device/qr",
        "/.well-known/openid-configuration",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    Ok(())
}

async fn docs_ui_is_served(app: TestApp) -> Result<()> {
    let r = app.get("/docs/").await?.expect_status(200)?;
    let ctype = r.header("content-type").unwrap_or_default();
    assert!(ctype.starts_with("text/html"), "content-type {ctype:?}");
    assert!(r.text.to_lowercase().contains("swagger"), "{}", r.text);
    Ok(())
}

async fn every_response_has_a_request_id(app: TestApp) -> Result<()> {
    let replies = [
        app.get("/healthz").await?,
        app.get("/no/such/path").await?,
        app.get("/v1/me").await?,
        app.register_raw("not-an-email", PASSWORD).await?,
        app.login_raw(&unique_email(), PASSWORD).await?,
    ];
    let mut ids = Vec::new();
    for r in &replies {
        let id = r.header("x-request-id").unwrap_or_default();
        assert!(!id.is_empty(), "no x-request-id on {r:?}");
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), replies.len(), "request ids are unique: {ids:?}");
    Ok(())
}

async fn saturated_hashing_sheds_load_with_503(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .hash_workers(1)
        .hash_queue(2)
        // Attempts on one account count as failures until their verdict: 30 at once would lock
        // it before the queue fills. This test is about the queue.
        .setting("login_free_failures", "99")
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let replies = join_all((0..30).map(|_| app.login_raw(&acct.email, PASSWORD))).await;

    let mut shed = 0;
    for r in replies {
        let r = r?;
        match r.status.as_u16() {
            200 | 401 => {}
            503 => {
                shed += 1;
                r.expect_problem(503, "overloaded")?;
                let retry = r.header("retry-after").unwrap_or_default();
                assert!(
                    retry.parse::<u64>().is_ok(),
                    "Retry-After {retry:?} on {r:?}"
                );
            }
            _ => panic!("unexpected reply under load: {r}"),
        }
    }
    assert!(
        shed > 0,
        "30 concurrent logins on 1 worker + 2 queue slots shed none"
    );
    // Load shedding is momentary: once the burst is over, logins work again.
    app.login(&acct.email, PASSWORD).await?;
    Ok(())
}

backend_tests!(
    health_and_readiness,
    metrics_count_logins_and_requests,
    openapi_document_lists_the_api,
    docs_ui_is_served,
    every_response_has_a_request_id,
    saturated_hashing_sheds_load_with_503,
    session_cache_remembers_and_can_be_turned_off,
);
