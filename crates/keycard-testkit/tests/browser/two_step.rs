//! Two-step verification in the browser: set up from the account page with the QR code's key,
//! the recovery codes shown once, the code asked for after the password, new recovery codes
//! replacing the old ones, and turning it off.

use crate::chrome::Chrome;
use anyhow::{Result, ensure};
use keycard_testkit::{PASSWORD, TestApp, totp_code, unique_email};

pub async fn two_step_verification_is_set_up_and_asked_for(app: TestApp, b: Chrome) -> Result<()> {
    let email = unique_email();
    b.goto(&app.url("/register")).await?;
    b.fill("#name", "Ada Lovelace").await?;
    b.fill("#email", &email).await?;
    b.fill("#password", PASSWORD).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;

    // Just signed up: no password needed to start.
    b.click("#two-step-setup").await?;
    b.wait_for("#totp-qr svg").await?;
    let secret = b.text_of("#totp-secret").await?.replace(' ', "");
    ensure!(secret.len() >= 32, "{secret}");
    b.fill("#code", &totp_code(&secret, 0)?).await?;
    b.click("#confirm-totp").await?;
    b.wait_for("#recovery-codes").await?;
    let codes = b.text_of("#recovery-codes").await?;
    ensure!(codes.lines().count() == 10, "{codes}");
    b.click("#codes-saved").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let status = b.text_of("#two-step-status").await?;
    ensure!(status.starts_with("On"), "{status}");

    // Signed out, the password leads to the code.
    sign_in_to_second_step(&app, &b, &email).await?;
    b.fill("#code", "000000").await?;
    b.click("#submit").await?;
    let alert = b.text_of("[role=alert]").await?;
    ensure!(alert.contains("not right"), "{alert}");
    b.fill("#code", &totp_code(&secret, 30)?).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    ensure!(b.text_of("#signed-in-as").await?.contains(&email));

    // New recovery codes, shown once, replace the old ones.
    b.click("#two-step-new-codes").await?;
    b.wait_for("#recovery-codes").await?;
    let fresh = b.text_of("#recovery-codes").await?;
    ensure!(fresh.lines().count() == 10, "{fresh}");
    let old_code = first_code(&codes)?;
    let new_code = first_code(&fresh)?;
    ensure!(
        !fresh.contains(&old_code),
        "{old_code} is still among {fresh}"
    );
    b.click("#codes-saved").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;

    // Signed out again: an old recovery code is refused, a new one completes the second step.
    sign_in_to_second_step(&app, &b, &email).await?;
    b.fill("#code", &old_code).await?;
    b.click("#submit").await?;
    let alert = b.text_of("[role=alert]").await?;
    ensure!(alert.contains("not right"), "{alert}");
    b.fill("#code", &new_code).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let status = b.text_of("#two-step-status").await?;
    ensure!(status.contains("9 recovery codes"), "{status}");

    // Turned off (the recovery code's sign-in went through the second step, so it is recent
    // enough): the password alone signs in again.
    b.click("#two-step-remove").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let status = b.text_of("#two-step-status").await?;
    ensure!(status.starts_with("Off"), "{status}");
    b.sign_out(app.base_url()).await?;
    b.goto(&app.url("/login?return_to=/account")).await?;
    b.submit_password(&email, PASSWORD).await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    ensure!(b.text_of("#signed-in-as").await?.contains(&email));
    b.close().await
}

/// The first recovery code of a list as the page shows it (one per line).
fn first_code(list: &str) -> Result<String> {
    list.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no recovery code in {list:?}"))
}

/// Signs out, then in with the password, up to the second step.
async fn sign_in_to_second_step(app: &TestApp, b: &Chrome, email: &str) -> Result<()> {
    b.sign_out(app.base_url()).await?;
    b.goto(&app.url("/login?return_to=/account")).await?;
    b.submit_password(email, PASSWORD).await?;
    b.wait_for_url("the second step", |u| u.contains("/login/second-step"))
        .await?;
    Ok(())
}

/// A provider's sign-in into an account with two-step verification goes on to the code. The
/// provider is another site (the double answers at localhost, Keycard at 127.0.0.1), as real
/// ones are: the challenge cookie set by the callback must come along the redirect chain the
/// provider's site started, which a Strict cookie would not.
pub async fn a_provider_sign_in_goes_on_to_the_second_step(app: TestApp, b: Chrome) -> Result<()> {
    let idp = app.idp_url()?.to_owned();
    ensure!(
        idp.contains("localhost") && !app.base_url().contains("localhost"),
        "the provider at {idp} should be another site than Keycard at {}",
        app.base_url()
    );
    through_google(&app, &b, &idp).await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    // Just signed in: set up without a password (the account has none).
    b.click("#two-step-setup").await?;
    b.wait_for("#totp-qr svg").await?;
    let secret = b.text_of("#totp-secret").await?.replace(' ', "");
    b.fill("#code", &totp_code(&secret, 0)?).await?;
    b.click("#confirm-totp").await?;
    b.wait_for("#recovery-codes").await?;
    b.click("#codes-saved").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;

    b.sign_out(app.base_url()).await?;
    through_google(&app, &b, &idp).await?;
    b.wait_for_url("the second step", |u| u.contains("/login/second-step"))
        .await?;
    b.fill("#code", &totp_code(&secret, 30)?).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let heading = b.text_of("h1").await?;
    ensure!(heading == "Ada Lovelace", "signed in as {heading}");
    b.close().await
}

/// From the sign-in page through the provider double's Google, as Ada.
async fn through_google(app: &TestApp, b: &Chrome, idp: &str) -> Result<()> {
    b.goto(&app.url("/login?return_to=/account")).await?;
    b.click("#provider-google").await?;
    b.wait_for_url("the provider", |u| u.starts_with(idp))
        .await?;
    b.click("#user-ada").await
}
