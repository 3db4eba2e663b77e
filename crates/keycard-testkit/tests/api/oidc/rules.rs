//! The provider's rules, one refusal at a time: exact redirect URIs, where errors may go, PKCE,
//! prompt, codes bound to their client and request, client authentication, grants.

use super::*;
use keycard_testkit::apps::{
    DESK, DESK_SECRET, ORDERS, ORDERS_SECRET, SHOP, SHOP_LOOPBACK, SHOP_REDIRECT,
};
use serde_json::json;

backend_tests!(
    redirect_uris_are_compared_exactly_and_unknown_ones_get_a_page,
    request_errors_go_back_to_the_app,
    prompt_none_never_shows_a_page,
    denying_consent_tells_the_app,
    codes_are_bound_to_their_client_redirect_and_verifier,
    the_token_endpoint_authenticates_clients_and_refuses_other_grants,
    a_back_end_service_gets_a_token_as_itself,
    browser_apps_may_call_the_json_endpoints_but_never_authorize,
    a_code_expires,
    an_app_asking_for_two_factors_gets_the_second_step,
);

async fn redirect_uris_are_compared_exactly_and_unknown_ones_get_a_page(
    app: TestApp,
) -> Result<()> {
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let pkce = Pkce::new();
    let with_redirect = |uri: &str| {
        authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", SHOP),
                ("redirect_uri", uri),
                ("scope", "openid"),
                ("state", "st-123"),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    for bad in [
        "https://shop.example.test/cb/",
        "https://shop.example.test/CB",
        "https://SHOP.example.test/cb",
        "https://shop.example.test:8443/cb",
        "https://shop.example.test/cb/extra",
        "https://user@shop.example.test/cb",
        "https://shop.example.test/cb?x=1",
        "https://shop.example.test/cb#x",
        "https://evil.example/cb",
        "http://127.0.0.1:4000/other",
    ] {
        let reply = browser.navigate(&with_redirect(bad)).await?;
        ensure!(reply.status.as_u16() == 422, "{bad}: {reply}");
        ensure!(
            reply.header("location").is_none(),
            "{bad} was redirected to"
        );
        ensure!(
            reply.text.contains("<html"),
            "{bad}: a page for people: {reply}"
        );
    }
    // Unknown client: a page, never a redirect.
    let unknown = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", "nobody"),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "openid"),
        ],
    );
    let reply = browser.navigate(&unknown).await?;
    ensure!(
        reply.status.is_client_error() && reply.header("location").is_none(),
        "{reply}"
    );
    // A native app's loopback redirect may use any port (asked silently, so the answer comes
    // straight back: consent is required).
    let reply = browser
        .navigate(&format!(
            "{}&prompt=none",
            with_redirect("http://127.0.0.1:53124/cb")
        ))
        .await?;
    let loc = location(&reply)?;
    ensure!(loc.starts_with("http://127.0.0.1:53124/cb?"), "{loc}");
    ensure!(SHOP_LOOPBACK.starts_with("http://127.0.0.1/"));
    // A parameter sent twice is refused.
    let twice = format!("{}&scope=openid", with_redirect(SHOP_REDIRECT));
    let reply = browser.navigate(&twice).await?;
    ensure!(
        reply.status.is_client_error() && reply.header("location").is_none(),
        "{reply}"
    );
    Ok(())
}

async fn request_errors_go_back_to_the_app(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let pkce = Pkce::new();
    for (extra, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", "")], "invalid_request"),
        (
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
    ] {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", SHOP),
            ("redirect_uri", SHOP_REDIRECT),
            ("scope", "openid"),
            ("state", "st-123"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in &extra {
            params.retain(|(p, _)| p != k);
            params.push((k, v));
        }
        let reply = browser.navigate(&authorize_url(&app, &params)).await?;
        let loc = location(&reply)?;
        ensure!(loc.starts_with(SHOP_REDIRECT), "{extra:?}: {loc}");
        let q = query_of(&loc)?;
        ensure!(
            q.get("error").map(String::as_str) == Some(error),
            "{extra:?}: {loc}"
        );
        ensure!(
            q.get("state").map(String::as_str) == Some("st-123"),
            "{loc}"
        );
        ensure!(q.contains_key("iss"), "{loc}");
    }
    Ok(())
}

async fn prompt_none_never_shows_a_page(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let pkce = Pkce::new();
    let silent = shop_request(&app, &pkce, &[("prompt", "none")]);
    let loc = location(&browser.navigate(&silent).await?)?;
    ensure!(
        query_of(&loc)?.get("error").map(String::as_str) == Some("login_required"),
        "{loc}"
    );
    // Signed in, but the third-party app was never allowed.
    signed_up(&app, &browser, "Ada").await?;
    let loc = location(&browser.navigate(&silent).await?)?;
    ensure!(
        query_of(&loc)?.get("error").map(String::as_str) == Some("consent_required"),
        "{loc}"
    );
    // max_age=0 with an old enough sign-in: a new one is required, and silently that fails.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let old = shop_request(&app, &pkce, &[("prompt", "none"), ("max_age", "0")]);
    let loc = location(&browser.navigate(&old).await?)?;
    ensure!(
        query_of(&loc)?.get("error").map(String::as_str) == Some("login_required"),
        "{loc}"
    );
    Ok(())
}

async fn denying_consent_tells_the_app(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let pkce = Pkce::new();
    let answer = answer_consent(&app, &browser, &shop_request(&app, &pkce, &[]), "deny").await?;
    let q = query_of(&answer)?;
    ensure!(answer.starts_with(SHOP_REDIRECT), "{answer}");
    ensure!(
        q.get("error").map(String::as_str) == Some("access_denied"),
        "{answer}"
    );
    ensure!(!q.contains_key("code"), "{answer}");
    // A consent form from another site is refused.
    let page = browser
        .navigate(&shop_request(&app, &pkce, &[]))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let request = field_value(&page.text, "request").context("request")?;
    let url = app.url("/oauth2/consent");
    let forged = browser
        .send(
            browser
                .request(Method::POST, &url)
                .header("origin", "https://evil.example")
                .header("accept", "text/html")
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("request", &request),
                    ("decision", "allow"),
                ]),
            &url,
        )
        .await?;
    ensure!(
        forged.status.as_u16() == 403 && forged.header("location").is_none(),
        "{forged}"
    );
    Ok(())
}

async fn codes_are_bound_to_their_client_redirect_and_verifier(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let pkce = Pkce::new();
    let answer = answer_consent(&app, &browser, &shop_request(&app, &pkce, &[]), "allow").await?;
    let code = code_of(&app, &answer, SHOP_REDIRECT).await?;
    let attempt = |form: Vec<(&'static str, String)>,
                   basic: Option<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(app, &form, basic).await
        }
    };
    let base = |verifier: &str, redirect: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("client_id", SHOP.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    // Wrong verifier, another redirect URI, no verifier, another client: all invalid_grant,
    // none spends the code.
    let other = Pkce::new();
    for (what, form, basic) in [
        (
            "a wrong verifier",
            base(&other.verifier, SHOP_REDIRECT),
            None,
        ),
        (
            "another redirect_uri",
            base(&pkce.verifier, "http://127.0.0.1/cb"),
            None,
        ),
        (
            "no verifier",
            base(&pkce.verifier, SHOP_REDIRECT)
                .into_iter()
                .filter(|(k, _)| *k != "code_verifier")
                .collect(),
            None,
        ),
        (
            "another client",
            base(&pkce.verifier, SHOP_REDIRECT)
                .into_iter()
                .filter(|(k, _)| *k != "client_id")
                .collect(),
            Some((DESK, DESK_SECRET)),
        ),
    ] {
        let r = attempt(form, basic).await?;
        ensure!(r.status.as_u16() == 400, "{what}: {r}");
        ensure!(oauth_error(&r)? == "invalid_grant", "{what}: {r}");
        ensure!(
            r.header("cache-control") == Some("no-store"),
            "{what}: {r:?}"
        );
    }
    let ok = attempt(base(&pkce.verifier, SHOP_REDIRECT), None).await?;
    ensure!(ok.status.as_u16() == 200, "the right redemption: {ok}");

    // A verifier for a code issued without a challenge is a downgrade: refused.
    let desk = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", DESK),
            ("redirect_uri", keycard_testkit::apps::DESK_REDIRECT),
            ("nonce", "n-desk"),
            ("scope", "openid"),
            ("state", "st-123"),
        ],
    );
    let answer = location(&browser.navigate(&desk).await?)?;
    let code = code_of(&app, &answer, keycard_testkit::apps::DESK_REDIRECT).await?;
    let r = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", keycard_testkit::apps::DESK_REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
        Some((DESK, DESK_SECRET)),
    )
    .await?;
    ensure!(
        oauth_error(&r)? == "invalid_grant",
        "verifier without challenge: {r}"
    );
    Ok(())
}

async fn the_token_endpoint_authenticates_clients_and_refuses_other_grants(
    app: TestApp,
) -> Result<()> {
    let r = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((DESK, "wrong-secret")),
    )
    .await?;
    ensure!(
        r.status.as_u16() == 401 && oauth_error(&r)? == "invalid_client",
        "{r}"
    );
    ensure!(r.header("www-authenticate").is_some(), "{r:?}");
    let r = token(
        &app,
        &[("grant_type", "authorization_code"), ("code", "x")],
        None,
    )
    .await?;
    ensure!(
        oauth_error(&r)? == "invalid_client",
        "no client at all: {r}"
    );
    // A public client does not get to send a secret, nor a confidential one to leave it out.
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", DESK),
        ],
        None,
    )
    .await?;
    ensure!(oauth_error(&r)? == "invalid_client", "{r}");
    // Two authentication methods at once.
    let r = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", ORDERS_SECRET),
        ],
        Some((ORDERS, ORDERS_SECRET)),
    )
    .await?;
    ensure!(oauth_error(&r)? == "invalid_request", "{r}");
    let r = token(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
        Some((DESK, DESK_SECRET)),
    )
    .await?;
    ensure!(oauth_error(&r)? == "unsupported_grant_type", "{r}");
    let r = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((DESK, DESK_SECRET)),
    )
    .await?;
    ensure!(
        oauth_error(&r)? == "unauthorized_client",
        "desk may not: {r}"
    );
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "kcrt_bogus"),
            ("client_id", SHOP),
        ],
        None,
    )
    .await?;
    ensure!(oauth_error(&r)? == "invalid_grant", "{r}");
    // A form body is required.
    let r = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/token"))
            .json(&serde_json::json!({"grant_type": "client_credentials"})),
    )
    .await?;
    ensure!(oauth_error(&r)? == "invalid_request", "{r}");
    Ok(())
}

async fn a_back_end_service_gets_a_token_as_itself(app: TestApp) -> Result<()> {
    let r = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders.read"),
        ],
        Some((ORDERS, ORDERS_SECRET)),
    )
    .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    let body = r.json()?;
    ensure!(
        body.get("refresh_token").is_none() && body.get("id_token").is_none(),
        "{body}"
    );
    let access = body["access_token"].as_str().context("access_token")?;
    super::keys::verify(&app, access).await?;
    let (_, at) = crate::decode_jwt(access)?;
    ensure!(
        at["sub"] == ORDERS && at["client_id"] == ORDERS && at["scope"] == "orders.read",
        "{at}"
    );
    let r = token(
        &app,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
        Some((ORDERS, ORDERS_SECRET)),
    )
    .await?;
    ensure!(oauth_error(&r)? == "invalid_scope", "{r}");
    // Userinfo is about a person: a service's token gets nothing there.
    let info = app.bearer_get("/oauth2/userinfo", access).await?;
    ensure!(info.status.as_u16() == 401, "{info}");
    Ok(())
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Result<Reply> {
    keycard_testkit::send(
        app.http()
            .request(Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await
}

async fn browser_apps_may_call_the_json_endpoints_but_never_authorize(app: TestApp) -> Result<()> {
    // shop's redirect URI is on https://shop.example.test: its page may call the token
    // endpoint and the others; another site may not; nobody gets CORS on navigations.
    let shop = "https://shop.example.test";
    for path in [
        "/oauth2/token",
        "/oauth2/userinfo",
        "/oauth2/revoke",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let r = preflight(&app, path, shop).await?;
        ensure!(
            r.header("access-control-allow-origin") == Some(shop),
            "{path} from {shop}: {r:?}"
        );
        let r = preflight(&app, path, "https://evil.example").await?;
        ensure!(
            r.header("access-control-allow-origin").is_none(),
            "{path} from another site: {r:?}"
        );
    }
    for path in [
        "/oauth2/authorize",
        "/oauth2/consent",
        "/oauth2/logout",
        "/login",
    ] {
        let r = preflight(&app, path, shop).await?;
        ensure!(
            r.header("access-control-allow-origin").is_none(),
            "{path}: {r:?}"
        );
    }
    // An app's origin is not Keycard's own API's.
    let r = preflight(&app, "/v1/auth/refresh", shop).await?;
    ensure!(r.header("access-control-allow-origin").is_none(), "{r:?}");
    // The real answer carries it too.
    let r = keycard_testkit::send(
        app.http()
            .get(app.url("/.well-known/openid-configuration"))
            .header("origin", shop),
    )
    .await?;
    ensure!(
        r.header("access-control-allow-origin") == Some(shop),
        "{r:?}"
    );
    Ok(())
}

async fn a_code_expires(app: TestApp) -> Result<()> {
    // The default is 60 s; the test shortens it rather than waiting.
    let Some(app) = app
        .reconfigure()
        .setting("authorization_code_ttl", "1s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let browser = app.browser()?;
    signed_up(&app, &browser, "Ada").await?;
    let pkce = Pkce::new();
    let answer = answer_consent(&app, &browser, &shop_request(&app, &pkce, &[]), "allow").await?;
    let code = code_of(&app, &answer, SHOP_REDIRECT).await?;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = shop_redeem(&app, &code, &pkce).await?;
    ensure!(
        oauth_error(&r)? == "invalid_grant",
        "an expired code was redeemed: {r}"
    );
    Ok(())
}

const MFA: &str = "urn:keycard:acr:mfa";

/// The `acr` and `amr` of the ID token in a token answer.
fn assurance(tokens: &Value) -> Result<(Value, Value)> {
    let (_, id) = crate::decode_jwt(tokens["id_token"].as_str().context("id_token")?)?;
    let (_, access) = crate::decode_jwt(tokens["access_token"].as_str().context("access")?)?;
    ensure!(
        id["acr"] == access["acr"] && id["amr"] == access["amr"],
        "the tokens disagree: {id} / {access}"
    );
    Ok((id["acr"].clone(), id["amr"].clone()))
}

async fn an_app_asking_for_two_factors_gets_the_second_step(app: TestApp) -> Result<()> {
    let discovered = discovery(&app).await?;
    ensure!(
        discovered["acr_values_supported"]
            .as_array()
            .is_some_and(|v| v.iter().any(|a| a == MFA)),
        "{discovered}"
    );
    // Without a second factor to ask for, the app gets the one-factor class and decides.
    let (_, _, tokens) = shop_tokens(&app, &[("acr_values", MFA)]).await?;
    let (acr, amr) = assurance(&tokens)?;
    ensure!(
        acr == "urn:keycard:acr:1fa" && amr == json!(["pwd"]),
        "{acr} {amr}"
    );

    // A browser signed in with the password before its owner set up an app.
    let browser = app.browser()?;
    let email = signed_up(&app, &browser, "Ada").await?;
    let token = browser.refresh().await?.expect_status(200)?.json()?;
    let token = token["access_token"].as_str().context("access token")?;
    let started = app
        .bearer_post("/v1/me/mfa/totp", token, &json!({}))
        .await?
        .expect_status(201)?
        .json()?;
    let secret = started["secret"].as_str().context("secret")?;
    app.bearer_post(
        "/v1/me/mfa/totp/confirm",
        token,
        &json!({ "code": keycard_testkit::totp_code(secret, 0)? }),
    )
    .await?
    .expect_status(200)?;
    let pkce = Pkce::new();
    // Silently, a stronger sign-in cannot be had.
    let silent = shop_request(&app, &pkce, &[("prompt", "none"), ("acr_values", MFA)]);
    let loc = location(&browser.navigate(&silent).await?)?;
    ensure!(
        query_of(&loc)?.get("error").map(String::as_str) == Some("login_required"),
        "{loc}"
    );
    // Asked for, it is: the password, then the code, then back to the request.
    let request = shop_request(&app, &pkce, &[("acr_values", MFA)]);
    let after_password = sign_in_through(&app, &browser, &request, &email).await?;
    ensure!(
        after_password.contains("/login/second-step?"),
        "{after_password}"
    );
    let step = browser
        .navigate(&after_password)
        .await?
        .expect_status(200)?;
    let csrf = field_value(&step.text, "csrf").context("csrf")?;
    let return_to = field_value(&step.text, "return_to").context("return_to")?;
    let done = submit(
        &app,
        &browser,
        "/login/second-step",
        &[
            ("csrf", &csrf),
            ("return_to", &return_to),
            ("code", &keycard_testkit::totp_code(secret, 30)?),
        ],
    )
    .await?;
    let back = absolute(&app, &location(&done)?);
    let answer = answer_consent(&app, &browser, &back, "allow").await?;
    let code = code_of(&app, &answer, SHOP_REDIRECT).await?;
    let reply = shop_redeem(&app, &code, &pkce).await?;
    ensure!(reply.status.as_u16() == 200, "{reply}");
    let (acr, amr) = assurance(&reply.json()?)?;
    ensure!(
        acr == MFA && amr == json!(["pwd", "otp", "mfa"]),
        "{acr} {amr}"
    );
    Ok(())
}
