//! The hosted pages in a real browser: Debian's chromium, headless, driven through
//! chromium-driver. Each test starts Keycard in-process (with the provider double) and a browser
//! of its own, on SQLite and on PostgreSQL.
//!
//!     cargo test -p keycard-testkit --test browser
//!
//! Needs `chromium` and `chromium-driver` (`make deps` installs them); without them the tests
//! fail, saying so. Keycard's origin is http://127.0.0.1:PORT, which Chromium treats as secure
//! (its `__Host-` cookies work over plain http there, as on localhost).

#![forbid(unsafe_code)]

mod apps;
mod chrome;
mod mail;
mod passkeys;
mod two_step;

use anyhow::{Result, ensure};
use apps::{
    a_device_is_allowed_from_the_device_page, an_app_sign_in_goes_through_the_second_step,
    an_app_signs_a_person_in_through_the_pages,
    the_account_page_takes_an_apps_access_back_and_an_app_signs_out,
};
use chrome::Chrome;
use keycard_testkit::{Backend, PASSWORD, TestApp, unique_email};
use mail::{
    a_forgotten_password_is_reset_from_the_mail_in_the_browser,
    the_address_is_changed_and_taken_back_in_the_browser,
    the_mailed_link_confirms_the_address_in_the_browser,
};
use passkeys::a_passkey_made_on_the_account_page_signs_in;
use std::future::Future;
use two_step::{
    a_provider_sign_in_goes_on_to_the_second_step, two_step_verification_is_set_up_and_asked_for,
};

macro_rules! browser_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(keycard_testkit::Backend::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(keycard_testkit::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

browser_tests!(
    sign_up_sign_out_and_sign_in_with_a_password,
    sign_in_with_every_provider_through_the_double,
    a_cross_site_form_post_is_refused,
    a_script_in_a_name_stays_text,
    the_pages_fit_a_360_pixel_phone,
    an_app_signs_a_person_in_through_the_pages,
    a_device_is_allowed_from_the_device_page,
    the_account_page_takes_an_apps_access_back_and_an_app_signs_out,
    the_mailed_link_confirms_the_address_in_the_browser,
    a_forgotten_password_is_reset_from_the_mail_in_the_browser,
    the_address_is_changed_and_taken_back_in_the_browser,
    two_step_verification_is_set_up_and_asked_for,
    a_provider_sign_in_goes_on_to_the_second_step,
    an_app_sign_in_goes_through_the_second_step,
    a_passkey_made_on_the_account_page_signs_in,
);

/// Keycard in-process with the provider double, and a browser; both end with the test.
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp, Chrome) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let app = match TestApp::builder(backend)
        .mock_idp()
        .start_in_process()
        .await
    {
        Ok(app) => app,
        Err(e) => panic!("could not start Keycard on {backend:?}: {e:#}"),
    };
    let chrome = match Chrome::start().await {
        Ok(c) => c,
        Err(e) => panic!("could not start the browser: {e:#}"),
    };
    let client = chrome.client.clone();
    let outcome = test(app, chrome).await;
    let _ = client.close().await;
    if let Err(e) = outcome {
        panic!("{e:#}");
    }
}

async fn sign_up_sign_out_and_sign_in_with_a_password(app: TestApp, b: Chrome) -> Result<()> {
    let email = unique_email();
    b.goto(&app.url("/register")).await?;
    b.fill("#name", "Ada Lovelace").await?;
    b.fill("#email", &email).await?;
    b.fill("#password", PASSWORD).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let who = b.text_of("#signed-in-as").await?;
    ensure!(who.contains(&email), "{who}");

    // Sign out: the page asks, the button does it.
    b.sign_out(app.base_url()).await?;
    b.goto(&app.url("/account")).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;

    // Sign in again with the password.
    b.submit_password(&email, PASSWORD).await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    ensure!(b.text_of("#signed-in-as").await?.contains(&email));

    // A wrong password shows the form again, with a message and the email kept.
    b.sign_out(app.base_url()).await?;
    b.goto(&app.url("/login")).await?;
    b.submit_password(&email, "not the right password").await?;
    let alert = b.text_of("[role=alert]").await?;
    ensure!(!alert.is_empty());
    let kept = b.wait_for("#email").await?.prop("value").await?;
    ensure!(kept.as_deref() == Some(email.as_str()), "{kept:?}");
    b.close().await
}

async fn sign_in_with_every_provider_through_the_double(app: TestApp, b: Chrome) -> Result<()> {
    let idp = app.idp_url()?.to_owned();
    for (provider, label, user, name) in [
        ("google", "Google", "ada", "Ada Lovelace"),
        // A form_post from another site: Keycard's page posts it again from its own origin.
        ("apple", "Apple", "ada", "Ada Lovelace"),
        ("facebook", "Facebook", "ada", "Ada Lovelace"),
        ("x", "X", "grace", "Grace Hopper"),
        // The double's GitHub has no display name for Alan: his login stands in.
        ("github", "GitHub", "alan", "alan"),
        ("oidc", "Test OpenID", "grace", "Grace Hopper"),
    ] {
        b.goto(&app.url("/login?return_to=/account")).await?;
        b.click(&format!("#provider-{provider}")).await?;
        b.wait_for_url("the provider", |u| u.starts_with(&idp))
            .await?;
        b.click(&format!("#user-{user}")).await?;
        b.wait_for_url("the account page", |u| u.ends_with("/account"))
            .await?;
        let heading = b.text_of("h1").await?;
        ensure!(heading == name, "{provider}: signed in as {heading}");
        let methods = b.text_of("#identities").await?;
        ensure!(methods.contains(label), "{methods}");
        // Sign out before the next provider.
        b.sign_out(app.base_url()).await?;
    }
    b.close().await
}

async fn a_cross_site_form_post_is_refused(app: TestApp, b: Chrome) -> Result<()> {
    // Someone with an account, and a page on another site that posts Keycard's login form.
    let acct = app.new_account().await?;
    let keycard = app.base_url().to_owned();
    let evil = format!(
        "<!doctype html><title>evil</title><form id=f method=post action=\"{keycard}/login\">\
         <input name=email value=\"{}\"><input name=password value=\"{PASSWORD}\"></form>\
         <script>document.getElementById('f').submit()</script>",
        acct.email
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    // `localhost` is another site than `127.0.0.1` for the browser.
    let evil_url = format!("http://localhost:{}/", listener.local_addr()?.port());
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let body = evil.clone();
            async move { axum::response::Html(body) }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, page).await });
    b.goto(&evil_url).await?;
    b.wait_for_url("Keycard", |u| u.starts_with(&keycard))
        .await?;
    let code = b.text_of("code").await?;
    server.abort();
    ensure!(
        code == "csrf_rejected",
        "the cross-site post was not refused: {code}"
    );
    let cookies = b.client.get_all_cookies().await?;
    ensure!(
        !cookies.iter().any(|c| c.name() == "__Host-keycard_session"),
        "the cross-site post signed the browser in"
    );
    b.close().await
}

async fn a_script_in_a_name_stays_text(app: TestApp, b: Chrome) -> Result<()> {
    let payload =
        "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";
    b.goto(&app.url("/register")).await?;
    b.fill("#name", payload).await?;
    b.fill("#email", &unique_email()).await?;
    b.fill("#password", PASSWORD).await?;
    b.click("#submit").await?;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await?;
    let heading = b.text_of("h1").await?;
    ensure!(
        heading == payload,
        "the name is not shown as typed: {heading}"
    );
    let title = b.client.title().await?;
    ensure!(!title.contains("pwned"), "the payload ran: {title}");
    let source = b.source().await?;
    ensure!(
        !source.contains("<script>document.title"),
        "unescaped in the page"
    );
    b.close().await
}

async fn the_pages_fit_a_360_pixel_phone(app: TestApp, b: Chrome) -> Result<()> {
    b.client.set_window_size(360, 760).await?;
    for path in ["/login", "/register"] {
        b.goto(&app.url(path)).await?;
        b.wait_for("#submit").await?;
        let width = b
            .client
            .execute("return window.innerWidth;", vec![])
            .await?
            .as_i64()
            .unwrap_or_default();
        let content = b
            .client
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await?
            .as_i64()
            .unwrap_or(i64::MAX);
        ensure!(width <= 360, "{path}: the window is {width} px wide");
        ensure!(
            content <= width,
            "{path}: {content} px of content in a {width} px window"
        );
        // The submit button is on screen without scrolling sideways.
        let right = b
            .client
            .execute(
                "return document.getElementById('submit').getBoundingClientRect().right;",
                vec![],
            )
            .await?
            .as_f64()
            .unwrap_or(f64::MAX);
        ensure!(
            right <= width as f64,
            "{path}: the button ends at {right} px"
        );
    }
    b.close().await
}
