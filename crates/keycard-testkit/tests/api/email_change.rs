//! Changing the account's address through mail that really goes out: the new address confirms
//! before it is the account's, the old one is told and can undo it (ending every session), and
//! asking needs a recent sign-in or the current password.

use crate::mail::token_of;
use crate::me_status;
use anyhow::{Context, Result, ensure};
use keycard_testkit::{MailCatcher, PASSWORD, TestApp, field_value, unique_email};
use serde_json::{Value, json};

mail_tests!(
    the_new_address_confirms_and_the_old_one_can_undo,
    asking_needs_a_recent_sign_in_or_the_password,
    the_pages_change_and_undo_the_address,
    the_undo_holds_after_further_changes,
);

/// The token of the link to `path` in the newest mail to `email` with `subject`.
async fn link_token(
    mail: &MailCatcher,
    email: &str,
    n: usize,
    subject: &str,
    path: &str,
) -> Result<String> {
    let got = mail.wait_for(email, n).await?;
    let m = got
        .iter()
        .rfind(|m| m.subject == subject)
        .with_context(|| format!("no {subject:?} among {got:?}"))?;
    token_of(
        &m.link(path)
            .with_context(|| format!("no {path} link in {m:?}"))?,
    )
}

async fn me(app: &TestApp, token: &str) -> Result<Value> {
    app.bearer_get("/v1/me", token)
        .await?
        .expect_status(200)?
        .json()
}

async fn the_new_address_confirms_and_the_old_one_can_undo(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let old = unique_email();
    let tokens = app.register(&old, PASSWORD).await?;
    let new = unique_email();
    // Just signed up: a recent sign-in, no password needed.
    app.bearer_post(
        "/v1/me/email",
        &tokens.access_token,
        &json!({ "new_email": new }),
    )
    .await?
    .expect_status(202)?;
    let confirm = link_token(
        &mail,
        &new,
        1,
        "Confirm your new email address",
        "/verify-email",
    )
    .await?;
    ensure!(me(&app, &tokens.access_token).await?["email"] == old.as_str());

    let r = app
        .post(
            "/v1/auth/email-change/confirm",
            &json!({ "token": confirm }),
        )
        .await?
        .expect_status(200)?;
    ensure!(r.json()? == json!({ "email": new }), "{r}");
    let now = me(&app, &tokens.access_token).await?;
    ensure!(
        now["email"] == new.as_str() && now["email_verified"] == true,
        "{now}"
    );
    app.post(
        "/v1/auth/email-change/confirm",
        &json!({ "token": confirm }),
    )
    .await?
    .expect_problem(400, "invalid_email_change_token")?;
    // The link is a verification link too; spent, it is refused there alike.
    app.post("/v1/auth/verify-email", &json!({ "token": confirm }))
        .await?
        .expect_problem(400, "invalid_verification_token")?;
    app.login(&new, PASSWORD).await?;
    app.login_raw(&old, PASSWORD)
        .await?
        .expect_problem(401, "invalid_credentials")?;

    // The old address is told, and takes the account back.
    let undo = link_token(
        &mail,
        &old,
        2,
        "Your account's email address was changed",
        "/email/undo",
    )
    .await?;
    let r = app
        .post("/v1/auth/email-change/undo", &json!({ "token": undo }))
        .await?
        .expect_status(200)?;
    ensure!(r.json()?["sessions_ended"].as_u64() >= Some(2), "{r}");
    ensure!(me_status(&app, &tokens.access_token).await? == 401);
    // The password went with the sessions (whoever changed the address may know it): the
    // owner sets one through a reset.
    app.login_raw(&old, PASSWORD)
        .await?
        .expect_problem(401, "invalid_credentials")?;
    let back = reset_and_sign_in(&app, &mail, &old, 3).await?;
    let was = me(&app, &back.access_token).await?;
    ensure!(
        was["email"] == old.as_str() && was["email_verified"] == true,
        "{was}"
    );
    app.post("/v1/auth/email-change/undo", &json!({ "token": undo }))
        .await?
        .expect_problem(400, "invalid_email_change_token")?;
    let kinds = crate::event_kinds(&app, &back.access_token).await?;
    for kind in [
        "email_change_requested",
        "email_changed",
        "email_change_undone",
    ] {
        ensure!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    Ok(())
}

const NEW_PASSWORD: &str = "the owner's own passphrase";

/// Sets `NEW_PASSWORD` through a reset link (the `n`-th mail to `email`) and signs in with it.
async fn reset_and_sign_in(
    app: &TestApp,
    mail: &MailCatcher,
    email: &str,
    n: usize,
) -> Result<keycard_testkit::TokenResponse> {
    app.post("/v1/auth/password/forgot", &json!({ "email": email }))
        .await?
        .expect_status(202)?;
    let token = link_token(mail, email, n, "Reset your password", "/password/reset").await?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    app.login(email, NEW_PASSWORD).await
}

/// Someone with the session and the password changes the address twice and tries to register
/// the old one for themselves: the old address's undo link still gives it back, from wherever
/// the address went, and the old address was kept for it meanwhile.
async fn the_undo_holds_after_further_changes(app: TestApp, mail: MailCatcher) -> Result<()> {
    let Some(app) =
        crate::with_mail(app, &mail, &[("email_verification_resend_pause", "1s")]).await?
    else {
        return Ok(());
    };
    let old = unique_email();
    let tokens = app.register(&old, PASSWORD).await?;
    for _ in 0..2 {
        let next = unique_email();
        app.bearer_post(
            "/v1/me/email",
            &tokens.access_token,
            &json!({ "new_email": next }),
        )
        .await?
        .expect_status(202)?;
        let confirm = link_token(
            &mail,
            &next,
            1,
            "Confirm your new email address",
            "/verify-email",
        )
        .await?;
        app.post(
            "/v1/auth/email-change/confirm",
            &json!({ "token": confirm }),
        )
        .await?
        .expect_status(200)?;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let undo = link_token(
        &mail,
        &old,
        2,
        "Your account's email address was changed",
        "/email/undo",
    )
    .await?;
    // The old address is kept for the account while its undo link holds.
    app.register_raw(&old, "someone else's passphrase")
        .await?
        .expect_problem(409, "email_taken")?;
    app.post("/v1/auth/email-change/undo", &json!({ "token": undo }))
        .await?
        .expect_status(200)?;
    let back = reset_and_sign_in(&app, &mail, &old, 3).await?;
    ensure!(me(&app, &back.access_token).await?["email"] == old.as_str());
    Ok(())
}

async fn asking_needs_a_recent_sign_in_or_the_password(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let taken = unique_email();
    app.register(&taken, PASSWORD).await?;
    let Some(app) = crate::with_mail(app, &mail, &[("recent_sign_in", "1s")]).await? else {
        return Ok(());
    };
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let taken = unique_email();
    app.register(&taken, PASSWORD).await?;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let ask = |body: Value| {
        let (app, token) = (&app, tokens.access_token.clone());
        async move { app.bearer_post("/v1/me/email", &token, &body).await }
    };
    let new = unique_email();
    ask(json!({ "new_email": new }))
        .await?
        .expect_problem(403, "reauthentication_required")?;
    ask(json!({ "new_email": new, "current_password": "not the password" }))
        .await?
        .expect_invalid("current_password", "invalid_current_password")?;
    ask(json!({ "new_email": email.to_uppercase(), "current_password": PASSWORD }))
        .await?
        .expect_invalid("new_email", "same_email")?;
    ask(json!({ "new_email": "not an address", "current_password": PASSWORD }))
        .await?
        .expect_invalid("new_email", "invalid_email")?;
    ask(json!({ "new_email": taken, "current_password": PASSWORD }))
        .await?
        .expect_problem(409, "email_taken")?;
    ask(json!({ "new_email": new, "current_password": PASSWORD }))
        .await?
        .expect_status(202)?;
    mail.wait_for(&new, 1).await?;
    Ok(())
}

async fn the_pages_change_and_undo_the_address(app: TestApp, mail: MailCatcher) -> Result<()> {
    let browser = app.browser()?;
    let old = crate::oidc::signed_up(&app, &browser, "Ada").await?;
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(page.text.contains("id=\"change-email\""), "{page}");
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let new = unique_email();
    let sent = crate::pages::submit(
        &app,
        &browser,
        "/account/email",
        &[("csrf", &csrf), ("email", &new), ("lang", "en")],
    )
    .await?;
    ensure!(
        sent.status.as_u16() == 202 && sent.text.contains(&new),
        "{sent}"
    );
    let got = mail.wait_for(&new, 1).await?;
    let link = got[0].link("/verify-email").context("no confirm link")?;
    for _ in 0..2 {
        let page = browser.navigate(&link).await?.expect_status(200)?;
        ensure!(page.text.contains("Confirm your email address"), "{page}");
    }
    let page = browser.navigate(&link).await?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let done = crate::pages::submit(
        &app,
        &browser,
        "/verify-email",
        &[
            ("csrf", &csrf),
            ("token", &token_of(&link)?),
            ("lang", "en"),
        ],
    )
    .await?;
    ensure!(
        done.status.as_u16() == 200 && done.text.contains("Email address confirmed"),
        "{done}"
    );

    let undo = mail
        .wait_for(&old, 2)
        .await?
        .iter()
        .find_map(|m| m.link("/email/undo"))
        .context("no undo link")?;
    let page = browser.navigate(&undo).await?.expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let back = crate::pages::submit(
        &app,
        &browser,
        "/email/undo",
        &[
            ("csrf", &csrf),
            ("token", &token_of(&undo)?),
            ("lang", "en"),
        ],
    )
    .await?;
    ensure!(
        back.status.as_u16() == 200 && back.text.contains("Your address is back"),
        "{back}"
    );
    // Every session ended, this browser's too, and the password went with them.
    let account = browser.navigate(&app.url("/account")).await?;
    ensure!(account.status.as_u16() == 303, "{account}");
    ensure!(
        back.text.contains("href=\"/password/forgot\""),
        "no way to a new password: {back}"
    );
    Ok(())
}
