//! Sign-in across devices (RFC 8628): a TV asks for a code, the person allows it on `/device`
//! from a browser where they are signed in, the TV polls the token endpoint.

use super::*;
use keycard_testkit::apps::TV;
use std::time::Duration;

backend_tests!(
    a_tv_signs_in_with_a_code_allowed_on_a_phone,
    polling_follows_the_rfc_and_a_denial_is_final,
    the_device_page_needs_a_sign_in_and_codes_cannot_be_guessed_fast,
    an_approval_dies_with_the_sign_in_that_gave_it,
    a_device_code_expires,
    device_sign_ins_started_per_network_are_limited,
);

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn start(app: &TestApp) -> Result<Value> {
    let r = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/device_authorization"))
            .header("user-agent", "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 Chrome/85.0 TV Safari/537.36")
            .form(&[("client_id", TV)]),
    )
    .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    ensure!(r.header("cache-control") == Some("no-store"), "{r:?}");
    r.json()
}

async fn poll(app: &TestApp, device_code: &str) -> Result<Reply> {
    token(
        app,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", TV),
        ],
        None,
    )
    .await
}

/// Opens the QR's page in a signed-in browser and answers it.
async fn answer(app: &TestApp, browser: &Browser, complete: &str, decision: &str) -> Result<Reply> {
    let page = browser.navigate(complete).await?.expect_status(200)?;
    ensure!(
        page.text.contains("Living-room TV"),
        "the app's name: {page}"
    );
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let code = field_value(&page.text, "user_code").context("user_code")?;
    submit(
        app,
        browser,
        "/device/decide",
        &[
            ("csrf", &csrf),
            ("user_code", &code),
            ("decision", decision),
        ],
    )
    .await
}

async fn a_tv_signs_in_with_a_code_allowed_on_a_phone(app: TestApp) -> Result<()> {
    let started = start(&app).await?;
    let user_code = started["user_code"].as_str().context("user_code")?;
    ensure!(
        user_code.len() == 9
            && user_code.as_bytes()[4] == b'-'
            && user_code
                .chars()
                .filter(|c| *c != '-')
                .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "a vowel-free XXXX-XXXX code: {started}"
    );
    ensure!(
        started["interval"] == 5 && started["expires_in"] == 600,
        "{started}"
    );
    let device_code = started["device_code"].as_str().context("device_code")?;
    let complete = started["verification_uri_complete"]
        .as_str()
        .context("complete")?;
    ensure!(
        started["verification_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/device"))
    );
    // The QR code the TV may show holds that URL.
    let qr = keycard_testkit::send(
        app.http()
            .get(started["qr_code_uri"].as_str().context("qr")?),
    )
    .await?;
    ensure!(
        qr.status.as_u16() == 200 && qr.header("content-type") == Some("image/svg+xml"),
        "{qr:?}"
    );
    ensure!(qr.text.contains("<svg"), "not an SVG");

    let first = poll(&app, device_code).await?;
    ensure!(oauth_error(&first)? == "authorization_pending", "{first}");

    let phone = app.browser()?;
    let email = signed_up(&app, &phone, "Ada Lovelace").await?;
    let done = answer(&app, &phone, complete, "allow").await?;
    ensure!(
        done.status.as_u16() == 200 && done.text.contains("id=\"device-done\""),
        "{done}"
    );

    tokio::time::sleep(Duration::from_millis(5200)).await;
    let tokens = poll(&app, device_code).await?;
    ensure!(tokens.status.as_u16() == 200, "{tokens}");
    let tokens = tokens.json()?;
    let (_, claims) = crate::decode_jwt(tokens["id_token"].as_str().context("id_token")?)?;
    ensure!(
        claims["aud"] == TV && claims["email"] == email.as_str(),
        "{claims}"
    );
    ensure!(claims["amr"] == serde_json::json!(["pwd"]), "{claims}");
    let access = tokens["access_token"].as_str().context("access_token")?;
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 200
    );
    ensure!(tokens["refresh_token"].is_string(), "{tokens}");

    // Used once.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let again = poll(&app, device_code).await?;
    ensure!(oauth_error(&again)? == "invalid_grant", "{again}");

    // The TV is in the person's session list, on its own device.
    let own = app.login(&email, PASSWORD).await?.access_token;
    let sessions = app.bearer_get("/v1/me/sessions", &own).await?.json()?;
    let grant = sessions["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["client_id"] == TV)
        .with_context(|| format!("the TV's grant is not listed: {sessions}"))?;
    ensure!(grant["app"] == "Living-room TV", "{grant}");
    // Signing out on the phone leaves the TV signed in; ending its line ends it.
    let id = grant["id"].as_str().context("id")?;
    app.bearer_delete(&format!("/v1/me/sessions/{id}"), &own)
        .await?
        .expect_status(204)?;
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 401
    );
    Ok(())
}

async fn polling_follows_the_rfc_and_a_denial_is_final(app: TestApp) -> Result<()> {
    let started = start(&app).await?;
    let device_code = started["device_code"].as_str().context("device_code")?;
    let complete = started["verification_uri_complete"]
        .as_str()
        .context("complete")?;
    let first = poll(&app, device_code).await?;
    ensure!(oauth_error(&first)? == "authorization_pending", "{first}");
    // Sooner than the interval: slow down (and the interval grows by 5 seconds).
    let hasty = poll(&app, device_code).await?;
    ensure!(oauth_error(&hasty)? == "slow_down", "{hasty}");
    // Another app cannot use this device code.
    let r = token(
        &app,
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
        Some((
            keycard_testkit::apps::DESK,
            keycard_testkit::apps::DESK_SECRET,
        )),
    )
    .await?;
    ensure!(
        oauth_error(&r)? == "unauthorized_client",
        "desk has no device grant: {r}"
    );
    let r = poll(&app, "kcdc_unknown").await?;
    ensure!(oauth_error(&r)? == "invalid_grant", "{r}");

    let phone = app.browser()?;
    signed_up(&app, &phone, "Ada").await?;
    let done = answer(&app, &phone, complete, "deny").await?;
    ensure!(done.status.as_u16() == 200, "{done}");
    tokio::time::sleep(Duration::from_millis(10_200)).await;
    let denied = poll(&app, device_code).await?;
    ensure!(oauth_error(&denied)? == "access_denied", "{denied}");
    // The code cannot be answered again.
    let page = phone.navigate(complete).await?;
    ensure!(page.status.as_u16() == 422, "{page}");
    Ok(())
}

async fn the_device_page_needs_a_sign_in_and_codes_cannot_be_guessed_fast(
    app: TestApp,
) -> Result<()> {
    let started = start(&app).await?;
    let complete = started["verification_uri_complete"]
        .as_str()
        .context("complete")?;
    let phone = app.browser()?;
    let to_login = location(&phone.navigate(complete).await?)?;
    ensure!(
        to_login.starts_with("/login?return_to=%2Fdevice%3Fuser_code%3D"),
        "{to_login}"
    );

    let Some(app) = app
        .reconfigure()
        .setting("device_code_ip_limit", "3/10m")
        .start()
        .await?
    else {
        return Ok(());
    };
    let phone = app.browser()?;
    signed_up(&app, &phone, "Ada").await?;
    let page = phone
        .navigate(&app.url("/device"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    for n in 1..=4 {
        let r = submit(
            &app,
            &phone,
            "/device",
            &[("csrf", &csrf), ("user_code", "BCDF-GHJK")],
        )
        .await?;
        let want = if n <= 3 { 422 } else { 429 };
        ensure!(r.status.as_u16() == want, "try {n}: {r}");
        if n == 4 {
            ensure!(r.header("retry-after").is_some(), "{r:?}");
        }
    }
    Ok(())
}

async fn an_approval_dies_with_the_sign_in_that_gave_it(app: TestApp) -> Result<()> {
    let started = start(&app).await?;
    let device_code = started["device_code"].as_str().context("device_code")?;
    let complete = started["verification_uri_complete"]
        .as_str()
        .context("complete")?;
    let phone = app.browser()?;
    let email = signed_up(&app, &phone, "Ada").await?;
    answer(&app, &phone, complete, "allow")
        .await?
        .expect_status(200)?;
    // The person signs out everywhere before the TV polls (a phone left open, say).
    let own = app.login(&email, PASSWORD).await?.access_token;
    let r = app
        .bearer_post("/v1/auth/logout-all", &own, &serde_json::json!({}))
        .await?;
    ensure!(r.status.is_success(), "{r}");
    let r = poll(&app, device_code).await?;
    ensure!(
        oauth_error(&r)? == "invalid_grant",
        "an approval outlived its sign-in: {r}"
    );
    Ok(())
}

async fn a_device_code_expires(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("device_code_ttl", "2s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let started = start(&app).await?;
    ensure!(started["expires_in"] == 2, "{started}");
    let device_code = started["device_code"].as_str().context("device_code")?;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let r = poll(&app, device_code).await?;
    ensure!(oauth_error(&r)? == "expired_token", "{r}");
    // And the person can no longer answer it.
    let phone = app.browser()?;
    signed_up(&app, &phone, "Ada").await?;
    let complete = started["verification_uri_complete"]
        .as_str()
        .context("complete")?;
    ensure!(phone.navigate(complete).await?.status.as_u16() == 422);
    Ok(())
}

/// Each device sign-in keeps a live user code; a network that starts too many is refused, so
/// live codes stay few and a guess stays unlikely to hit one.
async fn device_sign_ins_started_per_network_are_limited(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("device_start_ip_limit", "2/10m")
        .start()
        .await?
    else {
        return Ok(());
    };
    start(&app).await?;
    start(&app).await?;
    let r = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/device_authorization"))
            .form(&[("client_id", TV)]),
    )
    .await?;
    r.expect_problem(429, "rate_limited")?;
    ensure!(r.header("retry-after").is_some(), "{r:?}");
    Ok(())
}
