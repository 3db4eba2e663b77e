//! The hosted pages over HTTP, as a browser without JavaScript uses them: forms with their tokens,
//! cookies, redirects, languages, and the refusals (a form from another site, a foreign
//! `return_to`). The same flows run in a real browser in the `browser` suite.

use anyhow::{Context, Result, ensure};
use keycard_testkit::{Browser, PASSWORD, Reply, TestApp, field_value, location, unique_email};
use reqwest::Method;

backend_tests!(
    the_login_page_is_small_safe_and_speaks_the_visitors_language,
    signing_up_on_the_page_opens_a_browser_session,
    a_wrong_password_shows_the_form_again_with_a_message,
    forms_from_another_site_or_without_their_token_are_refused,
    names_are_rendered_inert,
    signing_out_ends_the_browser_session,
    return_to_must_be_keycard_or_an_allowed_origin,
    a_signed_in_browser_skips_the_form,
    ending_every_session_ends_the_browser_session_too,
    an_idle_browser_session_ends,
);

/// Posts a form as a browser does from Keycard's own page (with its `Origin`).
pub(crate) async fn submit(
    app: &TestApp,
    browser: &Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> Result<Reply> {
    let url = app.url(path);
    browser
        .send(
            browser
                .request(Method::POST, &url)
                .header("origin", app.base_url())
                .header("accept", "text/html")
                .form(fields),
            &url,
        )
        .await
}

/// Opens `path` and returns the page's form token.
async fn form_token(app: &TestApp, browser: &Browser, path: &str) -> Result<String> {
    let page = browser.navigate(&app.url(path)).await?.expect_status(200)?;
    field_value(&page.text, "csrf").with_context(|| format!("no csrf field on {path}: {page}"))
}

/// Signs up on the page; returns the email.
async fn sign_up(app: &TestApp, browser: &Browser, name: &str) -> Result<String> {
    let csrf = form_token(app, browser, "/register?return_to=/account").await?;
    let email = unique_email();
    let reply = submit(
        app,
        browser,
        "/register",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("name", name),
            ("email", &email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    ensure!(
        reply.status.as_u16() == 303,
        "sign-up did not redirect: {reply}"
    );
    assert_eq!(location(&reply)?, app.url("/account"));
    Ok(email)
}

async fn the_login_page_is_small_safe_and_speaks_the_visitors_language(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let page = browser
        .navigate(&app.url("/login"))
        .await?
        .expect_status(200)?;
    ensure!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    for part in [
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "'nonce-",
    ] {
        ensure!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    ensure!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    ensure!(page.header("x-content-type-options") == Some("nosniff"));
    // `no-referrer` would make browsers send `Origin: null` with the forms (refused).
    ensure!(page.header("referrer-policy") == Some("same-origin"));
    // One form, labelled fields with the autocomplete hints password managers need. (This
    // server's pages are on an IP address, where browsers run no passkey ceremony: no passkey
    // form or script; the browser suite has them at localhost.)
    ensure!(page.text.matches("<form").count() == 1, "{page}");
    ensure!(
        !page.text.contains("passkeys.js") && csp.contains("connect-src 'self'"),
        "{page}"
    );
    for needle in [
        "<label for=\"email\"",
        "autocomplete=\"email webauthn\"",
        "<label for=\"password\"",
        "autocomplete=\"current-password\"",
        "type=\"submit\"",
    ] {
        ensure!(page.text.contains(needle), "login page lacks {needle}");
    }
    // Nothing from another origin: every src and href is a path on Keycard.
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        ensure!(!page.text.contains(attr), "the page loads {attr}…");
    }
    // The page and its stylesheet together stay under 30 KB.
    let css = browser
        .navigate(&app.url("/assets/keycard.css"))
        .await?
        .expect_status(200)?;
    ensure!(page.text.len() + css.text.len() < 30 * 1024);
    let cookie = browser
        .cookie("__Host-keycard_browser")
        .context("browser cookie")?;
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        ensure!(cookie.has(attr), "browser cookie lacks {attr}");
    }
    // Spanish from Accept-Language, or from ui_locales over it.
    let es = browser
        .send(
            browser
                .request(Method::GET, &app.url("/login"))
                .header("accept-language", "es-MX,es;q=0.9,en;q=0.5"),
            &app.url("/login"),
        )
        .await?;
    ensure!(
        es.text.contains("lang=\"es\"") && es.text.contains("Contraseña"),
        "{es}"
    );
    let ui = browser
        .navigate(&app.url("/login?ui_locales=es"))
        .await?
        .expect_status(200)?;
    ensure!(ui.text.contains("Iniciar sesión"), "{ui}");
    Ok(())
}

async fn signing_up_on_the_page_opens_a_browser_session(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let email = sign_up(&app, &browser, "Ada Lovelace").await?;
    let session = browser
        .cookie("__Host-keycard_session")
        .context("session cookie")?;
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        ensure!(session.has(attr), "session cookie lacks {attr}");
    }
    let account = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(
        account.text.contains(&email) && account.text.contains("Ada Lovelace"),
        "{account}"
    );
    // Its own activity, in words: the sign-up and its sign-in.
    ensure!(
        account.text.contains("id=\"events\"")
            && account.text.contains("Account created")
            && account.text.contains("Signed in"),
        "{account}"
    );
    // The session is listed with the others, as a browser session.
    let token = browser.refresh().await?.expect_status(200)?.json()?["access_token"]
        .as_str()
        .context("access token")?
        .to_owned();
    let list = app
        .bearer_get("/v1/me/sessions", &token)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        list["sessions"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["kind"] == "browser")),
        "{list}"
    );
    // And the same account signs in with its password on the page.
    let other = app.browser()?;
    let csrf = form_token(&app, &other, "/login").await?;
    let reply = submit(
        &app,
        &other,
        "/login",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("email", &email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    ensure!(reply.status.as_u16() == 303, "{reply}");
    ensure!(other.cookie("__Host-keycard_session").is_some());
    Ok(())
}

async fn a_wrong_password_shows_the_form_again_with_a_message(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let browser = app.browser()?;
    let csrf = form_token(&app, &browser, "/login").await?;
    let reply = submit(
        &app,
        &browser,
        "/login",
        &[
            ("csrf", &csrf),
            ("email", &acct.email),
            ("password", "not the password at all"),
        ],
    )
    .await?;
    assert_eq!(reply.status.as_u16(), 401, "{reply}");
    ensure!(reply.text.contains("role=\"alert\""), "{reply}");
    ensure!(field_value(&reply.text, "email").as_deref() == Some(acct.email.as_str()));
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    Ok(())
}

async fn forms_from_another_site_or_without_their_token_are_refused(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let browser = app.browser()?;
    let csrf = form_token(&app, &browser, "/login").await?;
    let fields = [
        ("csrf", csrf.as_str()),
        ("email", &acct.email),
        ("password", PASSWORD),
    ];
    let url = app.url("/login");
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = browser
            .send(
                browser
                    .request(Method::POST, &url)
                    .header(name, value)
                    .form(&fields),
                &url,
            )
            .await?;
        assert_eq!(r.status.as_u16(), 403, "{name}: {r}");
        ensure!(r.text.contains("csrf_rejected"), "{r}");
    }
    // No token, or another browser's token.
    let r = submit(
        &app,
        &browser,
        "/login",
        &[("email", &acct.email), ("password", PASSWORD)],
    )
    .await?;
    assert_eq!(r.status.as_u16(), 403, "{r}");
    let other = app.browser()?;
    let theirs = form_token(&app, &other, "/login").await?;
    let r = submit(
        &app,
        &browser,
        "/login",
        &[
            ("csrf", &theirs),
            ("email", &acct.email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    assert_eq!(r.status.as_u16(), 403, "{r}");
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    Ok(())
}

async fn names_are_rendered_inert(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_up(&app, &browser, "<script>alert(1)</script>").await?;
    let account = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(!account.text.contains("<script>alert(1)"), "{account}");
    // Shown as text, escaped (askama writes `<` as `&#60;`).
    ensure!(
        account
            .text
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || account
                .text
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{account}"
    );
    Ok(())
}

async fn signing_out_ends_the_browser_session(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_up(&app, &browser, "Grace").await?;
    // A GET alone signs nobody out: it asks.
    let ask = browser
        .navigate(&app.url("/logout"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&ask.text, "csrf").context("logout form token")?;
    ensure!(browser.refresh().await?.status.is_success());
    let done = submit(&app, &browser, "/logout", &[("csrf", &csrf)]).await?;
    assert_eq!(done.status.as_u16(), 200, "{done}");
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    let account = browser.navigate(&app.url("/account")).await?;
    ensure!(location(&account)?.starts_with("/login"), "{account:?}");
    Ok(())
}

async fn return_to_must_be_keycard_or_an_allowed_origin(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "javascript:alert(1)",
    ] {
        let mut url = reqwest::Url::parse(&app.url("/login"))?;
        url.query_pairs_mut().append_pair("return_to", bad);
        let r = browser.navigate(url.as_str()).await?;
        assert_eq!(r.status.as_u16(), 422, "{bad}: {r}");
        ensure!(r.header("location").is_none() && r.text.contains("invalid_return_to"));
    }
    Ok(())
}

async fn a_signed_in_browser_skips_the_form(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_up(&app, &browser, "Alan").await?;
    let r = browser
        .navigate(&app.url("/login?return_to=/account"))
        .await?;
    assert_eq!(r.status.as_u16(), 303, "{r}");
    assert_eq!(location(&r)?, app.url("/account"));
    Ok(())
}

async fn ending_every_session_ends_the_browser_session_too(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let email = sign_up(&app, &browser, "Edsger").await?;
    let api = app.login(&email, PASSWORD).await?;
    app.bearer_post(
        "/v1/auth/logout-all",
        &api.access_token,
        &serde_json::json!({}),
    )
    .await?
    .expect_status(200)?;
    let r = browser.navigate(&app.url("/account")).await?;
    ensure!(location(&r)?.starts_with("/login"), "{r:?}");
    Ok(())
}

async fn an_idle_browser_session_ends(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .setting("browser_session_idle_timeout", "2s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let browser = app.browser()?;
    sign_up(&app, &browser, "Barbara").await?;
    browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let r = browser.navigate(&app.url("/account")).await?;
    ensure!(location(&r)?.starts_with("/login"), "{r:?}");
    // Its refresh cookie died with it.
    browser
        .refresh()
        .await?
        .expect_problem(401, "invalid_refresh_token")?;
    Ok(())
}
