//! The caller's own account: profile, password change and audit trail.

use crate::{assert_rfc3339, assert_uuid, event_kinds, me_status};
use anyhow::{Context, Result};
use keycard_testkit::{PASSWORD, TestApp, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn me_returns_the_profile(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let r = app
        .bearer_get("/v1/me", &acct.tokens.access_token)
        .await?
        .expect_status(200)?;
    let mut me = r.json()?;
    // GET alone also lists the second factors.
    let mfa = me.as_object_mut().and_then(|o| o.remove("mfa"));
    assert_eq!(
        mfa,
        Some(json!({ "enabled": false, "totp": null, "recovery_codes_left": 0 })),
        "{me}"
    );
    assert_eq!(
        Some(&me),
        acct.tokens.user.as_ref(),
        "same user as at registration"
    );
    Ok(())
}

async fn me_requires_a_valid_bearer_token(app: TestApp) -> Result<()> {
    app.get("/v1/me")
        .await?
        .expect_problem(401, "unauthenticated")?;
    app.bearer_get("/v1/me", "nonsense")
        .await?
        .expect_problem(401, "invalid_token")?;
    let basic = send(
        app.request(Method::GET, "/v1/me")
            .header("authorization", "Basic dXNlcjpwYXNz"),
    )
    .await?;
    assert_eq!(basic.status, 401, "{basic}");
    Ok(())
}

async fn patch_me(app: &TestApp, token: &str, body: Value) -> Result<Value> {
    let r = app.bearer_patch("/v1/me", token, &body).await?;
    r.expect_status(200)?.json()
}

async fn profile_updates_set_keep_and_clear(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let token = &acct.tokens.access_token;
    let patch = |body: Value| patch_me(&app, token, body);

    let set =
        patch(json!({ "name": "  Grace Hopper ", "picture_url": "https://example.com/g.png" }))
            .await?;
    assert_eq!(set["name"], "Grace Hopper", "trimmed: {set}");
    assert_eq!(set["picture_url"], "https://example.com/g.png");

    let unchanged = patch(json!({})).await?;
    assert_eq!(unchanged["name"], "Grace Hopper", "absent leaves as is");
    assert_eq!(unchanged["picture_url"], "https://example.com/g.png");

    let cleared = patch(json!({ "name": null })).await?;
    assert!(cleared["name"].is_null(), "null clears: {cleared}");
    assert_eq!(cleared["picture_url"], "https://example.com/g.png");

    let no_picture = patch(json!({ "picture_url": null })).await?;
    assert!(no_picture["picture_url"].is_null(), "{no_picture}");

    let me = app
        .bearer_get("/v1/me", token)
        .await?
        .expect_status(200)?
        .json()?;
    let mut me = me;
    me.as_object_mut().and_then(|o| o.remove("mfa"));
    assert_eq!(me, no_picture, "GET reflects the last PATCH");
    Ok(())
}

async fn profile_rejects_unsafe_values(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let token = &acct.tokens.access_token;
    for url in [
        "javascript:alert(1)",
        "http://example.com/p.png",
        "data:image/png;base64,AAAA",
        "https://",
    ] {
        app.bearer_patch("/v1/me", token, &json!({ "picture_url": url }))
            .await?
            .expect_invalid("picture_url", "invalid_picture_url")
            .map_err(|e| e.context(url))?;
    }
    app.bearer_patch("/v1/me", token, &json!({ "name": "x".repeat(201) }))
        .await?
        .expect_invalid("name", "invalid_name")?;
    let me = app.bearer_get("/v1/me", token).await?.json()?;
    assert!(me["picture_url"].is_null() && me["name"].is_null(), "{me}");

    app.bearer_patch("/v1/me", token, &json!({ "name": "x".repeat(200) }))
        .await?
        .expect_status(200)?;
    Ok(())
}

async fn password_change_ends_other_sessions(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let current = &acct.tokens;
    let other = app.login(&acct.email, PASSWORD).await?;
    let new_password = "a brand new passphrase 7";
    // Remembered by the server before it ends: ending it must reach that memory too.
    assert_eq!(me_status(&app, &other.access_token).await?, 200);

    let r = app
        .bearer_post(
            "/v1/me/password",
            &current.access_token,
            &json!({ "current_password": PASSWORD, "new_password": new_password }),
        )
        .await?
        .expect_status(200)?;
    assert_eq!(r.json()?["sessions_ended"], 1, "{r}");

    assert_eq!(
        me_status(&app, &current.access_token).await?,
        200,
        "current session stays"
    );
    assert_eq!(
        me_status(&app, &other.access_token).await?,
        401,
        "other session ends"
    );
    let other_refresh = app.refresh_raw(other.refresh()?).await?;
    assert_eq!(other_refresh.status, 401, "{other_refresh}");
    app.refresh(current.refresh()?).await?;

    app.login_raw(&acct.email, PASSWORD)
        .await?
        .expect_problem(401, "invalid_credentials")?;
    app.login(&acct.email, new_password).await?;
    let kinds = event_kinds(&app, &current.access_token).await?;
    assert!(kinds.iter().any(|k| k == "password_changed"), "{kinds:?}");
    Ok(())
}

async fn password_change_checks_both_passwords(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let token = &acct.tokens.access_token;
    app.bearer_post(
        "/v1/me/password",
        token,
        &json!({ "current_password": "not my password", "new_password": "a brand new passphrase 7" }),
    )
    .await?
    .expect_invalid("current_password", "invalid_current_password")?;
    for (new, code) in [
        ("password", "password_too_common"),
        ("short", "password_too_short"),
    ] {
        app.bearer_post(
            "/v1/me/password",
            token,
            &json!({ "current_password": PASSWORD, "new_password": new }),
        )
        .await?
        .expect_invalid("new_password", code)?;
    }
    // Nothing changed.
    app.login(&acct.email, PASSWORD).await?;
    Ok(())
}

async fn events_record_account_activity_newest_first(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let first = &acct.tokens;
    app.login_raw(&acct.email, "wrong password")
        .await?
        .expect_status(401)?;
    let second = app.login(&acct.email, PASSWORD).await?;
    app.bearer_patch("/v1/me", &second.access_token, &json!({ "name": "Ada" }))
        .await?
        .expect_status(200)?;
    send(
        app.request(Method::POST, "/v1/auth/logout")
            .bearer_auth(&first.access_token),
    )
    .await?
    .expect_status(204)?;

    let r = app
        .bearer_get("/v1/me/events?limit=50", &second.access_token)
        .await?
        .expect_status(200)?;
    let body = r.json()?;
    let events = body["events"].as_array().context("no events array")?;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "logout",
            "profile_updated",
            "login_succeeded",
            "login_failed",
            "login_succeeded",
            "registered"
        ],
        "{r}"
    );
    for e in events {
        assert_uuid(&e["id"], "event id");
        assert_rfc3339(&e["at"], "event at");
        assert!(
            e.get("ip").is_some() && e.get("user_agent").is_some(),
            "{e}"
        );
    }
    assert_eq!(
        events[0]["session_id"].as_str(),
        Some(first.session_id.as_str())
    );
    assert_eq!(
        events[1]["session_id"].as_str(),
        Some(second.session_id.as_str())
    );

    let r = app
        .bearer_get("/v1/me/events?limit=2", &second.access_token)
        .await?
        .expect_status(200)?;
    let limited = r.json()?;
    let kinds: Vec<&str> = limited["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["logout", "profile_updated"], "{r}");
    Ok(())
}

async fn events_belong_to_their_user(app: TestApp) -> Result<()> {
    let alice = app.new_account().await?;
    let bob = app.new_account().await?;
    app.login_raw(&alice.email, "wrong password").await?;
    let kinds = event_kinds(&app, &bob.tokens.access_token).await?;
    assert_eq!(
        kinds,
        ["login_succeeded", "registered"],
        "only Bob's own events"
    );
    Ok(())
}

backend_tests!(
    me_returns_the_profile,
    me_requires_a_valid_bearer_token,
    profile_updates_set_keep_and_clear,
    profile_rejects_unsafe_values,
    password_change_ends_other_sessions,
    password_change_checks_both_passwords,
    events_record_account_activity_newest_first,
    events_belong_to_their_user,
);
