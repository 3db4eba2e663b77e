//! Signing out reaches every app: RP-initiated logout (`end_session_endpoint`) and OpenID
//! Connect Back-Channel Logout to each app whose grant came from the sign-in. The apps are
//! registered per test (their back-channel URIs point at a listener of the test), so these
//! tests run in-process only.

use super::*;
use std::time::Duration;
use tokio::sync::mpsc;

backend_tests!(
    signing_out_at_one_app_signs_out_of_every_app,
    a_logout_request_is_confirmed_and_checked,
    disabling_an_account_signs_it_out_of_every_app,
);

const PORTAL_SECRET: &str = "portal-test-secret-1c3e5a7b9d2f4a6c8e0b";
const WIKI_SECRET: &str = "wiki-test-secret-9b7d5f3a1c2e4b6d8f0a";
const PORTAL_CB: &str = "https://portal.example.test/cb";
const PORTAL_BYE: &str = "https://portal.example.test/bye";
const WIKI_CB: &str = "https://wiki.example.test/cb";

/// An app's back end that records the logout tokens posted to `/bc/<app>`.
async fn receiver() -> Result<(String, mpsc::UnboundedReceiver<(String, String)>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let (tx, rx) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/bc/{app}",
        axum::routing::post(
            move |axum::extract::Path(app): axum::extract::Path<String>, body: String| {
                let tx = tx.clone();
                async move {
                    let token = url::form_urlencoded::parse(body.as_bytes())
                        .find(|(k, _)| k == "logout_token")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    let _ = tx.send((app, token));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((base, rx))
}

/// Keycard with two first-party apps that take back-channel logouts at `bc_base`.
async fn with_apps(app: TestApp, bc_base: &str) -> Result<Option<TestApp>> {
    app.reconfigure()
        .setting("clients.portal.name", "Portal")
        .setting("clients.portal.type", "confidential")
        .setting("clients.portal.secret", PORTAL_SECRET)
        .setting("clients.portal.redirect_uris", PORTAL_CB)
        .setting("clients.portal.post_logout_redirect_uris", PORTAL_BYE)
        .setting("clients.portal.first_party", "true")
        .setting(
            "clients.portal.backchannel_logout_uri",
            &format!("{bc_base}/bc/portal"),
        )
        .setting("clients.wiki.name", "Wiki")
        .setting("clients.wiki.type", "confidential")
        .setting("clients.wiki.secret", WIKI_SECRET)
        .setting("clients.wiki.redirect_uris", WIKI_CB)
        .setting("clients.wiki.first_party", "true")
        .setting("clients.wiki.id_token_alg", "EdDSA")
        .setting(
            "clients.wiki.backchannel_logout_uri",
            &format!("{bc_base}/bc/wiki"),
        )
        .start()
        .await
}

/// Signs `browser` in to a first-party app and returns its token answer.
async fn sign_in_to(
    app: &TestApp,
    browser: &Browser,
    id: &str,
    secret: &str,
    cb: &str,
) -> Result<Value> {
    let pkce = Pkce::new();
    let request = authorize_url(
        app,
        &[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", cb),
            ("scope", "openid email"),
            ("state", "st-123"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let answer = location(&browser.navigate(&request).await?)?;
    let code = code_of(app, &answer, cb).await?;
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", cb),
            ("code_verifier", &pkce.verifier),
        ],
        Some((id, secret)),
    )
    .await?
    .expect_status(200)?
    .json()
}

async fn signing_out_at_one_app_signs_out_of_every_app(app: TestApp) -> Result<()> {
    let (bc_base, mut received) = receiver().await?;
    let Some(app) = with_apps(app, &bc_base).await? else {
        return Ok(());
    };
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    // Signed in once: both apps get codes without a prompt.
    let portal = sign_in_to(&app, &browser, "portal", PORTAL_SECRET, PORTAL_CB).await?;
    let wiki = sign_in_to(&app, &browser, "wiki", WIKI_SECRET, WIKI_CB).await?;
    let id_token = portal["id_token"].as_str().context("id_token")?;
    let (_, id_claims) = crate::decode_jwt(id_token)?;

    // The portal signs the person out, vouching with its ID token: no question asked.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token);
    q.append_pair("post_logout_redirect_uri", PORTAL_BYE);
    q.append_pair("state", "bye-1");
    let reply = browser
        .navigate(&app.url(&format!("/oauth2/logout?{}", q.finish())))
        .await?;
    let back = location(&reply)?;
    ensure!(back == format!("{PORTAL_BYE}?state=bye-1"), "{back}");
    ensure!(
        browser.cookie("__Host-keycard_session").is_none(),
        "still signed in"
    );

    // Both apps hear of it, with a logout token they can check.
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let (who, token) = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .context("no back-channel logout within 10 s")?
            .context("receiver closed")?;
        let (header, claims) = crate::decode_jwt(&token)?;
        ensure!(header["typ"] == "logout+jwt", "{header}");
        super::keys::verify(&app, &token).await?;
        ensure!(claims["aud"] == who.as_str(), "{claims}");
        ensure!(
            claims["sub"] == id_claims["sub"] && claims["sid"] == id_claims["sid"],
            "{claims}"
        );
        ensure!(
            claims["iss"] == id_claims["iss"] && claims.get("nonce").is_none(),
            "{claims}"
        );
        ensure!(
            claims["events"]
                .get("http://schemas.openid.net/event/backchannel-logout")
                .is_some(),
            "{claims}"
        );
        if who == "wiki" {
            ensure!(header["alg"] == "EdDSA", "wiki registered EdDSA: {header}");
        }
        heard.push(who);
    }
    heard.sort();
    ensure!(heard == ["portal", "wiki"], "{heard:?}");
    // And their tokens are over.
    for t in [&portal, &wiki] {
        let access = t["access_token"].as_str().context("access_token")?;
        let info = app.bearer_get("/oauth2/userinfo", access).await?;
        ensure!(info.status.as_u16() == 401, "{info}");
    }
    Ok(())
}

async fn a_logout_request_is_confirmed_and_checked(app: TestApp) -> Result<()> {
    let (bc_base, _received) = receiver().await?;
    let Some(app) = with_apps(app, &bc_base).await? else {
        return Ok(());
    };
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let portal = sign_in_to(&app, &browser, "portal", PORTAL_SECRET, PORTAL_CB).await?;
    let id_token = portal["id_token"].as_str().context("id_token")?;

    // Unregistered redirect, or a client_id that is not the hint's: a page, no redirect.
    for query in [
        format!(
            "client_id=portal&post_logout_redirect_uri={}",
            "https%3A%2F%2Fevil.example%2F"
        ),
        format!("id_token_hint={id_token}&client_id=wiki"),
        "post_logout_redirect_uri=https%3A%2F%2Fportal.example.test%2Fbye".to_owned(),
        "id_token_hint=not.a.token".to_owned(),
    ] {
        let reply = browser
            .navigate(&app.url(&format!("/oauth2/logout?{query}")))
            .await?;
        ensure!(
            reply.status.as_u16() == 422 && reply.header("location").is_none(),
            "{query}: {reply}"
        );
    }
    ensure!(
        browser.cookie("__Host-keycard_session").is_some(),
        "a bad request signed out"
    );

    // Without a hint the person is asked; the answer signs out and goes back to the app.
    let url = app.url("/oauth2/logout?client_id=portal&post_logout_redirect_uri=https%3A%2F%2Fportal.example.test%2Fbye&state=s2");
    let page = browser.navigate(&url).await?.expect_status(200)?;
    ensure!(
        browser.cookie("__Host-keycard_session").is_some(),
        "asked, not yet signed out"
    );
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let mut fields = vec![("csrf".to_owned(), csrf)];
    for name in ["client_id", "post_logout_redirect_uri", "state"] {
        fields.push((
            name.to_owned(),
            field_value(&page.text, name).with_context(|| format!("no {name}"))?,
        ));
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reply = submit(&app, &browser, "/oauth2/logout", &fields).await?;
    ensure!(
        location(&reply)? == format!("{PORTAL_BYE}?state=s2"),
        "{reply:?}"
    );
    ensure!(
        browser.cookie("__Host-keycard_session").is_none(),
        "not signed out"
    );
    let access = portal["access_token"].as_str().context("access_token")?;
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 401
    );
    Ok(())
}

async fn disabling_an_account_signs_it_out_of_every_app(app: TestApp) -> Result<()> {
    let (bc_base, mut received) = receiver().await?;
    let Some(app) = with_apps(app, &bc_base).await? else {
        return Ok(());
    };
    let browser = app.browser()?;
    let email = signed_up(&app, &browser, "Ada").await?;
    let portal = sign_in_to(&app, &browser, "portal", PORTAL_SECRET, PORTAL_CB).await?;
    let (_, id_claims) = crate::decode_jwt(portal["id_token"].as_str().context("id_token")?)?;

    let admin = admin_token(&app).await?;
    let id = admin_find(&app, &admin, &email).await?["id"]
        .as_str()
        .context("id")?
        .to_owned();
    admin_set_enabled(&app, &admin, &id, false, None).await?;

    let (who, token) = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .context("no back-channel logout within 10 s")?
        .context("receiver closed")?;
    let (_, claims) = crate::decode_jwt(&token)?;
    ensure!(who == "portal", "{who}");
    ensure!(
        claims["sub"] == id.as_str() && claims["sid"] == id_claims["sid"],
        "{claims}"
    );
    Ok(())
}
