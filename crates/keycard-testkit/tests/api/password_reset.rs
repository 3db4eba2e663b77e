//! Getting back in without the password, through mail that really goes out. Asking for a link
//! answers alike for an address with an account and one without (and is limited alike); the
//! link sets a new password once, ends every session, proves the address, lets a locked-out
//! owner back in, and is followed by a notice; the hosted pages do the same; an operator can
//! force a reset; a password change is followed by the same notice.

use crate::mail::token_of;
use crate::{event_kinds, me_status};
use anyhow::{Context, Result, ensure};
use keycard_testkit::{MailCatcher, PASSWORD, TestApp, field_value, unique_email};
use serde_json::json;
use std::time::Duration;

mail_tests!(
    forgot_answers_alike_for_a_known_and_an_unknown_address,
    the_link_sets_a_new_password_once_and_ends_every_session,
    asking_is_limited_per_address_alike_with_or_without_an_account,
    a_locked_out_owner_gets_back_in_through_a_reset_link,
    the_pages_ask_for_a_link_and_set_the_password,
    an_operator_forces_a_reset,
    a_password_change_mails_a_notice,
    tokens_of_mailed_links_are_limited_per_network,
    a_disabled_account_gets_no_link_and_its_open_links_die,
    a_reset_keeps_the_second_factor,
    a_reset_that_proves_the_address_drops_the_factors_set_up_before,
);

const NEW_PASSWORD: &str = "a brand new passphrase 7";

async fn forgot(app: &TestApp, email: &str) -> Result<keycard_testkit::Reply> {
    app.post("/v1/auth/password/forgot", &json!({ "email": email }))
        .await
}

/// The reset link mailed to `email` (the `n`-th message to it), as its token.
async fn reset_token(mail: &MailCatcher, email: &str, n: usize) -> Result<String> {
    let got = mail.wait_for(email, n).await?;
    let m = got
        .iter()
        .rfind(|m| m.subject == "Reset your password")
        .with_context(|| format!("no reset mail among {got:?}"))?;
    token_of(&m.link("/password/reset").context("no reset link")?)
}

async fn forgot_answers_alike_for_a_known_and_an_unknown_address(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let known = unique_email();
    app.register(&known, PASSWORD).await?;
    mail.wait_for(&known, 1).await?; // the verification link
    let unknown = unique_email();
    let a = forgot(&app, &known.to_uppercase()).await?;
    let b = forgot(&app, &unknown).await?;
    ensure!(a.status.as_u16() == 202, "{a}");
    ensure!(
        a.status == b.status && a.text == b.text,
        "the answers differ: {a} / {b}"
    );
    ensure!(a.json()? == json!({ "accepted": true }), "{a}");

    let got = mail.wait_for(&known, 2).await?;
    let m = got
        .iter()
        .find(|m| m.subject == "Reset your password")
        .with_context(|| format!("{got:?}"))?;
    let link = m.link("/password/reset").context("no link")?;
    ensure!(
        link.starts_with(&format!("{}/password/reset?token=kcpr_", app.url(""))),
        "{link}"
    );
    ensure!(
        m.text.as_deref().is_some_and(|t| t.contains("30 minutes")),
        "{m:?}"
    );
    // Nothing goes to an address without an account.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(mail.messages_to(&unknown).await?.is_empty());

    // Not an address at all: a 422 that says nothing about accounts.
    forgot(&app, "not-an-address")
        .await?
        .expect_invalid("email", "invalid_email")?;
    Ok(())
}

async fn the_link_sets_a_new_password_once_and_ends_every_session(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let email = unique_email();
    let first = app.register(&email, PASSWORD).await?;
    let second = app.login(&email, PASSWORD).await?;
    forgot(&app, &email).await?.expect_status(202)?;
    let token = reset_token(&mail, &email, 2).await?;

    // A password the policy refuses leaves the link as it was.
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": "short" }),
    )
    .await?
    .expect_invalid("new_password", "password_too_short")?;
    ensure!(me_status(&app, &first.access_token).await? == 200);

    let r = app
        .post(
            "/v1/auth/password/reset",
            &json!({ "token": token, "new_password": NEW_PASSWORD }),
        )
        .await?
        .expect_status(200)?;
    ensure!(r.json()?["sessions_ended"] == 2, "{r}");

    // Every session is over, the old password is too, the new one works.
    for tokens in [&first, &second] {
        ensure!(me_status(&app, &tokens.access_token).await? == 401);
        let refresh = tokens.refresh_token.as_deref().context("refresh_token")?;
        ensure!(app.refresh_raw(refresh).await?.status.as_u16() == 401);
    }
    app.login_raw(&email, PASSWORD)
        .await?
        .expect_problem(401, "invalid_credentials")?;
    let now = app.login(&email, NEW_PASSWORD).await?;
    let me = app
        .bearer_get("/v1/me", &now.access_token)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        me["email_verified"] == true,
        "the link proved the address: {me}"
    );
    let kinds = event_kinds(&app, &now.access_token).await?;
    for kind in ["password_reset_requested", "password_reset"] {
        ensure!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }

    // The address hears of it, with the way back.
    let got = mail.wait_for(&email, 3).await?;
    let notice = got
        .iter()
        .find(|m| m.subject == "Your password was changed")
        .with_context(|| format!("no notice among {got:?}"))?;
    let way_back = app.url("/password/forgot");
    ensure!(
        notice
            .text
            .as_deref()
            .is_some_and(|t| t.contains(&way_back)),
        "the notice has no way back: {notice:?}"
    );

    // Once only; a made-up or malformed token gets the same answer.
    for bogus in [
        token.as_str(),
        "kcpr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not-a-token",
    ] {
        app.post(
            "/v1/auth/password/reset",
            &json!({ "token": bogus, "new_password": "yet another passphrase" }),
        )
        .await?
        .expect_problem(400, "invalid_reset_token")?;
    }
    app.login(&email, NEW_PASSWORD).await?;
    Ok(())
}

async fn asking_is_limited_per_address_alike_with_or_without_an_account(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let known = unique_email();
    app.register(&known, PASSWORD).await?;
    let unknown = unique_email();
    // Three an hour per address by default, counted the same whether it has an account.
    for email in [&known, &unknown] {
        for _ in 0..3 {
            forgot(&app, email).await?.expect_status(202)?;
        }
    }
    let a = forgot(&app, &known).await?;
    let b = forgot(&app, &unknown).await?;
    for r in [&a, &b] {
        r.expect_problem(429, "rate_limited")?;
        ensure!(r.header("retry-after").is_some(), "{r}");
    }
    ensure!(a.json()?["detail"] == b.json()?["detail"], "{a} / {b}");
    // The known address got its three links and no more (and its verification link).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = mail.wait_for(&known, 4).await?;
    ensure!(got.len() == 4, "{got:?}");
    Ok(())
}

async fn a_locked_out_owner_gets_back_in_through_a_reset_link(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let Some(app) = crate::with_mail(
        app,
        &mail,
        &[("login_free_failures", "2"), ("login_backoff", "10m")],
    )
    .await?
    else {
        return Ok(());
    };
    let email = unique_email();
    app.register(&email, PASSWORD).await?;
    for _ in 0..3 {
        app.login_raw(&email, "someone guessing wrong").await?;
    }
    // Locked: even the right password waits.
    app.login_raw(&email, PASSWORD)
        .await?
        .expect_problem(429, "account_locked")?;

    forgot(&app, &email).await?.expect_status(202)?;
    let token = reset_token(&mail, &email, 2).await?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    app.login(&email, NEW_PASSWORD).await?;
    Ok(())
}

async fn the_pages_ask_for_a_link_and_set_the_password(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let email = unique_email();
    app.register(&email, PASSWORD).await?;
    let browser = app.browser()?;
    let login = browser
        .navigate(&app.url("/login"))
        .await?
        .expect_status(200)?;
    ensure!(login.text.contains("href=\"/password/forgot\""), "{login}");
    let page = browser
        .navigate(&app.url("/password/forgot"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let sent = crate::pages::submit(
        &app,
        &browser,
        "/password/forgot",
        &[("csrf", &csrf), ("email", &email), ("lang", "en")],
    )
    .await?;
    ensure!(
        sent.status.as_u16() == 202 && sent.text.contains("Check your inbox"),
        "{sent}"
    );
    // A form without its token is refused.
    let forged = crate::pages::submit(
        &app,
        &browser,
        "/password/forgot",
        &[("csrf", "forged"), ("email", &email), ("lang", "en")],
    )
    .await?;
    ensure!(forged.status.as_u16() == 403, "{forged}");

    let link = mail
        .wait_for(&email, 2)
        .await?
        .iter()
        .find_map(|m| m.link("/password/reset"))
        .context("no reset link")?;
    // Opening the link (as a mail scanner would) spends nothing.
    for _ in 0..2 {
        let page = browser.navigate(&link).await?.expect_status(200)?;
        ensure!(page.text.contains("Choose a new password"), "{page}");
        ensure!(
            page.text.contains(&email),
            "the form names the account: {page}"
        );
    }
    let page = browser.navigate(&link).await?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let token = token_of(&link)?;
    let weak = crate::pages::submit(
        &app,
        &browser,
        "/password/reset",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("new_password", "short"),
            ("lang", "en"),
        ],
    )
    .await?;
    ensure!(
        weak.status.as_u16() == 422 && weak.text.contains("too short"),
        "{weak}"
    );
    let done = crate::pages::submit(
        &app,
        &browser,
        "/password/reset",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("new_password", NEW_PASSWORD),
            ("lang", "en"),
        ],
    )
    .await?;
    ensure!(
        done.status.as_u16() == 200 && done.text.contains("Your password is changed"),
        "{done}"
    );
    app.login(&email, NEW_PASSWORD).await?;
    // The spent link now opens a page that says so.
    let spent = browser.navigate(&link).await?;
    ensure!(
        spent.status.as_u16() == 400 && spent.text.contains("already used"),
        "{spent}"
    );
    Ok(())
}

async fn an_operator_forces_a_reset(app: TestApp, mail: MailCatcher) -> Result<()> {
    let admin = crate::oidc::admin_token(&app).await?;
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let found = crate::oidc::admin_find(&app, &admin, &email).await?;
    let id = found["id"].as_str().context("id")?;
    let path = format!("/admin/v1/users/{id}/password-reset");

    // Not for anyone but an operator.
    let r = app
        .bearer_post(&path, &tokens.access_token, &json!({}))
        .await?;
    ensure!(matches!(r.status.as_u16(), 401 | 403), "{r}");
    let r = app
        .bearer_post(&path, &admin, &json!({}))
        .await?
        .expect_status(202)?;
    ensure!(r.json()?["sessions_ended"] == 1, "{r}");
    ensure!(me_status(&app, &tokens.access_token).await? == 401);
    app.login_raw(&email, PASSWORD)
        .await?
        .expect_problem(401, "invalid_credentials")?;
    let after = crate::oidc::admin_find(&app, &admin, &email).await?;
    ensure!(after["has_password"] == false, "{after}");

    let token = reset_token(&mail, &email, 2).await?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    let back = app.login(&email, NEW_PASSWORD).await?;
    let kinds = event_kinds(&app, &back.access_token).await?;
    ensure!(
        kinds.iter().any(|k| k == "password_revoked"),
        "no password_revoked in {kinds:?}"
    );

    let unknown = format!("/admin/v1/users/{}/password-reset", uuid::Uuid::new_v4());
    app.bearer_post(&unknown, &admin, &json!({}))
        .await?
        .expect_problem(404, "not_found")?;
    Ok(())
}

async fn a_password_change_mails_a_notice(app: TestApp, mail: MailCatcher) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    app.bearer_post(
        "/v1/me/password",
        &tokens.access_token,
        &json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    let got = mail.wait_for(&email, 2).await?;
    let notice = got
        .iter()
        .find(|m| m.subject == "Your password was changed")
        .with_context(|| format!("no notice among {got:?}"))?;
    ensure!(
        notice
            .text
            .as_deref()
            .is_some_and(|t| t.contains("just changed") && t.contains("/password/forgot")),
        "{notice:?}"
    );
    Ok(())
}

async fn tokens_of_mailed_links_are_limited_per_network(
    app: TestApp,
    _mail: MailCatcher,
) -> Result<()> {
    let backend = app.backend();
    drop(app);
    let Some(app) = TestApp::builder(backend)
        .setting("link_token_ip_limit", "3/10m")
        .start()
        .await?
    else {
        return Ok(());
    };
    let bogus = "kcpr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for _ in 0..3 {
        app.post(
            "/v1/auth/password/reset",
            &json!({ "token": bogus, "new_password": NEW_PASSWORD }),
        )
        .await?
        .expect_problem(400, "invalid_reset_token")?;
    }
    // Reset and verification links share the allowance.
    let r = app
        .post(
            "/v1/auth/verify-email",
            &json!({ "token": "kcev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }),
        )
        .await?;
    r.expect_problem(429, "rate_limited")?;
    ensure!(r.header("retry-after").is_some(), "{r}");
    let page = app
        .browser()?
        .navigate(&app.url(&format!("/password/reset?token={bogus}")))
        .await?;
    ensure!(page.status.as_u16() == 429, "{page}");
    Ok(())
}

/// An operator's disabling stands: no link is mailed around it, and one mailed before it no
/// longer works, not even once the account is enabled again.
async fn a_disabled_account_gets_no_link_and_its_open_links_die(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let admin = crate::oidc::admin_token(&app).await?;
    let email = unique_email();
    app.register(&email, PASSWORD).await?;
    forgot(&app, &email).await?.expect_status(202)?;
    let token = reset_token(&mail, &email, 2).await?;
    let found = crate::oidc::admin_find(&app, &admin, &email).await?;
    let id = found["id"].as_str().context("id")?;
    crate::oidc::admin_set_enabled(&app, &admin, id, false, None).await?;

    let reset = json!({ "token": token, "new_password": NEW_PASSWORD });
    app.post("/v1/auth/password/reset", &reset)
        .await?
        .expect_problem(400, "invalid_reset_token")?;
    forgot(&app, &email).await?.expect_status(202)?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(
        mail.messages_to(&email).await?.len() == 2,
        "a link went out"
    );

    crate::oidc::admin_set_enabled(&app, &admin, id, true, None).await?;
    app.post("/v1/auth/password/reset", &reset)
        .await?
        .expect_problem(400, "invalid_reset_token")?;
    app.login(&email, PASSWORD).await?;
    Ok(())
}

/// ASVS 6.4.3: a reset proves the inbox, not the second factor; the next sign-in still asks.
async fn a_reset_keeps_the_second_factor(app: TestApp, mail: MailCatcher) -> Result<()> {
    // Set up once the address is proved (before, a reset would drop it: the next test).
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let got = mail.wait_for(&email, 1).await?;
    let link = got[0]
        .link("/verify-email")
        .context("no verification link")?;
    app.post(
        "/v1/auth/verify-email",
        &json!({ "token": token_of(&link)? }),
    )
    .await?
    .expect_status(200)?;
    let e = crate::mfa::enroll(&app, email, tokens).await?;
    // Turning it on was mailed (after the verification link).
    let got = mail.wait_for(&e.email, 2).await?;
    let notice = got
        .iter()
        .find(|m| m.subject == "How you sign in to your account changed")
        .with_context(|| format!("no notice among {got:?}"))?;
    ensure!(
        notice
            .text
            .as_deref()
            .is_some_and(|t| t.contains("was turned on")),
        "{notice:?}"
    );
    // A challenge opened with the old password (by whoever held it) dies with it.
    let before = app
        .login_raw(&e.email, PASSWORD)
        .await?
        .expect_status(200)?
        .json()?;
    forgot(&app, &e.email).await?.expect_status(202)?;
    let token = reset_token(&mail, &e.email, 3).await?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    app.post(
        "/v1/auth/mfa",
        &json!({ "challenge_id": before["challenge_id"], "code": e.recovery_codes[1] }),
    )
    .await?
    .expect_problem(401, "invalid_mfa_challenge")?;
    let r = app
        .login_raw(&e.email, NEW_PASSWORD)
        .await?
        .expect_status(200)?;
    let body = r.json()?;
    ensure!(
        body["mfa_required"] == true && body.get("access_token").is_none(),
        "{r}"
    );
    app.post(
        "/v1/auth/mfa",
        &json!({ "challenge_id": body["challenge_id"], "code": e.recovery_codes[0] }),
    )
    .await?
    .expect_status(200)?;
    Ok(())
}

/// Factors set up while the address was not proved may be a stranger's (someone who signed up
/// with the address first): the reset that proves it removes them, passkeys included.
async fn a_reset_that_proves_the_address_drops_the_factors_set_up_before(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let e = crate::mfa::enrolled(&app).await?;
    let challenge = crate::mfa::challenged(&app, &e.email).await?;
    let full = app
        .post(
            "/v1/auth/mfa",
            &json!({ "challenge_id": challenge, "code": e.recovery_codes[0] }),
        )
        .await?
        .expect_status(200)?
        .json()?;
    let full = full["access_token"].as_str().context("token")?;
    let mut key = keycard_testkit::SoftPasskey::new()?;
    crate::passkeys::add_passkey(&app, full, &mut key, "Stranger's phone").await?;
    // The verification link, then the notices of the app, the recovery code and the passkey.
    mail.wait_for(&e.email, 4).await?;
    forgot(&app, &e.email).await?.expect_status(202)?;
    let token = reset_token(&mail, &e.email, 5).await?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    // The password alone signs in now, and the passkey no longer does.
    let t = app.login(&e.email, NEW_PASSWORD).await?;
    let me = app
        .bearer_get("/v1/me", &t.access_token)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(me["mfa"]["enabled"] == false, "{me}");
    let begun = app
        .post("/v1/auth/passkey/begin", &json!({}))
        .await?
        .expect_status(200)?
        .json()?;
    let answer = key.get(&begun["options"], keycard_testkit::PASSKEY_ORIGIN)?;
    app.post(
        "/v1/auth/passkey/finish",
        &json!({ "ceremony_id": begun["ceremony_id"], "credential": answer }),
    )
    .await?
    .expect_problem(401, "invalid_passkey")?;
    Ok(())
}
