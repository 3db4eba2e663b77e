//! Registration and login: response shape, email normalisation, the password policy, and login
//! failures that do not reveal whether an account exists.

use crate::{assert_rfc3339, assert_uuid};
use anyhow::Result;
use keycard_testkit::{PASSWORD, TestApp, unique_email};
use serde_json::json;

async fn register_returns_tokens_and_profile(app: TestApp) -> Result<()> {
    let email = unique_email();
    let r = app
        .post(
            "/v1/auth/register",
            &json!({ "email": email, "password": PASSWORD, "name": "Ada Lovelace" }),
        )
        .await?
        .expect_status(201)?;
    let body = r.json()?;
    assert_eq!(body["token_type"], "Bearer", "{r}");
    assert_eq!(
        body["expires_in"], 900,
        "default access-token lifetime: {r}"
    );
    assert!(body["refresh_expires_in"].as_i64() > Some(0), "{r}");
    let access = body["access_token"].as_str().unwrap_or_default();
    let refresh = body["refresh_token"].as_str().unwrap_or_default();
    assert_eq!(access.split('.').count(), 3, "access token is a JWS: {r}");
    assert!(refresh.len() >= 20 && refresh != access, "{r}");
    assert_uuid(&body["session_id"], "session_id");

    let user = &body["user"];
    assert_uuid(&user["id"], "user.id");
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["name"], "Ada Lovelace");
    assert!(user["picture_url"].is_null(), "{user}");
    assert_rfc3339(&user["created_at"], "user.created_at");
    assert_eq!(user["identities"], json!([]));
    let leaked: Vec<&String> = user
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .filter(|k| k.contains("password") || k.contains("hash"))
        .collect();
    assert!(leaked.is_empty(), "user exposes {leaked:?}: {user}");
    assert!(r.header("x-request-id").is_some(), "{r:?}");
    Ok(())
}

async fn register_normalises_email_and_rejects_duplicates(app: TestApp) -> Result<()> {
    let email = unique_email();
    let typed = format!("  {}  ", email.to_uppercase());
    let first = app.register(&typed, PASSWORD).await?;
    let user = first.user.clone().unwrap_or_default();
    assert_eq!(user["email"], email.as_str(), "trimmed and lower-cased");

    for again in [email.clone(), email.to_uppercase(), format!(" {email}")] {
        app.register_raw(&again, PASSWORD)
            .await?
            .expect_problem(409, "email_taken")?;
    }
    let login = app.login(&email.to_uppercase(), PASSWORD).await?;
    assert_eq!(login.user_id()?, first.user_id()?);
    Ok(())
}

async fn register_enforces_the_password_policy(app: TestApp) -> Result<()> {
    let email = unique_email();
    let local = email.split('@').next().unwrap_or_default().to_owned();
    let cases = [
        ("Sh0rt-7".to_owned(), "password_too_short"),
        // Seven code points, fourteen bytes: length counts characters.
        ("ééééééé".to_owned(), "password_too_short"),
        (format!("{}z", "x9".repeat(512)), "password_too_long"),
        ("password".to_owned(), "password_too_common"),
        ("12345678".to_owned(), "password_too_common"),
        ("qwertyuiop".to_owned(), "password_too_common"),
        // Full-width letters fold to "password" under NFKC.
        ("ｐａｓｓｗｏｒｄ".to_owned(), "password_too_common"),
        (
            format!("My{}Secret!", local.to_uppercase()),
            "password_contains_email",
        ),
    ];
    for (password, code) in &cases {
        let r = app.register_raw(&email, password).await?;
        r.expect_invalid("password", code)
            .map_err(|e| e.context(format!("password {password:?}")))?;
    }
    // None of the rejected attempts created the account.
    app.register(&email, PASSWORD).await?;
    Ok(())
}

async fn register_accepts_long_passwords(app: TestApp) -> Result<()> {
    let chars64: String = "correct horse battery staple "
        .repeat(3)
        .chars()
        .take(64)
        .collect();
    let bytes1000 = "é".repeat(500);
    let bytes1024 = "ab9!".repeat(256);
    for password in [chars64, bytes1000, bytes1024] {
        let email = unique_email();
        app.register(&email, &password).await?;
        app.login(&email, &password).await?;
    }
    Ok(())
}

async fn register_rejects_invalid_emails(app: TestApp) -> Result<()> {
    for email in [
        "",
        "not-an-email",
        "a@localhost",
        "@example.com",
        "a b@example.com",
    ] {
        app.register_raw(email, PASSWORD)
            .await?
            .expect_invalid("email", "invalid_email")
            .map_err(|e| e.context(format!("email {email:?}")))?;
    }
    Ok(())
}

async fn min_password_length_is_configurable(app: TestApp) -> Result<()> {
    let Some(app) = app.reconfigure().password_min_length(15).start().await? else {
        return Ok(());
    };
    app.register_raw(&unique_email(), "fourteen chars")
        .await?
        .expect_invalid("password", "password_too_short")?;
    app.register(&unique_email(), "fifteen chars!!").await?;
    Ok(())
}

async fn malformed_json_is_a_400(app: TestApp) -> Result<()> {
    for path in ["/v1/auth/register", "/v1/auth/login"] {
        let r = keycard_testkit::send(
            app.request(reqwest::Method::POST, path)
                .header("content-type", "application/json")
                .body(r#"{"email": "#),
        )
        .await?;
        r.expect_problem(400, "malformed_request")
            .map_err(|e| e.context(path))?;
    }
    Ok(())
}

async fn login_returns_tokens_for_any_email_case(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let r = app
        .login_raw(&format!(" {} ", acct.email.to_uppercase()), PASSWORD)
        .await?
        .expect_status(200)?;
    let body = r.json()?;
    assert_eq!(body["token_type"], "Bearer", "{r}");
    assert!(
        body["access_token"].is_string() && body["refresh_token"].is_string(),
        "{r}"
    );
    assert_eq!(body["user"]["id"].as_str(), Some(acct.tokens.user_id()?));
    assert_eq!(body["user"]["email"], acct.email.as_str());
    assert_ne!(
        body["session_id"].as_str(),
        Some(acct.tokens.session_id.as_str()),
        "each login starts a new session"
    );
    Ok(())
}

async fn login_failures_do_not_reveal_accounts(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let wrong_password = app.login_raw(&acct.email, "not the password").await?;
    let unknown_email = app.login_raw(&unique_email(), PASSWORD).await?;
    wrong_password.expect_problem(401, "invalid_credentials")?;
    unknown_email.expect_problem(401, "invalid_credentials")?;
    assert_eq!(
        wrong_password.text, unknown_email.text,
        "bodies must be byte-identical"
    );
    assert_eq!(
        wrong_password.header("content-type"),
        unknown_email.header("content-type")
    );
    Ok(())
}

backend_tests!(
    register_returns_tokens_and_profile,
    register_normalises_email_and_rejects_duplicates,
    register_enforces_the_password_policy,
    register_accepts_long_passwords,
    register_rejects_invalid_emails,
    min_password_length_is_configurable,
    malformed_json_is_a_400,
    login_returns_tokens_for_any_email_case,
    login_failures_do_not_reveal_accounts,
);
