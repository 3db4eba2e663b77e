//! Second factors: an authenticator app set up from the API, the second step of a password
//! sign-in (a code from the app, or a recovery code, each once), the limits on wrong codes,
//! and the same step on the hosted sign-in page.

use crate::{decode_jwt, pages::submit};
use anyhow::{Context, Result, ensure};
use keycard_testkit::{
    PASSWORD, TestApp, TokenResponse, field_value, location, totp_code, unique_email,
};
use serde_json::{Value, json};

backend_tests!(
    an_app_is_set_up_and_asked_for_after_the_password,
    each_code_works_once_and_only_near_its_time,
    recovery_codes_work_once_and_can_be_replaced,
    a_challenge_is_single_use_and_dies_after_five_wrong_codes,
    wrong_codes_lock_the_second_step_across_challenges,
    removing_the_app_signs_in_with_the_password_alone,
    setting_up_checks_who_asks,
    the_sign_in_page_asks_for_the_code,
    the_account_page_sets_up_the_app_and_shows_the_codes_once,
    what_the_profile_shows_follows_each_change_at_once,
    guessing_the_current_password_is_limited_as_sign_ins_are,
);

/// An account with an authenticator app set up: its address, its secret, its recovery codes,
/// and the step of the code that confirmed it (the next code to use is one step later).
pub(crate) struct Enrolled {
    pub email: String,
    pub secret: String,
    pub recovery_codes: Vec<String>,
    pub tokens: TokenResponse,
}

pub(crate) async fn enrolled(app: &TestApp) -> Result<Enrolled> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    enroll(app, email, tokens).await
}

/// Sets up an authenticator app on the account of `email`, signed in as `tokens`.
pub(crate) async fn enroll(
    app: &TestApp,
    email: String,
    tokens: TokenResponse,
) -> Result<Enrolled> {
    let (secret, recovery_codes) = app.set_up_totp(&tokens.access_token).await?;
    Ok(Enrolled {
        email,
        secret,
        recovery_codes,
        tokens,
    })
}

/// A password sign-in that must stop at the second step: its challenge id.
pub(crate) async fn challenged(app: &TestApp, email: &str) -> Result<String> {
    let r = app.login_raw(email, PASSWORD).await?.expect_status(200)?;
    let body = r.json()?;
    ensure!(body["mfa_required"] == true, "no challenge: {r}");
    ensure!(
        body.get("access_token").is_none(),
        "tokens before the second step: {r}"
    );
    Ok(body["challenge_id"]
        .as_str()
        .context("challenge_id")?
        .to_owned())
}

async fn second_step(app: &TestApp, challenge: &str, code: &str) -> Result<keycard_testkit::Reply> {
    app.post(
        "/v1/auth/mfa",
        &json!({ "challenge_id": challenge, "code": code }),
    )
    .await
}

async fn me(app: &TestApp, token: &str) -> Result<Value> {
    app.bearer_get("/v1/me", token)
        .await?
        .expect_status(200)?
        .json()
}

async fn an_app_is_set_up_and_asked_for_after_the_password(app: TestApp) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let before = me(&app, &tokens.access_token).await?;
    ensure!(before["mfa"]["enabled"] == false, "{before}");
    let started = app
        .bearer_post("/v1/me/mfa/totp", &tokens.access_token, &json!({}))
        .await?
        .expect_status(201)?
        .json()?;
    let secret = started["secret"].as_str().context("secret")?;
    let uri = started["otpauth_uri"].as_str().context("uri")?;
    ensure!(
        uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")),
        "{started}"
    );
    ensure!(
        started["qr_svg"]
            .as_str()
            .is_some_and(|s| s.contains("<svg")),
        "{started}"
    );
    // Not on yet: the password alone still signs in.
    app.login(&email, PASSWORD).await?;
    let confirm = |code: String| {
        let (app, token) = (&app, tokens.access_token.clone());
        async move {
            app.bearer_post("/v1/me/mfa/totp/confirm", &token, &json!({ "code": code }))
                .await
        }
    };
    confirm(totp_code(secret, -120)?)
        .await?
        .expect_invalid("code", "invalid_mfa_code")?;
    let codes = confirm(totp_code(secret, 0)?)
        .await?
        .expect_status(200)?
        .json()?;
    let codes = codes["recovery_codes"].as_array().context("codes")?;
    ensure!(codes.len() == 10, "{codes:?}");
    confirm(totp_code(secret, 30)?)
        .await?
        .expect_problem(409, "mfa_already_enabled")?;
    let after = me(&app, &tokens.access_token).await?;
    ensure!(
        after["mfa"]["enabled"] == true
            && after["mfa"]["recovery_codes_left"] == 10
            && after["mfa"]["totp"]["enabled_at"].is_string(),
        "{after}"
    );

    let r = app.login_raw(&email, PASSWORD).await?.expect_status(200)?;
    let body = r.json()?;
    ensure!(
        body["mfa_required"] == true
            && body["methods"] == json!(["totp", "recovery_code"])
            && body["expires_in"] == 300
            && body["challenge_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("kcmf_")),
        "{r}"
    );
    // The step that confirmed the app is spent: the next one signs in.
    let challenge = body["challenge_id"].as_str().context("challenge")?;
    let done = second_step(&app, challenge, &totp_code(secret, 30)?)
        .await?
        .expect_status(200)?;
    let signed_in: TokenResponse = serde_json::from_str(&done.text)?;
    let (_, claims) = decode_jwt(&signed_in.access_token)?;
    ensure!(claims["amr"] == json!(["pwd", "otp", "mfa"]), "{claims}");
    ensure!(claims["auth_time"].is_i64(), "{claims}");
    ensure!(
        signed_in
            .user
            .as_ref()
            .is_some_and(|u| u["email"] == email.as_str()),
        "{done}"
    );
    // A refreshed token says the same.
    let refreshed = app.refresh(signed_in.refresh()?).await?;
    let (_, claims) = decode_jwt(&refreshed.access_token)?;
    ensure!(claims["amr"] == json!(["pwd", "otp", "mfa"]), "{claims}");
    let events = app
        .bearer_get("/v1/me/events", &refreshed.access_token)
        .await?
        .expect_status(200)?
        .json()?;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in ["mfa_enabled", "mfa_challenged", "login_succeeded"] {
        ensure!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    Ok(())
}

async fn each_code_works_once_and_only_near_its_time(app: TestApp) -> Result<()> {
    let e = enrolled(&app).await?;
    for stale in [-90, 90] {
        let challenge = challenged(&app, &e.email).await?;
        second_step(&app, &challenge, &totp_code(&e.secret, stale)?)
            .await?
            .expect_problem(401, "invalid_mfa_code")?;
    }
    let challenge = challenged(&app, &e.email).await?;
    let code = totp_code(&e.secret, 30)?;
    second_step(&app, &challenge, &format!("{} {}", &code[..3], &code[3..]))
        .await?
        .expect_status(200)?;
    // Seen once, worthless: the same code, and older ones, on a new sign-in.
    let challenge = challenged(&app, &e.email).await?;
    second_step(&app, &challenge, &code)
        .await?
        .expect_problem(401, "invalid_mfa_code")?;
    second_step(&app, &challenge, &totp_code(&e.secret, 0)?)
        .await?
        .expect_problem(401, "invalid_mfa_code")?;
    second_step(&app, &challenge, "not a code")
        .await?
        .expect_problem(401, "invalid_mfa_code")?;
    Ok(())
}

async fn recovery_codes_work_once_and_can_be_replaced(app: TestApp) -> Result<()> {
    let e = enrolled(&app).await?;
    ensure!(e.recovery_codes.len() == 10);
    let first = &e.recovery_codes[0];
    ensure!(first.len() == 11 && first.as_bytes()[5] == b'-', "{first}");
    // Typed in capitals, without the dash: the same code.
    let challenge = challenged(&app, &e.email).await?;
    let done = second_step(&app, &challenge, &first.replace('-', "").to_uppercase())
        .await?
        .expect_status(200)?;
    let t: TokenResponse = serde_json::from_str(&done.text)?;
    let (_, claims) = decode_jwt(&t.access_token)?;
    ensure!(claims["amr"] == json!(["pwd", "mfa"]), "{claims}");
    let now = me(&app, &t.access_token).await?;
    ensure!(now["mfa"]["recovery_codes_left"] == 9, "{now}");
    let challenge = challenged(&app, &e.email).await?;
    second_step(&app, &challenge, first)
        .await?
        .expect_problem(401, "invalid_mfa_code")?;

    let fresh = app
        .bearer_post("/v1/me/mfa/recovery-codes", &t.access_token, &json!({}))
        .await?
        .expect_status(200)?
        .json()?;
    let fresh: Vec<String> = fresh["recovery_codes"]
        .as_array()
        .context("codes")?
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    ensure!(fresh.len() == 10 && !fresh.contains(&e.recovery_codes[1]));
    second_step(&app, &challenge, &e.recovery_codes[1])
        .await?
        .expect_problem(401, "invalid_mfa_code")?;
    second_step(&app, &challenge, &fresh[3])
        .await?
        .expect_status(200)?;
    Ok(())
}

async fn a_challenge_is_single_use_and_dies_after_five_wrong_codes(app: TestApp) -> Result<()> {
    let e = enrolled(&app).await?;
    let challenge = challenged(&app, &e.email).await?;
    // Two completions at once with one good code: one session, and no second.
    let code = totp_code(&e.secret, 30)?;
    let (a, b) = tokio::join!(
        second_step(&app, &challenge, &code),
        second_step(&app, &challenge, &code)
    );
    let mut statuses = [a?.status.as_u16(), b?.status.as_u16()];
    statuses.sort_unstable();
    ensure!(statuses == [200, 401], "{statuses:?}");
    second_step(&app, &challenge, &e.recovery_codes[0])
        .await?
        .expect_problem(401, "invalid_mfa_challenge")?;
    second_step(&app, "kcmf_made-up", "123456")
        .await?
        .expect_problem(401, "invalid_mfa_challenge")?;

    let challenge = challenged(&app, &e.email).await?;
    for _ in 0..5 {
        second_step(&app, &challenge, "000000")
            .await?
            .expect_problem(401, "invalid_mfa_code")?;
    }
    second_step(&app, &challenge, &e.recovery_codes[0])
        .await?
        .expect_problem(401, "invalid_mfa_challenge")?;
    Ok(())
}

async fn wrong_codes_lock_the_second_step_across_challenges(app: TestApp) -> Result<()> {
    let e = enrolled(&app).await?;
    let mut locked = None;
    'outer: for _ in 0..4 {
        let challenge = challenged(&app, &e.email).await?;
        for _ in 0..5 {
            let r = second_step(&app, &challenge, "000000").await?;
            if r.status.as_u16() == 429 {
                locked = Some(r);
                break 'outer;
            }
            r.expect_problem(401, "invalid_mfa_code")?;
        }
    }
    let r = locked.context("wrong codes were never slowed down")?;
    r.expect_problem(429, "account_locked")?;
    ensure!(r.header("retry-after").is_some(), "{r}");
    // While it waits, even the right code is held back (a guess cannot be told from it).
    let challenge = challenged(&app, &e.email).await?;
    second_step(&app, &challenge, &totp_code(&e.secret, 30)?)
        .await?
        .expect_problem(429, "account_locked")?;
    Ok(())
}

async fn removing_the_app_signs_in_with_the_password_alone(app: TestApp) -> Result<()> {
    let e = enrolled(&app).await?;
    // The session that set it up signed in with the password alone: not enough to remove it.
    app.bearer_delete("/v1/me/mfa/totp", &e.tokens.access_token)
        .await?
        .expect_problem(403, "reauthentication_required")?;
    let challenge = challenged(&app, &e.email).await?;
    let done = second_step(&app, &challenge, &e.recovery_codes[0])
        .await?
        .expect_status(200)?;
    let full: TokenResponse = serde_json::from_str(&done.text)?;
    app.bearer_delete("/v1/me/mfa/totp", &full.access_token)
        .await?
        .expect_status(204)?;
    app.bearer_delete("/v1/me/mfa/totp", &full.access_token)
        .await?
        .expect_problem(409, "mfa_not_enabled")?;
    let t = app.login(&e.email, PASSWORD).await?;
    let now = me(&app, &t.access_token).await?;
    ensure!(
        now["mfa"]["enabled"] == false && now["mfa"]["recovery_codes_left"] == 0,
        "{now}"
    );
    app.bearer_post("/v1/me/mfa/recovery-codes", &t.access_token, &json!({}))
        .await?
        .expect_problem(409, "mfa_not_enabled")?;
    Ok(())
}

async fn setting_up_checks_who_asks(app: TestApp) -> Result<()> {
    let Some((app, email, tokens)) = past_recent_sign_in(app).await? else {
        return Ok(());
    };
    let start = |body: Value| {
        let (app, token) = (&app, tokens.access_token.clone());
        async move { app.bearer_post("/v1/me/mfa/totp", &token, &body).await }
    };
    start(json!({}))
        .await?
        .expect_problem(403, "reauthentication_required")?;
    start(json!({ "current_password": "not the password" }))
        .await?
        .expect_invalid("current_password", "invalid_current_password")?;
    let started = start(json!({ "current_password": PASSWORD }))
        .await?
        .expect_status(201)?
        .json()?;
    let secret = started["secret"].as_str().context("secret")?;
    app.bearer_post(
        "/v1/me/mfa/totp/confirm",
        &tokens.access_token,
        &json!({ "code": totp_code(secret, 0)? }),
    )
    .await?
    .expect_status(200)?;
    // With the app on, the password alone is no longer a full sign-in: removing it, new codes
    // and a new address need a sign-in within the window.
    app.bearer_delete("/v1/me/mfa/totp", &tokens.access_token)
        .await?
        .expect_problem(403, "reauthentication_required")?;
    app.bearer_post(
        "/v1/me/mfa/recovery-codes",
        &tokens.access_token,
        &json!({}),
    )
    .await?
    .expect_problem(403, "reauthentication_required")?;
    app.bearer_post(
        "/v1/me/email",
        &tokens.access_token,
        &json!({ "new_email": unique_email(), "current_password": PASSWORD }),
    )
    .await?
    .expect_problem(403, "reauthentication_required")?;
    app.bearer_post(
        "/v1/me/password",
        &tokens.access_token,
        &json!({ "current_password": PASSWORD, "new_password": "another passphrase 77" }),
    )
    .await?
    .expect_problem(403, "reauthentication_required")?;
    // A fresh sign-in through both steps may.
    let challenge = challenged(&app, &email).await?;
    let done = second_step(&app, &challenge, &totp_code(secret, 30)?)
        .await?
        .expect_status(200)?;
    let fresh: TokenResponse = serde_json::from_str(&done.text)?;
    app.bearer_delete("/v1/me/mfa/totp", &fresh.access_token)
        .await?
        .expect_status(204)?;
    Ok(())
}

async fn the_sign_in_page_asks_for_the_code(app: TestApp) -> Result<()> {
    let e = enrolled(&app).await?;
    let browser = app.browser()?;
    // A challenge of the API does not open a browser session.
    let api_challenge = challenged(&app, &e.email).await?;
    browser.set_cookie("__Host-keycard_mfa", &api_challenge);
    let step = browser
        .navigate(&app.url("/login/second-step?return_to=/account"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&step.text, "csrf").context("csrf")?;
    let refused = submit(
        &app,
        &browser,
        "/login/second-step",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("code", &e.recovery_codes[0]),
        ],
    )
    .await?;
    ensure!(
        refused.status.as_u16() == 401 && refused.text.contains("That sign-in expired"),
        "{refused}"
    );
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    let page = browser
        .navigate(&app.url("/login?return_to=/account"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let r = submit(
        &app,
        &browser,
        "/login",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("email", &e.email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    ensure!(r.status.as_u16() == 303, "{r}");
    let next = location(&r)?;
    ensure!(next.starts_with("/login/second-step?"), "{next}");
    ensure!(
        browser.cookie("__Host-keycard_session").is_none(),
        "signed in before the second step"
    );
    ensure!(
        browser.cookie("__Host-keycard_mfa").is_some(),
        "no challenge cookie: {r:?}"
    );
    let step = browser.navigate(&app.url(&next)).await?;
    ensure!(step.status.as_u16() == 200, "{step:?}");
    ensure!(
        step.text.contains("autocomplete=\"one-time-code\""),
        "{step}"
    );
    ensure!(!step.text.contains("kcmf_"), "the challenge is in the page");
    let csrf = field_value(&step.text, "csrf").context("csrf")?;
    let wrong = submit(
        &app,
        &browser,
        "/login/second-step",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("code", "000000"),
        ],
    )
    .await?;
    ensure!(
        wrong.status.as_u16() == 401 && wrong.text.contains("id=\"form-error\""),
        "{wrong}"
    );
    let csrf = field_value(&wrong.text, "csrf").context("csrf")?;
    let done = submit(
        &app,
        &browser,
        "/login/second-step",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("code", &totp_code(&e.secret, 30)?),
        ],
    )
    .await?;
    ensure!(
        done.status.as_u16() == 303 && location(&done)?.ends_with("/account"),
        "{done:?}"
    );
    ensure!(
        browser.cookie("__Host-keycard_session").is_some(),
        "no session"
    );
    let account = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(account.text.contains(&e.email), "{account}");
    // The challenge went with the sign-in: the step page sends back to the password.
    let again = browser.navigate(&app.url("/login/second-step")).await?;
    ensure!(
        again.status.as_u16() == 303 && location(&again)?.starts_with("/login?"),
        "{again:?}"
    );
    Ok(())
}

/// The text of the element with `id` (its first text run).
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].trim().to_owned())
}

async fn the_account_page_sets_up_the_app_and_shows_the_codes_once(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let email = crate::oidc::signed_up(&app, &browser, "Ada").await?;
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(page.text.contains("id=\"two-step-setup\""), "{page}");
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let setup = submit(
        &app,
        &browser,
        "/account/two-step/setup",
        &[("csrf", &csrf), ("lang", "en")],
    )
    .await?;
    ensure!(setup.status.as_u16() == 200, "{setup}");
    ensure!(
        setup.text.contains("<svg") && !setup.text.contains("<?xml"),
        "no inline QR code: {setup}"
    );
    let secret = text_of(&setup.text, "totp-secret")
        .context("secret")?
        .replace(' ', "");
    let wrong = submit(
        &app,
        &browser,
        "/account/two-step/confirm",
        &[
            ("csrf", &csrf),
            ("lang", "en"),
            ("code", &totp_code(&secret, -120)?),
        ],
    )
    .await?;
    ensure!(wrong.status.as_u16() == 422, "{wrong}");
    // A wrong first code leaves the secret waiting: the right one still turns it on.
    let codes = submit(
        &app,
        &browser,
        "/account/two-step/confirm",
        &[
            ("csrf", &csrf),
            ("lang", "en"),
            ("code", &totp_code(&secret, 0)?),
        ],
    )
    .await?;
    ensure!(codes.status.as_u16() == 200, "{codes}");
    let shown = codes.text.matches("<li><code>").count();
    ensure!(shown == 10, "{shown} codes shown: {codes}");
    ensure!(
        codes
            .header("cache-control")
            .is_some_and(|c| c.contains("no-store")),
        "{codes:?}"
    );
    let account = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    let status = text_of(&account.text, "two-step-status").context("status")?;
    ensure!(status.starts_with("On"), "{status}");
    ensure!(
        !account.text.contains("<li><code>"),
        "codes shown again: {account}"
    );
    // The next sign-in asks for the code.
    let challenge = challenged(&app, &email).await?;
    second_step(&app, &challenge, &totp_code(&secret, 30)?)
        .await?
        .expect_status(200)?;
    // This browser signed in before the app was set up: turning it off needs a sign-in
    // through it first.
    let csrf = field_value(&account.text, "csrf").context("csrf")?;
    let off = |csrf: String| {
        let (app, browser) = (&app, &browser);
        async move {
            submit(
                app,
                browser,
                "/account/two-step/remove",
                &[("csrf", &csrf), ("lang", "en")],
            )
            .await
        }
    };
    let refused = off(csrf).await?;
    ensure!(
        refused.status.as_u16() == 403 && refused.text.contains("prompt=login"),
        "{refused}"
    );
    let login = browser
        .navigate(&app.url("/login?return_to=%2Faccount&prompt=login"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&login.text, "csrf").context("csrf")?;
    let r = submit(
        &app,
        &browser,
        "/login",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("email", &email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    let step = browser.navigate(&app.url(&location(&r)?)).await?;
    let csrf = field_value(&step.text, "csrf").context("csrf")?;
    let recovery = codes
        .text
        .split("<li><code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .context("a recovery code")?
        .to_owned();
    let done = submit(
        &app,
        &browser,
        "/login/second-step",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("code", &recovery),
        ],
    )
    .await?;
    ensure!(done.status.as_u16() == 303, "{done}");
    let account = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&account.text, "csrf").context("csrf")?;
    let gone = off(csrf).await?;
    ensure!(gone.status.as_u16() == 303, "{gone}");
    // Off: the password alone signs in again.
    app.login(&email, PASSWORD).await?;
    Ok(())
}

/// `GET /v1/me` answers from the session cache when it can; each change to the second factors,
/// made by this session or another, must show in the very next answer.
async fn what_the_profile_shows_follows_each_change_at_once(app: TestApp) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let watcher = app.login(&email, PASSWORD).await?.access_token;
    // Twice: the second answer comes from memory where the cache is on.
    for _ in 0..2 {
        let now = me(&app, &watcher).await?;
        ensure!(now["mfa"]["enabled"] == false, "{now}");
    }
    let e = enroll(&app, email, tokens).await?;
    let now = me(&app, &watcher).await?;
    ensure!(
        now["mfa"]["enabled"] == true && now["mfa"]["recovery_codes_left"] == 10,
        "set up elsewhere, yet: {now}"
    );
    me(&app, &watcher).await?;
    let challenge = challenged(&app, &e.email).await?;
    let done = second_step(&app, &challenge, &e.recovery_codes[0])
        .await?
        .expect_status(200)?;
    let full: TokenResponse = serde_json::from_str(&done.text)?;
    let now = me(&app, &watcher).await?;
    ensure!(
        now["mfa"]["recovery_codes_left"] == 9,
        "a code spent, yet: {now}"
    );
    app.bearer_post("/v1/me/mfa/recovery-codes", &full.access_token, &json!({}))
        .await?
        .expect_status(200)?;
    let now = me(&app, &watcher).await?;
    ensure!(
        now["mfa"]["recovery_codes_left"] == 10,
        "new codes, yet: {now}"
    );
    app.bearer_delete("/v1/me/mfa/totp", &full.access_token)
        .await?
        .expect_status(204)?;
    let now = me(&app, &watcher).await?;
    ensure!(
        now["mfa"]["enabled"] == false && now["mfa"]["recovery_codes_left"] == 0,
        "turned off, yet: {now}"
    );
    Ok(())
}

/// A session past the recent sign-in window may prove the person with the current password;
/// wrong ones count against the account as wrong sign-in passwords do, so an open session is no
/// way to guess the password at hashing speed.
async fn guessing_the_current_password_is_limited_as_sign_ins_are(app: TestApp) -> Result<()> {
    let Some((app, email, tokens)) = past_recent_sign_in(app).await? else {
        return Ok(());
    };
    let start = |password: &'static str| {
        let (app, token) = (&app, tokens.access_token.clone());
        async move {
            app.bearer_post(
                "/v1/me/mfa/totp",
                &token,
                &json!({ "current_password": password }),
            )
            .await
        }
    };
    let mut wrong = 0;
    let locked = loop {
        let r = start("not the password").await?;
        if r.status == 429 {
            break r;
        }
        r.expect_invalid("current_password", "invalid_current_password")?;
        wrong += 1;
        ensure!(wrong <= 10, "ten wrong current passwords and no limit");
    };
    locked.expect_problem(429, "account_locked")?;
    ensure!(wrong >= 3, "locked after {wrong} wrong passwords only");
    // The same lock as the sign-in's: the right password is refused there too, for now.
    app.login_raw(&email, PASSWORD)
        .await?
        .expect_problem(429, "account_locked")?;
    start(PASSWORD)
        .await?
        .expect_problem(429, "account_locked")?;
    let wait = crate::throttle::retry_after(&locked)?;
    tokio::time::sleep(std::time::Duration::from_secs(wait + 1)).await;
    start(PASSWORD).await?.expect_status(201)?;
    Ok(())
}

/// `app` again with a one-second recent sign-in window, and an account whose session is past
/// it; `None` where the suite cannot reconfigure Keycard.
async fn past_recent_sign_in(app: TestApp) -> Result<Option<(TestApp, String, TokenResponse)>> {
    let Some(app) = app
        .reconfigure()
        .setting("recent_sign_in", "1s")
        .start()
        .await?
    else {
        return Ok(None);
    };
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    Ok(Some((app, email, tokens)))
}
