//! Browser delivery: the refresh token in a `__Host-` cookie, and the CSRF defences that make a
//! cookie-authenticated refresh or logout safe.

use crate::me_status;
use anyhow::{Context, Result};
use keycard_testkit::{PASSWORD, Reply, TestApp, send};
use reqwest::Method;
use serde_json::{Value, json};

const COOKIE: &str = "__Host-keycard_refresh";

/// The refresh cookie a reply sets, whole (`name=value; attributes`).
fn refresh_cookie(r: &Reply) -> Result<String> {
    r.set_cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{COOKIE}=")))
        .map(str::to_owned)
        .with_context(|| format!("no {COOKIE} Set-Cookie on {r:?}"))
}

fn cookie_value(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').map_or("", |(_, v)| v)
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// Logs a new account in with cookie delivery; returns the body and the cookie's value.
async fn cookie_login(app: &TestApp) -> Result<(Value, String)> {
    let acct = app.new_account().await?;
    let r = app
        .post(
            "/v1/auth/login",
            &json!({ "email": acct.email, "password": PASSWORD, "token_delivery": "cookie" }),
        )
        .await?
        .expect_status(200)?;
    let cookie = refresh_cookie(&r)?;
    assert_secure_host_cookie(&cookie);
    Ok((r.json()?, cookie_value(&cookie).to_owned()))
}

/// `POST path` carrying the refresh cookie, plus the given headers.
async fn with_cookie(
    app: &TestApp,
    path: &str,
    value: &str,
    headers: &[(&str, &str)],
) -> Result<Reply> {
    let mut req = app
        .request(Method::POST, path)
        .header("cookie", format!("{COOKIE}={value}"))
        .json(&json!({}));
    for (name, v) in headers {
        req = req.header(*name, *v);
    }
    send(req).await
}

fn assert_secure_host_cookie(set_cookie: &str) {
    let attrs = attributes(set_cookie);
    for want in ["httponly", "secure", "samesite=strict", "path=/"] {
        assert!(
            attrs.iter().any(|a| a == want),
            "{want} missing: {set_cookie}"
        );
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain=")),
        "__Host- cookies carry no Domain: {set_cookie}"
    );
}

async fn cookie_delivery_sets_a_host_only_http_only_cookie(app: TestApp) -> Result<()> {
    let (body, value) = cookie_login(&app).await?;
    assert!(
        body["refresh_token"].is_null(),
        "refresh token leaked into the body: {body}"
    );
    assert!(!value.is_empty());
    let access = body["access_token"].as_str().context("no access_token")?;
    assert_eq!(me_status(&app, access).await?, 200);

    let r = app
        .post(
            "/v1/auth/register",
            &json!({ "email": keycard_testkit::unique_email(), "password": PASSWORD, "token_delivery": "cookie" }),
        )
        .await?
        .expect_status(201)?;
    assert!(r.json()?["refresh_token"].is_null(), "{r}");
    assert_secure_host_cookie(&refresh_cookie(&r)?);
    Ok(())
}

async fn cookie_refresh_requires_csrf_proof(app: TestApp) -> Result<()> {
    let (_, value) = cookie_login(&app).await?;
    let origin = app.base_url().to_owned();
    let refused: [(&str, Vec<(&str, &str)>); 3] = [
        ("no Keycard-CSRF header", vec![]),
        (
            "Sec-Fetch-Site: cross-site",
            vec![("keycard-csrf", "1"), ("sec-fetch-site", "cross-site")],
        ),
        (
            "foreign Origin",
            vec![("keycard-csrf", "1"), ("origin", "https://evil.example")],
        ),
    ];
    for (what, headers) in &refused {
        with_cookie(&app, "/v1/auth/refresh", &value, headers)
            .await?
            .expect_problem(403, "csrf_rejected")
            .map_err(|e| e.context(*what))?;
    }

    // The refused attempts did not spend the token.
    let ok = with_cookie(
        &app,
        "/v1/auth/refresh",
        &value,
        &[("keycard-csrf", "1"), ("origin", &origin)],
    )
    .await?
    .expect_status(200)?;
    let body = ok.json()?;
    assert!(body["refresh_token"].is_null(), "{ok}");
    let next = refresh_cookie(&ok)?;
    assert_secure_host_cookie(&next);
    assert_ne!(cookie_value(&next), value, "the cookie rotates");
    let access = body["access_token"].as_str().context("no access_token")?;
    assert_eq!(me_status(&app, access).await?, 200);

    // And the successful one did. Sent again at once (a tab that did not see the answer), the
    // old cookie gets the same successor; once that one has been used, the old one is reuse.
    let again = with_cookie(&app, "/v1/auth/refresh", &value, &[("keycard-csrf", "1")])
        .await?
        .expect_status(200)?;
    assert_eq!(cookie_value(&refresh_cookie(&again)?), cookie_value(&next));
    with_cookie(
        &app,
        "/v1/auth/refresh",
        cookie_value(&next),
        &[("keycard-csrf", "1")],
    )
    .await?
    .expect_status(200)?;
    with_cookie(&app, "/v1/auth/refresh", &value, &[("keycard-csrf", "1")])
        .await?
        .expect_problem(401, "refresh_token_reused")?;
    Ok(())
}

async fn cookie_logout_clears_the_cookie(app: TestApp) -> Result<()> {
    let (body, value) = cookie_login(&app).await?;
    let r = with_cookie(&app, "/v1/auth/logout", &value, &[("keycard-csrf", "1")])
        .await?
        .expect_status(204)?;
    let cleared = refresh_cookie(&r)?;
    assert_eq!(cookie_value(&cleared), "", "{cleared}");
    assert!(
        attributes(&cleared).iter().any(|a| a == "max-age=0"),
        "not expired: {cleared}"
    );

    let access = body["access_token"].as_str().context("no access_token")?;
    assert_eq!(me_status(&app, access).await?, 401);
    let again = with_cookie(&app, "/v1/auth/refresh", &value, &[("keycard-csrf", "1")]).await?;
    assert_eq!(again.status, 401, "{again}");
    Ok(())
}

async fn allowed_origins_may_use_the_cookie(app: TestApp) -> Result<()> {
    let spa = "https://app.example";
    let Some(app) = app
        .reconfigure()
        .allowed_origins(vec![spa.to_owned()])
        .start()
        .await?
    else {
        return Ok(());
    };
    // The browser's preflight for a credentialed, CSRF-headed refresh from the SPA.
    let preflight = send(
        app.request(Method::OPTIONS, "/v1/auth/refresh")
            .header("origin", spa)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,keycard-csrf",
            ),
    )
    .await?;
    assert!(preflight.status.is_success(), "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(spa),
        "{preflight:?}"
    );
    assert_eq!(
        preflight.header("access-control-allow-credentials"),
        Some("true"),
        "{preflight:?}"
    );

    let (_, value) = cookie_login(&app).await?;
    with_cookie(
        &app,
        "/v1/auth/refresh",
        &value,
        &[("keycard-csrf", "1"), ("origin", spa)],
    )
    .await?
    .expect_status(200)?;
    Ok(())
}

backend_tests!(
    cookie_delivery_sets_a_host_only_http_only_cookie,
    cookie_refresh_requires_csrf_proof,
    cookie_logout_clears_the_cookie,
    allowed_origins_may_use_the_cookie,
);
