//! Passkeys in the browser: Chromium's virtual authenticator (WebDriver's WebAuthn extension,
//! the DevTools `WebAuthn.addVirtualAuthenticator` of the driver) makes a passkey on the account
//! page, and it signs in on `/login` without a password, through the email field's autofill
//! and, in a browser without that autofill, through the "Sign in with a passkey" button; then
//! the account page removes it.

use crate::chrome::Chrome;
use anyhow::{Context, Result, ensure};
use fantoccini::wd::WebDriverCompatibleCommand;
use keycard_testkit::{PASSWORD, TestApp, unique_email};

/// `POST /session/{id}/{path}` with a JSON body: the driver's extension commands, which the
/// WebDriver client has no method for.
#[derive(Debug)]
struct SessionPost(&'static str, serde_json::Value);

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.1.to_string()))
    }
}

/// A platform authenticator that holds resident keys, verifies its user and always consents.
fn add_virtual_authenticator() -> SessionPost {
    SessionPost(
        "webauthn/authenticator",
        serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        }),
    )
}

/// One DevTools command, through chromedriver.
fn cdp(cmd: &str, params: serde_json::Value) -> SessionPost {
    SessionPost(
        "goog/cdp/execute",
        serde_json::json!({ "cmd": cmd, "params": params }),
    )
}

pub async fn a_passkey_made_on_the_account_page_signs_in(app: TestApp, b: Chrome) -> Result<()> {
    // Browsers want a domain name for a relying party: this Keycard answers at localhost.
    let app = app.reconfigure().on_localhost().start_in_process().await?;
    b.client
        .issue_cmd(add_virtual_authenticator())
        .await
        .context("adding a virtual authenticator")?;
    let email = unique_email();
    b.goto(&app.url("/register")).await?;
    b.fill("#name", "Ada Lovelace").await?;
    b.fill("#email", &email).await?;
    b.fill("#password", PASSWORD).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    ensure!(b.text_of("#passkeys-none").await?.contains("No passkey"));

    b.fill("#passkey-name", "Laptop").await?;
    b.click("#passkey-add").await?;
    page_shows(&b, "the new passkey listed", "Laptop").await?;

    b.sign_out(app.base_url()).await?;
    // The sign-in page asks the browser for a passkey in the email field's autofill
    // (conditional mediation); the virtual authenticator consents at once, as a person picking
    // their passkey there would: signed in, no address, no password.
    b.goto(&app.url("/login?return_to=/account")).await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let who = b.text_of("#signed-in-as").await?;
    ensure!(who.contains(&email), "{who}");
    let activity = b.text_of("#events").await?;
    ensure!(activity.contains("Passkey added"), "{activity}");

    // A browser without passkey autofill (as the pages see it: no
    // `isConditionalMediationAvailable`) still has the button.
    b.client
        .issue_cmd(cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({
                // An own property that hides the inherited method (deleting would not).
                "source": "Object.defineProperty(PublicKeyCredential, \
                           'isConditionalMediationAvailable', { value: undefined });"
            }),
        ))
        .await
        .context("hiding passkey autofill")?;
    b.sign_out(app.base_url()).await?;
    b.goto(&app.url("/login?return_to=/account")).await?;
    b.wait_for("#passkey-sign-in:not([hidden])").await?;
    let autofill = b
        .client
        .execute(
            "return typeof PublicKeyCredential.isConditionalMediationAvailable",
            vec![],
        )
        .await?;
    ensure!(
        autofill == "undefined",
        "autofill still offered: {autofill}"
    );
    ensure!(
        b.client.current_url().await?.path() == "/login",
        "signed in before the button was pressed"
    );
    b.click("#passkey-sign-in").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let who = b.text_of("#signed-in-as").await?;
    ensure!(who.contains(&email), "{who}");

    // The passkey sign-in is recent and two-factor: enough to remove the passkey.
    b.click("[id^='passkey-remove-']").await?;
    b.wait_for("#passkeys-none").await?;
    let activity = b.text_of("#events").await?;
    ensure!(activity.contains("Passkey removed"), "{activity}");
    b.close().await
}

/// Waits until the page's source holds `needle` (the page may be replaced meanwhile).
async fn page_shows(b: &Chrome, what: &str, needle: &str) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let source = b.source().await.unwrap_or_default();
        if source.contains(needle) {
            return Ok(());
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            anyhow::bail!("never saw {what}; the page is:\n{source}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
