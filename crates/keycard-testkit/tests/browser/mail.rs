//! Mail in the real browser. The verification mail: sign up on the page, the link from the mail
//! the catcher received opens Keycard's page, one press confirms the address, and the account
//! page says so. A forgotten password: from the sign-in page to the reset mail, a new password
//! on the page the link opens, and a sign-in with it. A new address: asked for on the account
//! page, confirmed from its inbox, and taken back from the old one's.

use crate::chrome::Chrome;
use anyhow::{Context, Result, ensure};
use keycard_testkit::{MailCatcher, PASSWORD, TestApp, unique_email};

/// Keycard in-process, delivering to the catcher.
async fn with_mail(app: TestApp) -> Result<(TestApp, MailCatcher)> {
    let backend = app.backend();
    drop(app);
    let mail = MailCatcher::get()?;
    let smtp = mail
        .smtp_url
        .clone()
        .context("the browser tests run Keycard in-process")?;
    let app = TestApp::builder(backend)
        .setting("smtp_url", &smtp)
        .start_in_process()
        .await?;
    Ok((app, mail))
}

pub async fn the_mailed_link_confirms_the_address_in_the_browser(
    app: TestApp,
    b: Chrome,
) -> Result<()> {
    let (app, mail) = with_mail(app).await?;
    let email = unique_email();
    b.goto(&app.url("/register")).await?;
    b.fill("#name", "Ada Lovelace").await?;
    b.fill("#email", &email).await?;
    b.fill("#password", PASSWORD).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    ensure!(b.text_of("#signed-in-as").await?.contains("not verified"));

    // Asking for another link at once: the page says one went out a moment ago.
    b.click("#resend-verification").await?;
    b.wait_for("#verification-too-soon").await?;

    let link = mail.wait_for(&email, 1).await?[0]
        .link("/verify-email")
        .context("no link in the mail")?;
    b.goto(&link).await?;
    b.click("#submit").await?;
    b.wait_for("#email-verified").await?;
    b.goto(&app.url("/account")).await?;
    let who = b.text_of("#signed-in-as").await?;
    ensure!(
        who.contains("verified") && !who.contains("not verified"),
        "{who}"
    );
    ensure!(
        !b.source().await?.contains("resend-verification"),
        "the button stays after verification"
    );
    b.close().await
}

pub async fn a_forgotten_password_is_reset_from_the_mail_in_the_browser(
    app: TestApp,
    b: Chrome,
) -> Result<()> {
    let (app, mail) = with_mail(app).await?;
    let email = unique_email();
    app.register(&email, PASSWORD).await?;
    b.goto(&app.url("/login")).await?;
    b.click("#forgot").await?;
    b.wait_for_url("the forgot page", |u| u.ends_with("/password/forgot"))
        .await?;
    b.fill("#email", &email).await?;
    b.click("#submit").await?;
    b.wait_for("#reset-sent").await?;

    let link = mail
        .wait_for(&email, 2)
        .await?
        .iter()
        .find_map(|m| m.link("/password/reset"))
        .context("no reset link in the mail")?;
    b.goto(&link).await?;
    b.fill("#new_password", "a brand new passphrase 7").await?;
    b.click("#submit").await?;
    b.wait_for("#password-reset").await?;

    b.goto(&app.url("/login")).await?;
    b.submit_password(&email, "a brand new passphrase 7")
        .await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    ensure!(b.text_of("#signed-in-as").await?.contains(&email));
    // The whole story is in the account's activity.
    let events = b.text_of("#events").await?;
    for line in [
        "Account created",
        "Password reset link mailed",
        "Password reset",
        "Signed in",
    ] {
        ensure!(events.contains(line), "no {line:?} in {events}");
    }
    b.close().await
}

pub async fn the_address_is_changed_and_taken_back_in_the_browser(
    app: TestApp,
    b: Chrome,
) -> Result<()> {
    let (app, mail) = with_mail(app).await?;
    let old = unique_email();
    b.goto(&app.url("/register")).await?;
    b.submit_password(&old, PASSWORD).await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;

    // Just signed up: a recent sign-in, so the current password is not asked for.
    let new = unique_email();
    b.click("#change-email summary").await?;
    b.fill("#new-email", &new).await?;
    b.click("#change-email-submit").await?;
    b.wait_for("#email-change-sent").await?;
    let link = mail.wait_for(&new, 1).await?[0]
        .link("/verify-email")
        .context("no link in the mail to the new address")?;
    b.goto(&link).await?;
    b.click("#submit").await?;
    b.wait_for("#email-verified").await?;
    b.goto(&app.url("/account")).await?;
    ensure!(b.text_of("#signed-in-as").await?.contains(&new));

    // The old address takes the account back: every session ends, this browser's too.
    let undo = mail
        .wait_for(&old, 2)
        .await?
        .iter()
        .find_map(|m| m.link("/email/undo"))
        .context("no undo link in the mail to the old address")?;
    b.goto(&undo).await?;
    b.click("#submit").await?;
    b.wait_for("#email-change-undone").await?;
    b.goto(&app.url("/account")).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.close().await
}
