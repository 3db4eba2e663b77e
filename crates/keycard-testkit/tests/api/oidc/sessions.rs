//! How the provider's answers follow the browser session: fresh sign-ins that cannot be faked,
//! consent answers bound to their request, native apps asked every time, and grants that end
//! with the sign-in they came from.

use super::*;
use keycard_testkit::apps::{SHOP, SHOP_REDIRECT};

backend_tests!(
    a_fresh_sign_in_cannot_be_skipped_with_a_forged_or_moved_mark,
    a_consent_answer_holds_for_its_own_request_only,
    a_native_app_is_asked_every_time,
    signing_out_ends_the_grants_of_that_sign_in_but_not_offline_ones,
    the_authorization_endpoint_takes_a_form_too,
    a_person_sees_and_withdraws_an_apps_access,
    the_account_page_ends_an_apps_grant_and_everything,
);

/// Where Keycard sends `url` (absolute).
async fn next_stop(app: &TestApp, browser: &Browser, url: &str) -> Result<String> {
    Ok(absolute(app, &location(&browser.navigate(url).await?)?))
}

async fn a_fresh_sign_in_cannot_be_skipped_with_a_forged_or_moved_mark(app: TestApp) -> Result<()> {
    let (browser, email, _) = shop_tokens(&app, &[]).await?;
    let pkce = Pkce::new();
    let fresh = shop_request(&app, &pkce, &[("prompt", "login")]);
    let to_login = next_stop(&app, &browser, &fresh).await?;
    ensure!(to_login.contains("/login?"), "{to_login}");
    // The mark Keycard put on the way back, moved to another request or forged, counts for
    // nothing: the sign-in is asked for again.
    let back = query_of(&to_login)?
        .get("return_to")
        .cloned()
        .context("return_to")?;
    let mark = query_of(&app.url(&back))?
        .get("kc_after")
        .cloned()
        .context("no kc_after on the way back")?;
    for forged in [
        format!(
            "{}&kc_after=0",
            shop_request(&app, &pkce, &[("prompt", "login")])
        ),
        format!(
            "{}&kc_after={}",
            shop_request(&app, &pkce, &[("prompt", "login"), ("nonce", "other")]),
            url::form_urlencoded::byte_serialize(mark.as_bytes()).collect::<String>()
        ),
    ] {
        let stop = next_stop(&app, &browser, &forged).await?;
        ensure!(
            stop.contains("/login?"),
            "a forged or moved mark skipped the sign-in: {stop}"
        );
    }
    // Signing in there satisfies the request.
    let back = sign_in_through(&app, &browser, &fresh, &email).await?;
    let answer = next_stop(&app, &browser, &back).await?;
    code_of(&app, &answer, SHOP_REDIRECT).await?;
    Ok(())
}

async fn a_consent_answer_holds_for_its_own_request_only(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let pkce = Pkce::new();
    let page = browser
        .navigate(&shop_request(&app, &pkce, &[("scope", "openid")]))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    // The same token with a request for more.
    let wider = query_of(&shop_request(&app, &pkce, &[]))?;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &wider {
        q.append_pair(k, v);
    }
    let reply = submit(
        &app,
        &browser,
        "/oauth2/consent",
        &[
            ("csrf", &csrf),
            ("request", &q.finish()),
            ("decision", "allow"),
        ],
    )
    .await?;
    ensure!(reply.status.as_u16() == 403, "{reply}");
    Ok(())
}

async fn a_native_app_is_asked_every_time(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let pkce = Pkce::new();
    let native = |extra: &[(&str, &str)]| {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", SHOP),
            ("redirect_uri", "http://127.0.0.1:61000/cb"),
            ("scope", "openid"),
            ("state", "st-123"),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        authorize_url(&app, &params)
    };
    let answer = answer_consent(&app, &browser, &native(&[]), "allow").await?;
    ensure!(
        answer.starts_with("http://127.0.0.1:61000/cb?code="),
        "{answer}"
    );
    // Allowed once, yet asked again: another app on the device could hold that port.
    let page = browser.navigate(&native(&[])).await?;
    ensure!(
        page.status.as_u16() == 200 && page.text.contains("id=\"allow\""),
        "{page}"
    );
    let silent = next_stop(&app, &browser, &native(&[("prompt", "none")])).await?;
    ensure!(
        query_of(&silent)?.get("error").map(String::as_str) == Some("consent_required"),
        "{silent}"
    );
    // At the app's https redirect, the consent given stands.
    let again = next_stop(
        &app,
        &browser,
        &shop_request(&app, &pkce, &[("scope", "openid")]),
    )
    .await?;
    code_of(&app, &again, SHOP_REDIRECT).await?;
    Ok(())
}

async fn sign_out(app: &TestApp, browser: &Browser) -> Result<()> {
    let page = browser
        .navigate(&app.url("/logout"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf on /logout")?;
    let reply = submit(app, browser, "/logout", &[("csrf", &csrf)]).await?;
    ensure!(
        reply.status.is_success() || reply.status.is_redirection(),
        "{reply}"
    );
    Ok(())
}

async fn signing_out_ends_the_grants_of_that_sign_in_but_not_offline_ones(
    app: TestApp,
) -> Result<()> {
    let (browser, _, online) = shop_tokens(&app, &[("scope", "openid email")]).await?;
    let online = online["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned();
    let pkce = Pkce::new();
    let answer = answer_consent(&app, &browser, &shop_request(&app, &pkce, &[]), "allow").await?;
    let code = code_of(&app, &answer, SHOP_REDIRECT).await?;
    let offline = shop_redeem(&app, &code, &pkce)
        .await?
        .expect_status(200)?
        .json()?;
    let offline = offline["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned();
    // A code approved but not yet redeemed when the person signs out.
    let pending_pkce = Pkce::new();
    let pending = next_stop(&app, &browser, &shop_request(&app, &pending_pkce, &[])).await?;
    let pending = code_of(&app, &pending, SHOP_REDIRECT).await?;

    sign_out(&app, &browser).await?;
    let info = app.bearer_get("/oauth2/userinfo", &online).await?;
    ensure!(
        info.status.as_u16() == 401,
        "the grant outlived its sign-in: {info}"
    );
    let info = app.bearer_get("/oauth2/userinfo", &offline).await?;
    ensure!(
        info.status.as_u16() == 200,
        "offline_access outlives the sign-in: {info}"
    );
    let late = shop_redeem(&app, &pending, &pending_pkce).await?;
    ensure!(
        oauth_error(&late)? == "invalid_grant",
        "a code from a signed-out session: {late}"
    );
    Ok(())
}

async fn the_authorization_endpoint_takes_a_form_too(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let pkce = Pkce::new();
    let get = shop_request(&app, &pkce, &[]);
    let pairs: Vec<(String, String)> = query_of(&get)?.into_iter().collect();
    let url = app.url("/oauth2/authorize");
    let reply = browser
        .send(browser.request(Method::POST, &url).form(&pairs), &url)
        .await?;
    let to = absolute(&app, &location(&reply)?);
    ensure!(to.contains("/oauth2/authorize?"), "{to}");
    let mut got: Vec<(String, String)> = query_of(&to)?.into_iter().collect();
    let mut want = pairs.clone();
    got.sort();
    want.sort();
    ensure!(got == want, "the form's parameters: {got:?} vs {want:?}");
    Ok(())
}

async fn a_person_sees_and_withdraws_an_apps_access(app: TestApp) -> Result<()> {
    let (browser, email, tokens) = shop_tokens(&app, &[]).await?;
    let own = app.login(&email, PASSWORD).await?.access_token;
    let apps = app
        .bearer_get("/v1/me/apps", &own)
        .await?
        .expect_status(200)?
        .json()?;
    let listed = &apps["apps"][0];
    ensure!(
        listed["client_id"] == SHOP && listed["name"] == "Shop",
        "{apps}"
    );
    ensure!(
        listed["scopes"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "email")),
        "{apps}"
    );
    // The grant is in the session list, named for its app, on the device it was allowed from.
    let sessions = app
        .bearer_get("/v1/me/sessions", &own)
        .await?
        .expect_status(200)?
        .json()?;
    let grant = sessions["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["kind"] == "grant")
        .with_context(|| format!("no grant listed: {sessions}"))?;
    ensure!(
        grant["client_id"] == SHOP && grant["app"] == "Shop",
        "{grant}"
    );
    ensure!(grant["amr"] == serde_json::json!(["pwd"]), "{grant}");

    let r = app.bearer_delete("/v1/me/apps/shop", &own).await?;
    ensure!(r.status.as_u16() == 204, "{r}");
    let access = tokens["access_token"].as_str().context("access_token")?;
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 401
    );
    let apps = app.bearer_get("/v1/me/apps", &own).await?.json()?;
    ensure!(apps["apps"].as_array().is_some_and(Vec::is_empty), "{apps}");
    // Asked again next time.
    let pkce = Pkce::new();
    let page = browser.navigate(&shop_request(&app, &pkce, &[])).await?;
    ensure!(
        page.status.as_u16() == 200 && page.text.contains("id=\"allow\""),
        "{page}"
    );
    let r = app.bearer_delete("/v1/me/apps/shop", &own).await?;
    ensure!(r.status.as_u16() == 404, "{r}");
    Ok(())
}

async fn the_account_page_ends_an_apps_grant_and_everything(app: TestApp) -> Result<()> {
    let (browser, _, tokens) = shop_tokens(&app, &[]).await?;
    let access = tokens["access_token"].as_str().context("access_token")?;
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(
        page.text.contains("id=\"apps\"") && page.text.contains("Shop"),
        "{page}"
    );
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    // The grant's line has its own button.
    let at = page
        .text
        .find("action=\"/account/sessions/")
        .context("no end button")?;
    let rest = &page.text[at + "action=\"".len()..];
    let action = &rest[..rest.find('"').context("action")?];
    let reply = submit(&app, &browser, action, &[("csrf", &csrf)]).await?;
    ensure!(location(&reply)? == "/account", "{reply}");
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 401
    );

    // Remove access: the consent goes too.
    let reply = submit(
        &app,
        &browser,
        "/account/apps/shop/withdraw",
        &[("csrf", &csrf)],
    )
    .await?;
    ensure!(location(&reply)? == "/account", "{reply}");
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(
        !page.text.contains("id=\"apps\""),
        "the app is still listed"
    );

    // Sign out everywhere, this browser included.
    let reply = submit(
        &app,
        &browser,
        "/account/sessions/end-all",
        &[("csrf", &csrf)],
    )
    .await?;
    ensure!(reply.status.as_u16() == 200, "{reply}");
    ensure!(
        browser.cookie("__Host-keycard_session").is_none(),
        "still signed in"
    );
    Ok(())
}
