//! Signing in to an app through Keycard in the real browser: the authorization request, the
//! sign-in page, the consent page, and the answer at the app (a native app's loopback
//! redirect, served by the test). Content-Security-Policy holds form answers to `form-action`,
//! redirects included, so this is where a wrong policy would show.

use super::chrome::Chrome;
use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use keycard_testkit::{PASSWORD, TestApp};

/// The app: a loopback listener whose `/cb` says it got an answer.
async fn app_listener() -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}/cb", listener.local_addr()?.port());
    let page = axum::Router::new().route(
        "/cb",
        axum::routing::get(|| async {
            axum::response::Html(
                "<!doctype html><title>app</title><h1 id=app>signed in at the app</h1>",
            )
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, page).await;
    });
    Ok((base, task))
}

fn authorize(app: &TestApp, redirect: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    authorize_for(app, keycard_testkit::apps::SHOP, redirect, challenge, extra)
}

fn authorize_for(
    app: &TestApp,
    client: &str,
    redirect: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect),
        ("scope", "openid profile email"),
        ("state", "st-browser"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        q.append_pair(k, v);
    }
    app.url(&format!("/oauth2/authorize?{}", q.finish()))
}

pub async fn an_app_signs_a_person_in_through_the_pages(app: TestApp, b: Chrome) -> Result<()> {
    let acct = app.new_account().await?;
    let (redirect, server) = app_listener().await?;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    );

    b.goto(&authorize(&app, &redirect, &challenge, &[])).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    // The consent page names the app; Allow answers it.
    let heading = b.text_of("#consent-heading").await?;
    ensure!(heading.contains("Shop"), "{heading}");
    b.click("#allow").await?;
    let answer = b
        .wait_for_url("the app", |u| u.starts_with(&redirect))
        .await?;
    ensure!(b.text_of("#app").await?.contains("signed in at the app"));
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&answer)?
        .query_pairs()
        .into_owned()
        .collect();
    let code = q.get("code").context("no code in the answer")?;
    let tokens = keycard_testkit::send(app.http().post(app.url("/oauth2/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect),
        ("client_id", keycard_testkit::apps::SHOP),
        ("code_verifier", &verifier),
    ]))
    .await?;
    ensure!(tokens.status.as_u16() == 200, "{tokens}");

    // Asked to sign in again (prompt=login): the form, then — a native app is asked about
    // every time — the consent page again, and on to the app.
    b.goto(&authorize(
        &app,
        &redirect,
        &challenge,
        &[("prompt", "login")],
    ))
    .await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    b.wait_for("#consent-heading").await?;
    b.click("#allow").await?;
    b.wait_for_url("the app", |u| u.starts_with(&redirect))
        .await?;

    // A web app whose consent is remembered: after signing in again, the sign-in form's
    // answer redirects through the authorization endpoint straight to the app's origin, which
    // the form's `form-action` must allow.
    let web = authorize_for(&app, keycard_testkit::apps::WEB, &redirect, &challenge, &[]);
    b.goto(&web).await?;
    b.wait_for("#consent-heading").await?;
    b.click("#allow").await?;
    b.wait_for_url("the web app", |u| u.starts_with(&redirect))
        .await?;
    b.sign_out(app.base_url()).await?;
    b.goto(&web).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    b.wait_for_url("the web app", |u| u.starts_with(&redirect))
        .await?;
    server.abort();
    b.close().await
}

pub async fn a_device_is_allowed_from_the_device_page(app: TestApp, b: Chrome) -> Result<()> {
    let acct = app.new_account().await?;
    let started = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/device_authorization"))
            .form(&[("client_id", keycard_testkit::apps::TV)]),
    )
    .await?;
    ensure!(started.status.as_u16() == 200, "{started}");
    let started = started.json()?;
    let user_code = started["user_code"].as_str().context("user_code")?;
    let device_code = started["device_code"].as_str().context("device_code")?;
    // The person opens /device (typing the address the TV shows), signs in, types the code.
    b.goto(
        started["verification_uri"]
            .as_str()
            .context("verification_uri")?,
    )
    .await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    b.wait_for_url("the device page", |u| u.ends_with("/device"))
        .await?;
    b.fill("#user_code", &user_code.to_lowercase()).await?;
    b.click("#submit").await?;
    let heading = b.text_of("#device-heading").await?;
    ensure!(heading.contains("Living-room TV"), "{heading}");
    b.click("#allow").await?;
    b.wait_for("#device-done").await?;
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let tokens = keycard_testkit::send(app.http().post(app.url("/oauth2/token")).form(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
        ("client_id", keycard_testkit::apps::TV),
    ]))
    .await?;
    ensure!(
        tokens.status.as_u16() == 200,
        "the TV got no tokens: {tokens}"
    );
    b.close().await
}

pub async fn the_account_page_takes_an_apps_access_back_and_an_app_signs_out(
    app: TestApp,
    b: Chrome,
) -> Result<()> {
    let acct = app.new_account().await?;
    let (redirect, server) = app_listener().await?;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"a verifier nobody redeems")
            .as_ref(),
    );
    let web = authorize_for(&app, keycard_testkit::apps::WEB, &redirect, &challenge, &[]);
    b.goto(&web).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    b.click("#allow").await?;
    b.wait_for_url("the app", |u| u.starts_with(&redirect))
        .await?;

    // The account page lists the app; Remove access takes it back.
    b.goto(&app.url("/account")).await?;
    let apps = b.text_of("#apps").await?;
    ensure!(apps.contains("Web shop"), "{apps}");
    b.click("#withdraw-web").await?;
    // The form answers with the account page again, without the app.
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if !b.source().await?.contains("id=\"withdraw-web\"") {
            gone = true;
            break;
        }
    }
    ensure!(gone, "the app is still listed");
    b.wait_for("#signed-in-as").await?;
    let own = app.login(&acct.email, PASSWORD).await?.access_token;
    let apps = app.bearer_get("/v1/me/apps", &own).await?.json()?;
    ensure!(apps["apps"].as_array().is_some_and(Vec::is_empty), "{apps}");

    // The app sends the person to sign out: asked first (no ID token vouches), then signed out.
    b.goto(&app.url(&format!(
        "/oauth2/logout?client_id={}",
        keycard_testkit::apps::WEB
    )))
    .await?;
    b.click("#submit").await?;
    b.wait_for("a.button[href='/login']").await?;
    let cookies = b.client.get_all_cookies().await?;
    ensure!(
        !cookies.iter().any(|c| c.name() == "__Host-keycard_session"),
        "still signed in"
    );
    server.abort();
    b.close().await
}

/// An app's sign-in for an account with two-step verification: the password, the code, and
/// — consent remembered — the second step's answer redirects through the authorization
/// endpoint straight to the app, which that page's `form-action` must allow too.
pub async fn an_app_sign_in_goes_through_the_second_step(app: TestApp, b: Chrome) -> Result<()> {
    let acct = app.new_account().await?;
    let (secret, codes) = app.set_up_totp(&acct.tokens.access_token).await?;
    let recovery = codes.first().context("no recovery code")?.clone();
    let (redirect, server) = app_listener().await?;
    // Any S256 challenge will do: the code is not redeemed here.
    let web = authorize_for(
        &app,
        keycard_testkit::apps::WEB,
        &redirect,
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        &[],
    );

    // The first time: password, code, consent, the app.
    b.goto(&web).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    b.wait_for_url("the second step", |u| u.contains("/login/second-step"))
        .await?;
    b.fill("#code", &keycard_testkit::totp_code(&secret, 30)?)
        .await?;
    b.click("#submit").await?;
    b.wait_for("#consent-heading").await?;
    b.click("#allow").await?;
    b.wait_for_url("the app", |u| u.starts_with(&redirect))
        .await?;

    // Signed out, then again: the consent is remembered, so the second step's answer is the
    // redirect to the app.
    b.sign_out(app.base_url()).await?;
    b.goto(&web).await?;
    b.wait_for_url("the sign-in page", |u| u.contains("/login"))
        .await?;
    b.submit_password(&acct.email, PASSWORD).await?;
    b.wait_for_url("the second step", |u| u.contains("/login/second-step"))
        .await?;
    b.fill("#code", &recovery).await?;
    b.click("#submit").await?;
    b.wait_for_url("the app", |u| u.starts_with(&redirect))
        .await?;
    ensure!(b.text_of("#app").await?.contains("signed in at the app"));
    server.abort();
    b.close().await
}
