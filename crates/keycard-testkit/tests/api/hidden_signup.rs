//! Sign-up that tells nobody whether an address has an account
//! (`KEYCARD_SIGNUP_DISCLOSURE=hidden`): the same answer for a new and a taken address, on the
//! API and the page; the new account signs in once its address is proved (before that its
//! password gets the answer a wrong one gets), and the owner of the taken address is mailed.

use crate::mail::token_of;
use anyhow::{Context, Result, ensure};
use keycard_testkit::{MailCatcher, PASSWORD, TestApp, field_value, unique_email};
use serde_json::json;

mail_tests!(
    sign_up_answers_alike_for_a_new_and_a_taken_address,
    the_page_answers_alike_too,
    signing_up_again_before_confirming_mails_the_note_and_a_reset_gets_in,
);

/// Keycard in hidden mode, delivering to the catcher; `None` against `KEYCARD_URL`.
async fn hidden(app: TestApp, mail: &MailCatcher) -> Result<Option<TestApp>> {
    crate::with_mail(app, mail, &[("signup_disclosure", "hidden")]).await
}

/// Follows the verification link of the `n`-th mail to `email`.
async fn verify(app: &TestApp, mail: &MailCatcher, email: &str, n: usize) -> Result<()> {
    let got = mail.wait_for(email, n).await?;
    let link = got
        .iter()
        .find_map(|m| m.link("/verify-email"))
        .with_context(|| format!("no verification link among {got:?}"))?;
    app.post(
        "/v1/auth/verify-email",
        &json!({ "token": token_of(&link)? }),
    )
    .await?
    .expect_status(200)?;
    Ok(())
}

async fn sign_up_answers_alike_for_a_new_and_a_taken_address(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let Some(app) = hidden(app, &mail).await? else {
        return Ok(());
    };
    let owner = unique_email();
    app.register_raw(&owner, PASSWORD)
        .await?
        .expect_status(202)?;
    verify(&app, &mail, &owner, 1).await?;
    app.login(&owner, PASSWORD).await?;

    let new = unique_email();
    let other = "someone else's passphrase";
    let a = app.register_raw(&new, other).await?;
    let b = app.register_raw(&owner, other).await?;
    ensure!(a.status.as_u16() == 202, "{a}");
    ensure!(
        a.status == b.status && a.text == b.text,
        "the answers differ: {a} / {b}"
    );
    ensure!(a.json()? == json!({ "accepted": true }), "{a}");

    // The owner hears of the attempt, and nothing about them changed.
    let got = mail.wait_for(&owner, 2).await?;
    let note = got
        .iter()
        .find(|m| m.subject == "Someone tried to sign up with your address")
        .with_context(|| format!("no note among {got:?}"))?;
    ensure!(
        note.text
            .as_deref()
            .is_some_and(|t| t.contains(&app.url("/login")) && t.contains("/password/forgot")),
        "{note:?}"
    );
    app.login(&owner, PASSWORD).await?;
    app.login_raw(&owner, other)
        .await?
        .expect_problem(401, "invalid_credentials")?;

    // The new account: its password is refused like a wrong one until the address is proved.
    app.login_raw(&new, other)
        .await?
        .expect_problem(401, "invalid_credentials")?;
    verify(&app, &mail, &new, 1).await?;
    let tokens = app.login(&new, other).await?;
    let kinds = crate::event_kinds(&app, &tokens.access_token).await?;
    ensure!(
        kinds.iter().any(|k| k == "registered") && kinds.iter().any(|k| k == "login_failed"),
        "{kinds:?}"
    );

    // Still the policy's answers for what is wrong whoever owns the address.
    app.register_raw(&unique_email(), "short")
        .await?
        .expect_invalid("password", "password_too_short")?;
    Ok(())
}

async fn the_page_answers_alike_too(app: TestApp, mail: MailCatcher) -> Result<()> {
    let Some(app) = hidden(app, &mail).await? else {
        return Ok(());
    };
    let owner = unique_email();
    app.register_raw(&owner, PASSWORD)
        .await?
        .expect_status(202)?;
    let mut pages = Vec::new();
    for email in [unique_email(), owner.clone()] {
        let browser = app.browser()?;
        let page = browser
            .navigate(&app.url("/register"))
            .await?
            .expect_status(200)?;
        let csrf = field_value(&page.text, "csrf").context("csrf")?;
        let sent = crate::pages::submit(
            &app,
            &browser,
            "/register",
            &[
                ("csrf", &csrf),
                ("email", &email),
                ("password", "a page's own passphrase"),
                ("lang", "en"),
            ],
        )
        .await?;
        ensure!(
            sent.status.as_u16() == 202 && sent.text.contains("Check your inbox"),
            "{sent}"
        );
        ensure!(
            browser.cookie("__Host-keycard_session").is_none(),
            "signed in before the address was proved"
        );
        pages.push(sent.text.replace(&email, "EMAIL"));
    }
    ensure!(
        strip_nonce(&pages[0]) == strip_nonce(&pages[1]),
        "the pages differ: {} / {}",
        pages[0],
        pages[1]
    );
    mail.wait_for(&owner, 2).await?;
    Ok(())
}

/// The first sign-up with an address may have been a stranger's, waiting for the owner to
/// confirm it: a second one never mails a new link for that account, only the note, and the
/// owner gets in with a password of their own through a reset.
async fn signing_up_again_before_confirming_mails_the_note_and_a_reset_gets_in(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let Some(app) = hidden(app, &mail).await? else {
        return Ok(());
    };
    let email = unique_email();
    app.register_raw(&email, "a stranger's passphrase")
        .await?
        .expect_status(202)?;
    app.register_raw(&email, PASSWORD)
        .await?
        .expect_status(202)?;
    let got = mail.wait_for(&email, 2).await?;
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    ensure!(
        subjects.contains(&"Confirm your email address")
            && subjects.contains(&"Someone tried to sign up with your address"),
        "{got:?}"
    );
    app.post("/v1/auth/password/forgot", &json!({ "email": email }))
        .await?
        .expect_status(202)?;
    let got = mail.wait_for(&email, 3).await?;
    let link = got
        .iter()
        .find_map(|m| m.link("/password/reset"))
        .context("no reset link")?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token_of(&link)?, "new_password": PASSWORD }),
    )
    .await?
    .expect_status(200)?;
    app.login(&email, PASSWORD).await?;
    app.login_raw(&email, "a stranger's passphrase")
        .await?
        .expect_problem(401, "invalid_credentials")?;
    Ok(())
}

/// Accounts made before the switch to hidden mode, unconfirmed, still sign in: only a password
/// set by a hidden-mode sign-up waits for the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_from_before_the_switch_still_sign_in() {
    if let Err(e) = from_before_the_switch().await {
        panic!("{e:#}");
    }
}

async fn from_before_the_switch() -> Result<()> {
    if keycard_testkit::targets_running_server() {
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(());
    }
    let key = keycard_testkit::random_secret_key();
    let dir =
        std::env::temp_dir().join(format!("keycard-hidden-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let db = format!("sqlite://{}?mode=rwc", dir.join("keycard.db").display());
    let start = |mode: &'static str| {
        let (db, key) = (db.clone(), key.clone());
        async move {
            TestApp::builder(keycard_testkit::Backend::Sqlite)
                .database_url(db)
                .setting("secret_key", &key)
                .setting("signup_disclosure", mode)
                .start()
                .await
        }
    };
    let Some(open) = start("open").await? else {
        return Ok(());
    };
    let email = unique_email();
    open.register(&email, PASSWORD).await?;
    drop(open);
    let Some(hidden) = start("hidden").await? else {
        return Ok(());
    };
    hidden.login(&email, PASSWORD).await?;
    drop(hidden);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A page with its per-response nonces (`nonce-…'` in the CSP, `nonce="…"` on tags) blanked,
/// to compare two answers.
fn strip_nonce(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.find("nonce") {
        let (before, after) = rest.split_at(at + "nonce".len());
        out.push_str(before);
        // `="value"` or `-value'`: the value runs from after the opening mark to the next quote.
        let value = after.trim_start_matches(['=', '-', '"']);
        let end = value.find(['"', '\'']).unwrap_or(value.len());
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}
