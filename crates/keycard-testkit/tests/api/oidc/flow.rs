//! The authorization code flow end to end: sign in, consent, code, tokens, userinfo, refresh;
//! single sign-on into a second app; and a replayed code revoking what it issued.

use super::*;
use keycard_testkit::apps::{DESK, DESK_REDIRECT, DESK_SECRET, SHOP, SHOP_REDIRECT};

backend_tests!(
    discovery_announces_the_endpoints_and_the_keys_verify,
    a_person_signs_in_to_an_app_with_consent_and_the_app_gets_tokens,
    a_second_app_signs_in_without_a_password_prompt,
    a_replayed_code_fails_and_revokes_what_it_issued,
);

async fn discovery_announces_the_endpoints_and_the_keys_verify(app: TestApp) -> Result<()> {
    let doc = discovery(&app).await?;
    let iss = doc["issuer"].as_str().context("issuer")?;
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        let v = doc[field]
            .as_str()
            .with_context(|| format!("{field}: {doc}"))?;
        ensure!(v.ends_with(path), "{field} = {v}");
    }
    for (field, must) in [
        ("code_challenge_methods_supported", "S256"),
        ("id_token_signing_alg_values_supported", "RS256"),
        ("response_types_supported", "code"),
        ("subject_types_supported", "public"),
        ("token_endpoint_auth_methods_supported", "none"),
    ] {
        ensure!(
            doc[field]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == must)),
            "{field} lacks {must}: {doc}"
        );
    }
    ensure!(
        !doc["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "plain")),
        "plain PKCE must not be offered"
    );
    ensure!(doc["authorization_response_iss_parameter_supported"] == true);
    // RFC 8414's well-known name answers the same document.
    let rfc8414 = app
        .get("/.well-known/oauth-authorization-server")
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(rfc8414["issuer"] == iss, "{rfc8414}");
    Ok(())
}

async fn a_person_signs_in_to_an_app_with_consent_and_the_app_gets_tokens(
    app: TestApp,
) -> Result<()> {
    let setup = app.browser()?;
    let email = signed_up(&app, &setup, "Ada Lovelace").await?;
    let browser = app.browser()?;
    let pkce = Pkce::new();
    let request = shop_request(&app, &pkce, &[]);

    // Nobody is signed in here: to the sign-in page, and back to the request after it.
    let back = sign_in_through(&app, &browser, &request, &email).await?;
    ensure!(back.contains("/oauth2/authorize?"), "after sign-in: {back}");
    // A third-party app: the person is asked, with the app's name and what it asks for.
    let page = browser.navigate(&back).await?.expect_status(200)?;
    ensure!(page.text.contains("Shop"), "the app's name: {page}");
    ensure!(
        page.text.contains("See your email address"),
        "the scopes: {page}"
    );
    ensure!(
        page.header("cache-control") == Some("no-store"),
        "the consent page is not cached"
    );
    let answer = answer_consent(&app, &browser, &back, "allow").await?;
    let code = code_of(&app, &answer, SHOP_REDIRECT).await?;

    let reply = shop_redeem(&app, &code, &pkce).await?;
    ensure!(reply.status.as_u16() == 200, "{reply}");
    ensure!(
        reply.header("cache-control") == Some("no-store"),
        "{reply:?}"
    );
    let tokens = reply.json()?;
    ensure!(tokens["token_type"] == "Bearer", "{tokens}");
    let scope = tokens["scope"].as_str().unwrap_or_default();
    ensure!(
        scope.contains("openid") && scope.contains("email"),
        "{tokens}"
    );

    // The ID token: RS256 by default, for this app, with the nonce and how the person signed in.
    let id_token = tokens["id_token"].as_str().context("id_token")?;
    let (header, claims) = crate::decode_jwt(id_token)?;
    ensure!(header["alg"] == "RS256", "{header}");
    super::keys::verify(&app, id_token).await?;
    let iss = issuer(&app).await?;
    ensure!(claims["iss"] == iss.as_str(), "{claims}");
    ensure!(claims["aud"] == SHOP && claims["azp"] == SHOP, "{claims}");
    ensure!(claims["nonce"] == "n-456", "{claims}");
    ensure!(claims["email"] == email.as_str(), "{claims}");
    ensure!(claims["email_verified"] == false, "{claims}");
    ensure!(claims["name"] == "Ada Lovelace", "{claims}");
    ensure!(claims["amr"] == serde_json::json!(["pwd"]), "{claims}");
    ensure!(
        claims["auth_time"].is_i64() && claims["sid"].is_string(),
        "{claims}"
    );
    let access = tokens["access_token"].as_str().context("access_token")?;
    ensure!(
        claims["at_hash"] == super::keys::at_hash_rs256(access).as_str(),
        "at_hash: {claims}"
    );
    // The access token: RFC 9068, for this app, the same subject.
    let (at_header, at) = crate::decode_jwt(access)?;
    ensure!(at_header["typ"] == "at+jwt", "{at_header}");
    super::keys::verify(&app, access).await?;
    ensure!(
        at["aud"] == SHOP && at["client_id"] == SHOP && at["sub"] == claims["sub"],
        "{at}"
    );
    ensure!(at["jti"].is_string() && at["scope"] == scope, "{at}");
    // It is no key to Keycard's own API.
    let me = app.bearer_get("/v1/me", access).await?;
    ensure!(me.status.as_u16() == 401, "an app's token on /v1/me: {me}");

    let info = app.bearer_get("/oauth2/userinfo", access).await?;
    ensure!(info.status.as_u16() == 200, "{info}");
    let info = info.json()?;
    ensure!(
        info["sub"] == claims["sub"] && info["email"] == email.as_str(),
        "{info}"
    );

    // Refresh: a new pair; the spent token then fails and ends the grant.
    let refresh = tokens["refresh_token"].as_str().context("refresh_token")?;
    let again = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", SHOP),
        ],
        None,
    )
    .await?;
    ensure!(again.status.as_u16() == 200, "{again}");
    let again = again.json()?;
    let (_, second) = crate::decode_jwt(again["id_token"].as_str().context("id_token")?)?;
    ensure!(
        second["sub"] == claims["sub"] && second["auth_time"] == claims["auth_time"],
        "{second}"
    );
    ensure!(
        second.get("nonce").is_none(),
        "a refreshed ID token has no nonce: {second}"
    );
    let newer = again["access_token"].as_str().context("access_token")?;
    ensure!(
        app.bearer_get("/oauth2/userinfo", newer)
            .await?
            .status
            .as_u16()
            == 200
    );
    // Rotated once more, the first token is history; presenting it again is theft (a retry of
    // the latest rotation would get its answer again, DESIGN.md §4).
    let next = again["refresh_token"].as_str().context("refresh_token")?;
    let third = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", next),
            ("client_id", SHOP),
        ],
        None,
    )
    .await?;
    ensure!(third.status.as_u16() == 200, "{third}");
    let newer = third.json()?["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned();
    let newer = newer.as_str();
    let reuse = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", SHOP),
        ],
        None,
    )
    .await?;
    ensure!(oauth_error(&reuse)? == "invalid_grant", "{reuse}");
    let ended = app.bearer_get("/oauth2/userinfo", newer).await?;
    ensure!(
        ended.status.as_u16() == 401,
        "the grant ended with the reuse: {ended}"
    );

    // The consent is remembered: the next request answers at once.
    let pkce = Pkce::new();
    let answer = location(&browser.navigate(&shop_request(&app, &pkce, &[])).await?)?;
    code_of(&app, &answer, SHOP_REDIRECT).await?;
    Ok(())
}

async fn a_second_app_signs_in_without_a_password_prompt(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let email = signed_up(&app, &browser, "Grace Hopper").await?;
    // Already signed in here (at Keycard): `desk`, first-party, answers at once with a code.
    let request = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", DESK),
            ("redirect_uri", DESK_REDIRECT),
            ("nonce", "n-desk"),
            ("scope", "openid email"),
            ("state", "st-123"),
        ],
    );
    let answer = location(&browser.navigate(&request).await?)?;
    let code = code_of(&app, &answer, DESK_REDIRECT).await?;
    // A confidential client authenticates with its secret (Basic here).
    let reply = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DESK_REDIRECT),
        ],
        Some((DESK, DESK_SECRET)),
    )
    .await?;
    ensure!(reply.status.as_u16() == 200, "{reply}");
    let tokens = reply.json()?;
    let id_token = tokens["id_token"].as_str().context("id_token")?;
    let (header, claims) = crate::decode_jwt(id_token)?;
    ensure!(header["alg"] == "ES256", "desk registered ES256: {header}");
    super::keys::verify(&app, id_token).await?;
    ensure!(
        claims["email"] == email.as_str() && claims.get("name").is_none(),
        "{claims}"
    );
    ensure!(claims["nonce"] == "n-desk", "{claims}");

    // prompt=login asks again even though the session is there.
    let request = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", DESK),
            ("redirect_uri", DESK_REDIRECT),
            ("nonce", "n-desk"),
            ("scope", "openid"),
            ("state", "st-123"),
            ("prompt", "login"),
            ("login_hint", &email),
        ],
    );
    let to_login = absolute(&app, &location(&browser.navigate(&request).await?)?);
    ensure!(
        to_login.contains("/login?") && to_login.contains("prompt=login"),
        "{to_login}"
    );
    let page = browser.navigate(&to_login).await?.expect_status(200)?;
    ensure!(
        page.text.contains(&format!("value=\"{email}\"")),
        "login_hint fills the form"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let back = sign_in_through(&app, &browser, &request, &email).await?;
    let answer = location(&browser.navigate(&back).await?)?;
    let code = code_of(&app, &answer, DESK_REDIRECT).await?;
    let reply = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DESK_REDIRECT),
            ("client_id", DESK),
            ("client_secret", DESK_SECRET),
        ],
        None,
    )
    .await?;
    ensure!(reply.status.as_u16() == 200, "client_secret_post: {reply}");
    let (_, fresh) = crate::decode_jwt(reply.json()?["id_token"].as_str().context("id_token")?)?;
    ensure!(
        fresh["auth_time"].as_i64() > claims["auth_time"].as_i64(),
        "the second sign-in is newer: {fresh} vs {claims}"
    );
    Ok(())
}

async fn a_replayed_code_fails_and_revokes_what_it_issued(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    signed_up(&app, &browser, "Alan Turing").await?;
    let pkce = Pkce::new();
    let back = shop_request(&app, &pkce, &[]);
    let answer = answer_consent(&app, &browser, &back, "allow").await?;
    let code = code_of(&app, &answer, SHOP_REDIRECT).await?;

    // N redemptions at once: exactly one wins.
    let attempts = futures::future::join_all((0..6).map(|_| shop_redeem(&app, &code, &pkce))).await;
    let mut won = Vec::new();
    for r in attempts {
        let r = r?;
        match r.status.as_u16() {
            200 => won.push(r.json()?),
            400 => ensure!(oauth_error(&r)? == "invalid_grant", "{r}"),
            _ => bail!("unexpected answer to a concurrent redemption: {r}"),
        }
    }
    ensure!(
        won.len() == 1,
        "{} redemptions of one code succeeded",
        won.len()
    );
    // The replays revoked the grant: its tokens no longer work.
    let access = won[0]["access_token"].as_str().context("access_token")?;
    let info = app.bearer_get("/oauth2/userinfo", access).await?;
    ensure!(
        info.status.as_u16() == 401,
        "the code's grant survived its replay: {info}"
    );
    let refresh = won[0]["refresh_token"].as_str().context("refresh_token")?;
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", SHOP),
        ],
        None,
    )
    .await?;
    ensure!(oauth_error(&r)? == "invalid_grant", "{r}");
    Ok(())
}
