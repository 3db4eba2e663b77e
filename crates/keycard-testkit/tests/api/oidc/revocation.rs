//! Revocation (RFC 7009) and introspection (RFC 7662): an app ends its own grant, a resource
//! server asks whether a token still holds.

use super::*;
use keycard_testkit::apps::{DESK, DESK_SECRET, SHOP};

backend_tests!(
    introspection_answers_resource_servers,
    an_app_revokes_its_grant_and_only_its_own,
);

async fn introspect(app: &TestApp, token: &str, basic: (&str, &str)) -> Result<Reply> {
    let mut req = app
        .http()
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", token)]);
    req = req.basic_auth(basic.0, Some(basic.1));
    keycard_testkit::send(req).await
}

async fn introspection_answers_resource_servers(app: TestApp) -> Result<()> {
    let (_, _, tokens) = shop_tokens(&app, &[]).await?;
    let access = tokens["access_token"].as_str().context("access_token")?;
    let r = introspect(&app, access, (DESK, DESK_SECRET)).await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    ensure!(r.header("cache-control") == Some("no-store"), "{r:?}");
    let body = r.json()?;
    ensure!(
        body["active"] == true && body["client_id"] == SHOP,
        "{body}"
    );
    ensure!(
        body["sub"].is_string() && body["exp"].is_i64() && body["scope"].is_string(),
        "{body}"
    );
    for bogus in ["not-a-token", "a.b.c", ""] {
        let r = introspect(&app, bogus, (DESK, DESK_SECRET)).await?;
        if bogus.is_empty() {
            ensure!(oauth_error(&r)? == "invalid_request", "{r}");
            continue;
        }
        ensure!(
            r.json()? == serde_json::json!({ "active": false }),
            "{bogus}: {r}"
        );
    }
    // Keycard's own access tokens are no app's.
    let own = app.new_account().await?.tokens.access_token;
    let r = introspect(&app, &own, (DESK, DESK_SECRET)).await?;
    ensure!(r.json()?["active"] == false, "{r}");
    // Only confidential clients introspect; a wrong secret is no client.
    let r = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/introspect"))
            .form(&[("token", access), ("client_id", SHOP)]),
    )
    .await?;
    ensure!(oauth_error(&r)? == "unauthorized_client", "{r}");
    let r = introspect(&app, access, (DESK, "wrong")).await?;
    ensure!(r.status.as_u16() == 401, "{r}");
    Ok(())
}

async fn revoke(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Result<Reply> {
    let mut req = app.http().post(app.url("/oauth2/revoke")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    keycard_testkit::send(req).await
}

async fn an_app_revokes_its_grant_and_only_its_own(app: TestApp) -> Result<()> {
    let (_, _, tokens) = shop_tokens(&app, &[]).await?;
    let access = tokens["access_token"].as_str().context("access_token")?;
    let refresh = tokens["refresh_token"].as_str().context("refresh_token")?;
    // Another app cannot revoke shop's grant: the same 200, nothing changes.
    let r = revoke(&app, &[("token", refresh)], Some((DESK, DESK_SECRET))).await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    let r = introspect(&app, access, (DESK, DESK_SECRET)).await?;
    ensure!(r.json()?["active"] == true, "still active: {r}");
    // Unknown tokens: 200 as well.
    let r = revoke(
        &app,
        &[("token", "kcrt_unknown"), ("client_id", SHOP)],
        None,
    )
    .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    // shop revokes its refresh token: the grant ends, access token included.
    let r = revoke(
        &app,
        &[
            ("token", refresh),
            ("token_type_hint", "refresh_token"),
            ("client_id", SHOP),
        ],
        None,
    )
    .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    let r = introspect(&app, access, (DESK, DESK_SECRET)).await?;
    ensure!(r.json()?["active"] == false, "after revocation: {r}");
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 401
    );
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
    // Revoking by access token works the same.
    let (_, _, tokens) = shop_tokens(&app, &[]).await?;
    let access = tokens["access_token"].as_str().context("access_token")?;
    revoke(&app, &[("token", access), ("client_id", SHOP)], None)
        .await?
        .expect_status(200)?;
    ensure!(
        app.bearer_get("/oauth2/userinfo", access)
            .await?
            .status
            .as_u16()
            == 401
    );
    Ok(())
}
