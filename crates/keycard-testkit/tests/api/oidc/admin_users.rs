//! The admin API for people's accounts: find one, disable it — which ends every session and
//! app grant it has at once and keeps it out until it is enabled again — and read the audit
//! trail by person and by kind.

use super::*;
use keycard_testkit::apps::{DESK, DESK_SECRET, ORDERS, ORDERS_SECRET, SHOP, SHOP_REDIRECT};

backend_tests!(
    a_disabled_account_loses_every_session_and_gets_no_new_one,
    the_audit_trail_is_listed_by_person_and_kind_page_by_page,
    the_account_admin_api_refuses_bad_requests_and_non_admins,
    sign_ins_racing_a_disabling_leave_no_session_behind,
);

async fn a_disabled_account_loses_every_session_and_gets_no_new_one(app: TestApp) -> Result<()> {
    let admin = admin_token(&app).await?;
    // A person with a browser session, an app grant that outlives it (offline_access) and an
    // API session of Keycard's own.
    let (browser, email, shop) = shop_tokens(&app, &[]).await?;
    let api = app.login(&email, PASSWORD).await?;
    let found = admin_find(&app, &admin, &email.to_uppercase()).await?;
    ensure!(
        found["enabled"] == true
            && found["disabled_at"].is_null()
            && found["has_password"] == true
            && found["email"] == email.as_str(),
        "{found}"
    );
    ensure!(
        found["sessions"]["api"] == 1
            && found["sessions"]["browser"] == 1
            && found["sessions"]["grants"] == 1,
        "{found}"
    );
    let id = found["id"].as_str().context("id")?.to_owned();

    let disabled = admin_set_enabled(&app, &admin, &id, false, Some("fraud report 42")).await?;
    ensure!(disabled["enabled"] == false, "{disabled}");
    crate::assert_rfc3339(&disabled["disabled_at"], "disabled_at");
    ensure!(
        disabled["sessions"] == serde_json::json!({"api": 0, "browser": 0, "grants": 0}),
        "{disabled}"
    );

    // Everything it held stops at once.
    ensure!(crate::me_status(&app, &api.access_token).await? == 401);
    let api_refresh = api.refresh_token.as_deref().context("refresh_token")?;
    ensure!(app.refresh_raw(api_refresh).await?.status.as_u16() == 401);
    let access = shop["access_token"].as_str().context("access_token")?;
    let info = app.bearer_get("/oauth2/userinfo", access).await?;
    ensure!(info.status.as_u16() == 401, "{info}");
    let r = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/introspect"))
            .basic_auth(DESK, Some(DESK_SECRET))
            .form(&[("token", access)]),
    )
    .await?;
    ensure!(r.json()?["active"] == false, "{r}");
    let refresh = shop["refresh_token"].as_str().context("refresh_token")?;
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

    // No way back in: the right password is told the account is disabled, a wrong one learns
    // nothing new.
    let r = app.login_raw(&email, PASSWORD).await?;
    ensure!(
        r.status.as_u16() == 403 && r.json()?["code"] == "account_disabled",
        "{r}"
    );
    let r = app.login_raw(&email, "not the password at all").await?;
    ensure!(
        r.status.as_u16() == 401 && r.json()?["code"] == "invalid_credentials",
        "{r}"
    );
    // Nor through an app's sign-in page.
    let pkce = Pkce::new();
    let reply = browser.navigate(&shop_request(&app, &pkce, &[])).await?;
    let to_login = absolute(&app, &location(&reply)?);
    ensure!(to_login.contains("/login?"), "{to_login}");
    let page = browser.navigate(&to_login).await?.expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf on /login")?;
    let return_to = field_value(&page.text, "return_to").context("return_to")?;
    let reply = submit(
        &app,
        &browser,
        "/login",
        &[
            ("csrf", &csrf),
            ("return_to", &return_to),
            ("email", &email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    ensure!(
        reply.status.as_u16() == 403 && reply.text.contains("This account is disabled"),
        "{reply}"
    );

    // Enabled again, it signs in as before (its old sessions stay ended).
    let enabled = admin_set_enabled(&app, &admin, &id, true, None).await?;
    ensure!(
        enabled["enabled"] == true && enabled["disabled_at"].is_null(),
        "{enabled}"
    );
    ensure!(crate::me_status(&app, &api.access_token).await? == 401);
    let again = app.login(&email, PASSWORD).await?;
    ensure!(crate::me_status(&app, &again.access_token).await? == 200);
    // The consent given before the disabling still stands: straight back to the app.
    let back = sign_in_through(&app, &browser, &shop_request(&app, &pkce, &[]), &email).await?;
    let answer = location(&browser.navigate(&back).await?)?;
    code_of(&app, &answer, SHOP_REDIRECT).await?;
    Ok(())
}

async fn the_audit_trail_is_listed_by_person_and_kind_page_by_page(app: TestApp) -> Result<()> {
    let admin = admin_token(&app).await?;
    let account = app.new_account().await?;
    let wrong = app
        .login_raw(&account.email, "not the password at all")
        .await?;
    ensure!(wrong.status.as_u16() == 401, "{wrong}");
    let id = admin_find(&app, &admin, &account.email).await?["id"]
        .as_str()
        .context("id")?
        .to_owned();
    admin_set_enabled(&app, &admin, &id, false, Some("  chargeback\n")).await?;
    let r = app.login_raw(&account.email, PASSWORD).await?;
    ensure!(r.status.as_u16() == 403, "{r}");

    let page = |q: String| {
        let (app, admin) = (&app, &admin);
        async move {
            app.bearer_get(&format!("/admin/v1/events?{q}"), admin)
                .await?
                .expect_status(200)?
                .json()
        }
    };
    // The person's trail, newest first: sign-up, sign-in, a failure, the disabling, a refusal.
    let all = page(format!("user_id={id}")).await?;
    let kinds: Vec<&str> = all["events"]
        .as_array()
        .context("events")?
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    ensure!(
        kinds
            == [
                "login_failed",
                "account_disabled",
                "login_failed",
                "login_succeeded",
                "registered"
            ],
        "{kinds:?}"
    );
    ensure!(all["next_before"].is_null(), "{all}");
    let events = all["events"].as_array().context("events")?;
    ensure!(
        events[0]["detail"]["reason"] == "account_disabled"
            && events[2]["detail"]["reason"] == "invalid_credentials",
        "{all}"
    );
    ensure!(
        events[1]["detail"]["by_client"] == keycard_testkit::apps::OPS
            && events[1]["detail"]["reason"] == "chargeback"
            && events.iter().all(|e| e["user_id"] == id.as_str()),
        "{all}"
    );

    // By kind, across people, one page at a time.
    let first = page(format!("user_id={id}&kind=login_failed&limit=1")).await?;
    let before = first["next_before"].as_str().context("next_before")?;
    ensure!(
        first["events"].as_array().map(Vec::len) == Some(1),
        "{first}"
    );
    let second = page(format!(
        "user_id={id}&kind=login_failed&limit=1&before={before}"
    ))
    .await?;
    ensure!(
        second["events"][0]["detail"]["reason"] == "invalid_credentials"
            && second["events"][0]["id"] != first["events"][0]["id"],
        "{second}"
    );
    let third = page(format!(
        "user_id={id}&kind=login_failed&limit=1&before={}",
        second["next_before"].as_str().context("next_before")?
    ))
    .await?;
    ensure!(
        third["events"] == serde_json::json!([]) && third["next_before"].is_null(),
        "{third}"
    );
    let disablings = page("kind=account_disabled&limit=200".into()).await?;
    ensure!(
        disablings["events"]
            .as_array()
            .context("events")?
            .iter()
            .all(|e| e["kind"] == "account_disabled"),
        "{disablings}"
    );
    Ok(())
}

async fn the_account_admin_api_refuses_bad_requests_and_non_admins(app: TestApp) -> Result<()> {
    let admin = admin_token(&app).await?;
    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/admin/v1/users/{missing}"),
        "/admin/v1/users/not-a-uuid".to_owned(),
    ] {
        let r = app.bearer_get(&path, &admin).await?;
        ensure!(r.status.as_u16() == 404, "{path}: {r}");
    }
    let r = app
        .bearer_patch(
            &format!("/admin/v1/users/{missing}"),
            &admin,
            &serde_json::json!({"enabled": false}),
        )
        .await?;
    ensure!(r.status.as_u16() == 404, "{r}");
    let nobody = app
        .bearer_get("/admin/v1/users?email=nobody-here%40example.com", &admin)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(nobody == serde_json::json!({"users": []}), "{nobody}");
    let r = app.bearer_get("/admin/v1/users", &admin).await?;
    r.expect_invalid("email", "invalid_email")?;
    let r = app
        .bearer_get("/admin/v1/events?kind=no_such_kind", &admin)
        .await?;
    r.expect_invalid("kind", "invalid_kind")?;
    let r = app.bearer_get("/admin/v1/events?limit=201", &admin).await?;
    r.expect_invalid("limit", "invalid_limit")?;
    for bad in ["x", "12_not-a-uuid", "nan_0190a4e2b1c17d3e8f4a5b6c7d8e9f01"] {
        let r = app
            .bearer_get(&format!("/admin/v1/events?before={bad}"), &admin)
            .await?;
        r.expect_invalid("before", "invalid_before")?;
    }
    let account = app.new_account().await?;
    let id = admin_find(&app, &admin, &account.email).await?["id"]
        .as_str()
        .context("id")?
        .to_owned();
    let path = format!("/admin/v1/users/{id}");
    let r = app
        .bearer_patch(
            &path,
            &admin,
            &serde_json::json!({"enabled": false, "reason": "x".repeat(501)}),
        )
        .await?;
    r.expect_invalid("reason", "invalid_reason")?;
    let r = app
        .bearer_patch(
            &path,
            &admin,
            &serde_json::json!({"enabled": true, "reason": "why not"}),
        )
        .await?;
    r.expect_invalid("reason", "invalid_reason")?;
    let r = app
        .bearer_patch(
            &path,
            &admin,
            &serde_json::json!({"enabled": false, "why": "x"}),
        )
        .await?;
    ensure!(r.status.as_u16() == 400 || r.status.as_u16() == 422, "{r}");
    // Nothing above disabled it.
    ensure!(crate::me_status(&app, &account.tokens.access_token).await? == 200);

    // A service without the scope, the person themself: no.
    let orders = service_token(&app, ORDERS, ORDERS_SECRET, "orders.read").await?;
    for t in [orders.as_str(), account.tokens.access_token.as_str()] {
        let r = app.bearer_get(&path, t).await?;
        ensure!(matches!(r.status.as_u16(), 401 | 403), "{r}");
        let r = app
            .bearer_patch(&path, t, &serde_json::json!({"enabled": false}))
            .await?;
        ensure!(matches!(r.status.as_u16(), 401 | 403), "{r}");
        let r = app.bearer_get("/admin/v1/events", t).await?;
        ensure!(matches!(r.status.as_u16(), 401 | 403), "{r}");
    }
    ensure!(crate::me_status(&app, &account.tokens.access_token).await? == 200);
    Ok(())
}

/// Sign-ins that run while the account is being disabled either end before it (and their
/// session is ended by it) or are refused: none leaves a live session behind.
async fn sign_ins_racing_a_disabling_leave_no_session_behind(app: TestApp) -> Result<()> {
    let admin = admin_token(&app).await?;
    let account = app.new_account().await?;
    let id = admin_find(&app, &admin, &account.email).await?["id"]
        .as_str()
        .context("id")?
        .to_owned();
    let logins = (0..8).map(|_| app.login_raw(&account.email, PASSWORD));
    let disabling = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        admin_set_enabled(&app, &admin, &id, false, None).await
    };
    let (replies, disabled) = tokio::join!(futures::future::join_all(logins), disabling);
    disabled?;
    let mut signed_in = 0;
    for r in replies {
        let r = r?;
        match r.status.as_u16() {
            200 => {
                signed_in += 1;
                let access = r.json()?["access_token"]
                    .as_str()
                    .context("access_token")?
                    .to_owned();
                ensure!(
                    crate::me_status(&app, &access).await? == 401,
                    "a session outlived the disabling"
                );
            }
            403 => ensure!(r.json()?["code"] == "account_disabled", "{r}"),
            // The sign-in limits may refuse some of a burst; they open no session either.
            429 => {}
            _ => bail!("unexpected answer: {r}"),
        }
    }
    let after = app
        .bearer_get(&format!("/admin/v1/users/{id}"), &admin)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        after["sessions"] == serde_json::json!({"api": 0, "browser": 0, "grants": 0}),
        "{after} ({signed_in} sign-ins went through)"
    );
    Ok(())
}
