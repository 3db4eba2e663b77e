//! Mail that really goes out: Keycard delivers over SMTP to the mail catcher (MailDev) and the
//! tests read what it received. Sign-up mails a link that verifies the address once; the hosted
//! page at that link asks before it spends it; a new link can be asked for, not too often; and a
//! message queued while the mail server is unreachable is delivered after a restart.

use crate::{event_kinds, me_status};
use anyhow::{Context, Result, ensure};
use keycard_testkit::{MailCatcher, PASSWORD, TestApp, field_value, unique_email};
use serde_json::json;

mail_tests!(
    sign_up_mails_a_link_that_verifies_the_address_once,
    the_link_opens_a_page_that_confirms_with_one_press,
    a_new_link_is_mailed_on_request_but_not_twice_a_minute,
    the_account_page_mails_a_new_link_on_request,
    new_links_share_the_allowance_of_mailed_links,
);

pub(crate) fn token_of(link: &str) -> Result<String> {
    let url = reqwest::Url::parse(link).with_context(|| format!("not a URL: {link}"))?;
    url.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .context("no token in the link")
}

async fn sign_up_mails_a_link_that_verifies_the_address_once(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let got = mail.wait_for(&email, 1).await?;
    let m = &got[0];
    ensure!(m.subject == "Confirm your email address", "{m:?}");
    ensure!(m.from.first().is_some_and(|f| f.name == "Keycard"), "{m:?}");
    let link = m.link("/verify-email").context("no link in the mail")?;
    ensure!(
        link.starts_with(&format!("{}/verify-email?token=kcev_", app.url(""))),
        "{link}"
    );
    ensure!(
        m.html
            .as_deref()
            .is_some_and(|h| h.contains(&link.replace('&', "&amp;"))),
        "the HTML body lacks the link: {m:?}"
    );
    let token = token_of(&link)?;

    // Not verified yet: the account works, its profile says so.
    let me = app
        .bearer_get("/v1/me", &tokens.access_token)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(me["email_verified"] == false, "{me}");

    let r = app
        .post("/v1/auth/verify-email", &json!({ "token": token }))
        .await?;
    ensure!(
        r.status.as_u16() == 200 && r.json()?["email_verified"] == true,
        "{r}"
    );
    let me = app
        .bearer_get("/v1/me", &tokens.access_token)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(me["email_verified"] == true, "{me}");
    ensure!(
        event_kinds(&app, &tokens.access_token)
            .await?
            .contains(&"email_verified".to_owned())
    );

    // Once only; and a made-up or malformed token gets the same answer.
    for bogus in [
        token.as_str(),
        "kcev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not-a-token",
    ] {
        let r = app
            .post("/v1/auth/verify-email", &json!({ "token": bogus }))
            .await?;
        r.expect_problem(400, "invalid_verification_token")?;
    }
    ensure!(me_status(&app, &tokens.access_token).await? == 200);
    Ok(())
}

async fn the_link_opens_a_page_that_confirms_with_one_press(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let link = mail.wait_for(&email, 1).await?[0]
        .link("/verify-email")
        .context("no link")?;
    let browser = app.browser()?;
    // Opening the link (as a mail scanner would) spends nothing.
    for _ in 0..2 {
        let page = browser.navigate(&link).await?.expect_status(200)?;
        ensure!(page.text.contains("Confirm your email address"), "{page}");
    }
    let page = browser.navigate(&link).await?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let token = token_of(&link)?;
    let done = crate::pages::submit(
        &app,
        &browser,
        "/verify-email",
        &[("csrf", &csrf), ("token", &token), ("lang", "en")],
    )
    .await?;
    ensure!(
        done.status.as_u16() == 200 && done.text.contains("Email address confirmed"),
        "{done}"
    );
    let me = app
        .bearer_get("/v1/me", &tokens.access_token)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(me["email_verified"] == true, "{me}");
    // The same link again: a page that says it is spent, not an error.
    let again = crate::pages::submit(
        &app,
        &browser,
        "/verify-email",
        &[("csrf", &csrf), ("token", &token), ("lang", "en")],
    )
    .await?;
    ensure!(
        again.status.as_u16() == 400 && again.text.contains("already used"),
        "{again}"
    );
    // A forged form (no valid form token) is refused before the link is looked at.
    let forged = crate::pages::submit(
        &app,
        &browser,
        "/verify-email",
        &[("csrf", "forged"), ("token", &token), ("lang", "en")],
    )
    .await?;
    ensure!(forged.status.as_u16() == 403, "{forged}");
    Ok(())
}

async fn a_new_link_is_mailed_on_request_but_not_twice_a_minute(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    mail.wait_for(&email, 1).await?;
    // The sign-up's link went out a moment ago.
    let r = app
        .bearer_post(
            "/v1/auth/verify-email/resend",
            &tokens.access_token,
            &json!({}),
        )
        .await?;
    ensure!(
        r.status.as_u16() == 429 && r.header("retry-after").is_some(),
        "{r}"
    );
    let first = mail.messages_to(&email).await?;
    ensure!(first.len() == 1, "{first:?}");
    let token = token_of(&first[0].link("/verify-email").context("link")?)?;
    app.post("/v1/auth/verify-email", &json!({ "token": token }))
        .await?
        .expect_status(200)?;
    let r = app
        .bearer_post(
            "/v1/auth/verify-email/resend",
            &tokens.access_token,
            &json!({}),
        )
        .await?;
    r.expect_problem(409, "already_verified")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_message_queued_while_the_mail_server_is_down_survives_a_restart() {
    if let Err(e) = survives_a_restart(keycard_testkit::Backend::Sqlite).await {
        panic!("{e:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_message_queued_while_the_mail_server_is_down_survives_a_restart() {
    if let Err(e) = survives_a_restart(keycard_testkit::Backend::Postgres).await {
        panic!("{e:#}");
    }
}

/// Keycard is pointed at a mail server that refuses connections, a person signs up, Keycard
/// stops with the message still queued; started again (same database, same secret key) with a
/// working mail server, it delivers the message, whose link works.
async fn survives_a_restart(backend: keycard_testkit::Backend) -> Result<()> {
    use keycard_testkit::{Backend, PgCluster, random_secret_key};
    let mail = MailCatcher::get()?;
    let Some(smtp) = mail.smtp_url.clone() else {
        // Against KEYCARD_URL: that server's mail settings are not ours to change.
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(());
    };
    let key = random_secret_key();
    let dir =
        std::env::temp_dir().join(format!("keycard-outbox-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let cluster = match backend {
        Backend::Postgres => Some(PgCluster::start().await?),
        Backend::Sqlite => None,
    };
    let db = match &cluster {
        Some(c) => c.url().to_owned(),
        None => format!("sqlite://{}?mode=rwc", dir.join("keycard.db").display()),
    };
    let start = |smtp: String| {
        let (db, key) = (db.clone(), key.clone());
        async move {
            TestApp::builder(backend)
                .database_url(db)
                .setting("secret_key", &key)
                .setting("smtp_url", &smtp)
                .start_in_process()
                .await
        }
    };
    let email = unique_email();
    let down = start("smtp://127.0.0.1:9".into()).await?;
    down.register(&email, PASSWORD).await?;
    // Its first delivery fails (connection refused) and is put off, not lost.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    drop(down);
    ensure!(mail.messages_to(&email).await?.is_empty());

    let up = start(smtp).await?;
    let got = mail
        .wait_within(&email, 1, std::time::Duration::from_secs(40))
        .await?;
    let token = token_of(&got[0].link("/verify-email").context("link")?)?;
    up.post("/v1/auth/verify-email", &json!({ "token": token }))
        .await?
        .expect_status(200)?;
    drop(up);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The account page of an unverified account offers a new link; it is refused until the pause
/// since the last one is over, then mailed, and the newest link works.
async fn the_account_page_mails_a_new_link_on_request(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let Some(app) =
        crate::with_mail(app, &mail, &[("email_verification_resend_pause", "2s")]).await?
    else {
        return Ok(());
    };
    let browser = app.browser()?;
    let email = crate::oidc::signed_up(&app, &browser, "Ada").await?;
    mail.wait_for(&email, 1).await?;
    let press = || async {
        let page = browser
            .navigate(&app.url("/account"))
            .await?
            .expect_status(200)?;
        ensure!(
            page.text.contains("resend-verification"),
            "no button: {page}"
        );
        let csrf = field_value(&page.text, "csrf").context("csrf on /account")?;
        crate::pages::submit(
            &app,
            &browser,
            "/account/verify-email",
            &[("csrf", &csrf), ("lang", "en")],
        )
        .await
    };
    let soon = press().await?;
    ensure!(
        soon.status.as_u16() == 429 && soon.text.contains("a moment ago"),
        "{soon}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let sent = press().await?;
    ensure!(
        sent.status.as_u16() == 200 && sent.text.contains("Check your inbox"),
        "{sent}"
    );
    let got = mail.wait_for(&email, 2).await?;
    let newest = token_of(&got[1].link("/verify-email").context("link")?)?;
    app.post("/v1/auth/verify-email", &json!({ "token": newest }))
        .await?
        .expect_status(200)?;
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(!page.text.contains("resend-verification"), "{page}");
    Ok(())
}

/// Asking for new verification links is held to the allowance of mailed links per address
/// (here 2 a day), beyond its pause: accounts made with other people's addresses cannot be used
/// to fill their inboxes.
async fn new_links_share_the_allowance_of_mailed_links(
    app: TestApp,
    mail: MailCatcher,
) -> Result<()> {
    let Some(app) = crate::with_mail(
        app,
        &mail,
        &[
            ("email_verification_resend_pause", "1s"),
            ("forgot_email_daily_limit", "2/1d"),
        ],
    )
    .await?
    else {
        return Ok(());
    };
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    for n in 1..=3 {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let r = app
            .bearer_post(
                "/v1/auth/verify-email/resend",
                &tokens.access_token,
                &json!({}),
            )
            .await?;
        if n <= 2 {
            r.expect_status(202)?;
        } else {
            r.expect_problem(429, "rate_limited")?;
        }
    }
    // The sign-up's link and two more, no third.
    let got = mail.wait_for(&email, 3).await?;
    ensure!(got.len() == 3, "{got:?}");
    Ok(())
}
