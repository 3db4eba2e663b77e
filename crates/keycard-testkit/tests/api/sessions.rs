//! Sessions: the list a user sees, revoking one, logout and logout-all.

use crate::{FIREFOX_UA, assert_rfc3339, event_kinds, me_status};
use anyhow::{Context, Result};
use keycard_testkit::{PASSWORD, TestApp, TokenResponse, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn login_with_user_agent(app: &TestApp, email: &str, ua: &str) -> Result<TokenResponse> {
    let r = send(
        app.request(Method::POST, "/v1/auth/login")
            .header("user-agent", ua)
            .json(&json!({ "email": email, "password": PASSWORD })),
    )
    .await?
    .expect_status(200)?;
    Ok(serde_json::from_str(&r.text)?)
}

async fn sessions(app: &TestApp, token: &str) -> Result<Vec<Value>> {
    let r = app
        .bearer_get("/v1/me/sessions", token)
        .await?
        .expect_status(200)?;
    let body = r.json()?;
    body["sessions"]
        .as_array()
        .cloned()
        .with_context(|| format!("no sessions array: {r}"))
}

async fn session_list_describes_each_device(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let firefox = login_with_user_agent(&app, &acct.email, FIREFOX_UA).await?;
    let list = sessions(&app, &firefox.access_token).await?;

    assert_eq!(list.len(), 2, "{list:?}");
    let (newest, oldest) = (&list[0], &list[1]);
    assert_eq!(
        newest["id"].as_str(),
        Some(firefox.session_id.as_str()),
        "newest first"
    );
    assert_eq!(oldest["id"].as_str(), Some(acct.tokens.session_id.as_str()));
    assert_eq!(newest["device"], "Firefox on Linux", "{newest}");
    assert_eq!(newest["user_agent"], FIREFOX_UA);
    assert_eq!(newest["current"], true);
    assert_eq!(oldest["current"], false);
    for s in &list {
        assert_eq!(s["kind"], "api", "{s}");
        assert!(s["ip"].as_str().is_some_and(|ip| !ip.is_empty()), "{s}");
        if app.in_process() {
            assert_eq!(s["ip"], "127.0.0.1", "{s}");
        }
        for field in ["created_at", "last_used_at", "expires_at"] {
            assert_rfc3339(&s[field], field);
        }
        assert!(s["expires_at"].as_str() > s["created_at"].as_str(), "{s}");
    }

    // The other session's view marks itself as current instead.
    let from_first = sessions(&app, &acct.tokens.access_token).await?;
    let current: Vec<&Value> = from_first.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{from_first:?}");
    assert_eq!(
        current[0]["id"].as_str(),
        Some(acct.tokens.session_id.as_str())
    );
    Ok(())
}

async fn revoking_a_session_ends_it(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let phone = app.login(&acct.email, PASSWORD).await?;
    let laptop = &acct.tokens;
    // Remembered by the server before it ends: ending it must reach that memory too.
    assert_eq!(me_status(&app, &phone.access_token).await?, 200);

    let path = format!("/v1/me/sessions/{}", phone.session_id);
    app.bearer_delete(&path, &laptop.access_token)
        .await?
        .expect_status(204)?;

    app.bearer_get("/v1/me", &phone.access_token)
        .await?
        .expect_problem(401, "session_ended")?;
    let refresh = app.refresh_raw(phone.refresh()?).await?;
    assert_eq!(refresh.status, 401, "{refresh}");

    let left = sessions(&app, &laptop.access_token).await?;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"].as_str(), Some(laptop.session_id.as_str()));
    let kinds = event_kinds(&app, &laptop.access_token).await?;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("session_revoked"),
        "{kinds:?}"
    );
    Ok(())
}

async fn revoking_someone_elses_session_is_not_found(app: TestApp) -> Result<()> {
    let alice = app.new_account().await?;
    let mallory = app.new_account().await?;
    let token = &mallory.tokens.access_token;

    for id in [
        alice.tokens.session_id.clone(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        app.bearer_delete(&format!("/v1/me/sessions/{id}"), token)
            .await?
            .expect_problem(404, "not_found")?;
    }
    let malformed = app
        .bearer_delete("/v1/me/sessions/not-a-uuid", token)
        .await?;
    assert!(
        [400, 404].contains(&malformed.status.as_u16()),
        "malformed id: {malformed}"
    );
    assert_eq!(me_status(&app, &alice.tokens.access_token).await?, 200);
    Ok(())
}

async fn logout_ends_the_session_at_once(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let t = &acct.tokens;
    // Remembered by the server before it ends: ending it must reach that memory too.
    assert_eq!(me_status(&app, &t.access_token).await?, 200);
    send(
        app.request(Method::POST, "/v1/auth/logout")
            .bearer_auth(&t.access_token),
    )
    .await?
    .expect_status(204)?;
    app.bearer_get("/v1/me", &t.access_token)
        .await?
        .expect_problem(401, "session_ended")?;
    let refresh = app.refresh_raw(t.refresh()?).await?;
    assert_eq!(refresh.status, 401, "{refresh}");
    Ok(())
}

async fn logout_with_a_refresh_token(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let t = &acct.tokens;
    app.post("/v1/auth/logout", &json!({ "refresh_token": t.refresh()? }))
        .await?
        .expect_status(204)?;
    app.bearer_get("/v1/me", &t.access_token)
        .await?
        .expect_problem(401, "session_ended")?;
    let refresh = app.refresh_raw(t.refresh()?).await?;
    assert_eq!(refresh.status, 401, "{refresh}");
    Ok(())
}

async fn logout_needs_a_credential(app: TestApp) -> Result<()> {
    send(app.request(Method::POST, "/v1/auth/logout"))
        .await?
        .expect_problem(401, "unauthenticated")?;
    let empty = app.post("/v1/auth/logout", &json!({})).await?;
    assert_eq!(empty.status, 401, "{empty}");
    Ok(())
}

async fn logout_all_ends_every_session(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let s2 = app.login(&acct.email, PASSWORD).await?;
    let s3 = app.login(&acct.email, PASSWORD).await?;
    // Remembered by the server before it ends: ending it must reach that memory too.
    for t in [&acct.tokens, &s3] {
        assert_eq!(me_status(&app, &t.access_token).await?, 200);
    }
    let r = send(
        app.request(Method::POST, "/v1/auth/logout-all")
            .bearer_auth(&s2.access_token),
    )
    .await?
    .expect_status(200)?;
    assert_eq!(r.json()?["sessions_ended"], 3, "{r}");

    for t in [&acct.tokens, &s2, &s3] {
        assert_eq!(me_status(&app, &t.access_token).await?, 401);
        let refresh = app.refresh_raw(t.refresh()?).await?;
        assert_eq!(refresh.status, 401, "{refresh}");
    }
    let again = app.login(&acct.email, PASSWORD).await?;
    let kinds = event_kinds(&app, &again.access_token).await?;
    assert_eq!(
        kinds.get(1).map(String::as_str),
        Some("logout_all"),
        "{kinds:?}"
    );
    Ok(())
}

backend_tests!(
    session_list_describes_each_device,
    revoking_a_session_ends_it,
    revoking_someone_elses_session_is_not_found,
    logout_ends_the_session_at_once,
    logout_with_a_refresh_token,
    logout_needs_a_credential,
    logout_all_ends_every_session,
);
