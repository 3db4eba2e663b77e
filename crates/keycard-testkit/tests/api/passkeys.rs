//! Passkeys through the JSON API, answered by the suite's software authenticator: added,
//! named and listed; a sign-in without a password (two factors at once); the second step of a
//! password sign-in; and every answer that must prove nothing: another origin, another relying
//! party, a spent ceremony, a counter gone back, an unknown key.

use crate::decode_jwt;
use anyhow::{Context, Result, ensure};
use keycard_testkit::{
    PASSKEY_ORIGIN, PASSWORD, Reply, SoftPasskey, TestApp, TokenResponse, unique_email,
};
use serde_json::{Value, json};

backend_tests!(
    a_passkey_is_added_and_signs_in_without_a_password,
    answers_that_prove_nothing_are_refused,
    a_passkey_completes_the_second_step,
    a_removed_passkey_signs_in_no_more,
    the_account_page_lists_and_removes_passkeys,
);

/// Adds `key` to the account behind `token` under `name`; returns the passkey's view.
pub(crate) async fn add_passkey(
    app: &TestApp,
    token: &str,
    key: &mut SoftPasskey,
    name: &str,
) -> Result<Value> {
    let begun = app
        .bearer_post("/v1/me/passkeys/registration", token, &json!({}))
        .await?
        .expect_status(200)?
        .json()?;
    let credential = key.create(&begun["options"], PASSKEY_ORIGIN)?;
    app.bearer_post(
        "/v1/me/passkeys",
        token,
        &json!({ "ceremony_id": begun["ceremony_id"], "credential": credential, "name": name }),
    )
    .await?
    .expect_status(201)?
    .json()
}

async fn begin(app: &TestApp) -> Result<Value> {
    app.post("/v1/auth/passkey/begin", &json!({}))
        .await?
        .expect_status(200)?
        .json()
}

async fn finish(app: &TestApp, begun: &Value, credential: &Value) -> Result<Reply> {
    app.post(
        "/v1/auth/passkey/finish",
        &json!({ "ceremony_id": begun["ceremony_id"], "credential": credential }),
    )
    .await
}

/// A passwordless sign-in with `key`: the token answer.
async fn sign_in(app: &TestApp, key: &mut SoftPasskey) -> Result<TokenResponse> {
    let begun = begin(app).await?;
    let credential = key.get(&begun["options"], PASSKEY_ORIGIN)?;
    let r = finish(app, &begun, &credential).await?.expect_status(200)?;
    Ok(serde_json::from_str(&r.text)?)
}

async fn list(app: &TestApp, token: &str) -> Result<Vec<Value>> {
    let r = app
        .bearer_get("/v1/me/passkeys", token)
        .await?
        .expect_status(200)?
        .json()?;
    Ok(r["passkeys"].as_array().cloned().unwrap_or_default())
}

async fn a_passkey_is_added_and_signs_in_without_a_password(app: TestApp) -> Result<()> {
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let token = tokens.access_token.as_str();
    let begun = app
        .bearer_post("/v1/me/passkeys/registration", token, &json!({}))
        .await?
        .expect_status(200)?
        .json()?;
    let pk = &begun["options"]["publicKey"];
    ensure!(
        pk["rp"]["id"] == "localhost"
            && pk["authenticatorSelection"]["residentKey"] == "required"
            && pk["authenticatorSelection"]["userVerification"] == "required"
            && begun["ceremony_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("kcwa_")),
        "{begun}"
    );
    let mut key = SoftPasskey::new()?;
    let credential = key.create(&begun["options"], PASSKEY_ORIGIN)?;
    let added = app
        .bearer_post(
            "/v1/me/passkeys",
            token,
            &json!({ "ceremony_id": begun["ceremony_id"], "credential": credential, "name": " Work laptop " }),
        )
        .await?
        .expect_status(201)?
        .json()?;
    ensure!(
        added["name"] == "Work laptop"
            && added["synced"] == true
            && added["last_used_at"].is_null(),
        "{added}"
    );
    // The same ceremony serves once.
    app.bearer_post(
        "/v1/me/passkeys",
        token,
        &json!({ "ceremony_id": begun["ceremony_id"], "credential": credential }),
    )
    .await?
    .expect_problem(400, "passkey_rejected")?;
    // A key is registered once: the next ceremony names it to exclude, and refuses it.
    let again = app
        .bearer_post("/v1/me/passkeys/registration", token, &json!({}))
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        again["options"]["publicKey"]["excludeCredentials"][0]["id"] == credential["id"],
        "{again}"
    );
    let twice = key.create(&again["options"], PASSKEY_ORIGIN)?;
    app.bearer_post(
        "/v1/me/passkeys",
        token,
        &json!({ "ceremony_id": again["ceremony_id"], "credential": twice }),
    )
    .await?
    .expect_problem(400, "passkey_rejected")?;
    let id = added["id"].as_str().context("id")?;
    let renamed = app
        .bearer_patch(
            &format!("/v1/me/passkeys/{id}"),
            token,
            &json!({ "name": "Phone" }),
        )
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(renamed["name"] == "Phone", "{renamed}");
    app.bearer_patch(
        &format!("/v1/me/passkeys/{id}"),
        token,
        &json!({ "name": "   " }),
    )
    .await?
    .expect_invalid("name", "invalid_name")?;

    // No address, no password: the authenticator names the account.
    let begun = begin(&app).await?;
    let pk = &begun["options"]["publicKey"];
    ensure!(
        pk["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty())
            && begun["options"]["mediation"] == "conditional"
            && pk["userVerification"] == "required",
        "{begun}"
    );
    let credential = key.get(&begun["options"], PASSKEY_ORIGIN)?;
    let r = finish(&app, &begun, &credential)
        .await?
        .expect_status(200)?;
    let signed_in: TokenResponse = serde_json::from_str(&r.text)?;
    ensure!(
        signed_in
            .user
            .as_ref()
            .is_some_and(|u| u["email"] == email.as_str()),
        "{r}"
    );
    let (_, claims) = decode_jwt(&signed_in.access_token)?;
    ensure!(
        claims["amr"] == json!(["swk", "mfa"]) && claims["acr"] == "urn:keycard:acr:mfa",
        "{claims}"
    );
    let listed = list(&app, &signed_in.access_token).await?;
    ensure!(
        listed.len() == 1 && listed[0]["last_used_at"].is_string(),
        "{listed:?}"
    );

    // A security key bound to one device: `hwk`, and its counter moves with each use.
    let mut hardware = SoftPasskey::hardware()?;
    let added = add_passkey(&app, &signed_in.access_token, &mut hardware, "YubiKey").await?;
    ensure!(added["synced"] == false, "{added}");
    for _ in 0..2 {
        let t = sign_in(&app, &mut hardware).await?;
        let (_, claims) = decode_jwt(&t.access_token)?;
        ensure!(claims["amr"] == json!(["hwk", "mfa"]), "{claims}");
    }
    Ok(())
}

async fn answers_that_prove_nothing_are_refused(app: TestApp) -> Result<()> {
    let tokens = app.register(&unique_email(), PASSWORD).await?;
    let mut key = SoftPasskey::hardware()?;
    add_passkey(&app, &tokens.access_token, &mut key, "Key").await?;
    let refused = |case: &str, r: Reply| {
        r.expect_problem(401, "invalid_passkey")
            .map(|_| ())
            .with_context(|| format!("{case} was not refused"))
    };

    // Another origin (a phishing site relaying the ceremony), another relying party.
    let begun = begin(&app).await?;
    refused(
        "another origin",
        finish(
            &app,
            &begun,
            &key.get(&begun["options"], "https://evil.example")?,
        )
        .await?,
    )?;
    let begun = begin(&app).await?;
    let other_rp = key.get_for(&begun["options"], PASSKEY_ORIGIN, "evil.example")?;
    refused(
        "another relying party",
        finish(&app, &begun, &other_rp).await?,
    )?;

    // A ceremony serves once, even after a success; an answer serves only its own ceremony.
    let begun = begin(&app).await?;
    let good = key.get(&begun["options"], PASSKEY_ORIGIN)?;
    finish(&app, &begun, &good).await?.expect_status(200)?;
    let last_used = key.counter;
    refused(
        "a spent ceremony",
        finish(&app, &begun, &key.get(&begun["options"], PASSKEY_ORIGIN)?).await?,
    )?;
    let other = begin(&app).await?;
    refused(
        "an answer to another ceremony",
        finish(&app, &other, &good).await?,
    )?;

    // A counter that goes back is a cloned key.
    // (Failed answers moved the key's own counter; the server kept the last one it accepted.)
    key.counter = last_used - 1;
    let begun = begin(&app).await?;
    refused(
        "a counter gone back",
        finish(&app, &begun, &key.get(&begun["options"], PASSKEY_ORIGIN)?).await?,
    )?;

    // A key never registered, claiming the account.
    let mut stranger = SoftPasskey::new()?;
    stranger.user_handle = key.user_handle.clone();
    stranger.rp_id = key.rp_id.clone();
    let begun = begin(&app).await?;
    refused(
        "an unregistered key",
        finish(
            &app,
            &begun,
            &stranger.get(&begun["options"], PASSKEY_ORIGIN)?,
        )
        .await?,
    )?;

    // Not a credential at all.
    let begun = begin(&app).await?;
    refused(
        "not a credential",
        finish(&app, &begun, &json!({ "id": "x" })).await?,
    )?;
    Ok(())
}

async fn a_passkey_completes_the_second_step(app: TestApp) -> Result<()> {
    let e = crate::mfa::enrolled(&app).await?;
    // Adding a passkey needs a sign-in through the second step.
    app.bearer_post(
        "/v1/me/passkeys/registration",
        &e.tokens.access_token,
        &json!({}),
    )
    .await?
    .expect_problem(403, "reauthentication_required")?;
    let challenge = crate::mfa::challenged(&app, &e.email).await?;
    let done = app
        .post(
            "/v1/auth/mfa",
            &json!({ "challenge_id": challenge, "code": e.recovery_codes[0] }),
        )
        .await?
        .expect_status(200)?;
    let full: TokenResponse = serde_json::from_str(&done.text)?;
    let mut key = SoftPasskey::new()?;
    add_passkey(&app, &full.access_token, &mut key, "Phone").await?;

    let r = app
        .login_raw(&e.email, PASSWORD)
        .await?
        .expect_status(200)?;
    let body = r.json()?;
    ensure!(
        body["methods"] == json!(["totp", "passkey", "recovery_code"]),
        "{r}"
    );
    let challenge = body["challenge_id"].as_str().context("challenge")?;
    let begun = app
        .post(
            "/v1/auth/mfa/passkey",
            &json!({ "challenge_id": challenge }),
        )
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        begun["options"]["publicKey"]["allowCredentials"][0]["id"] == URL_SAFE(&key.credential_id),
        "{begun}"
    );
    // A ceremony of another sign-in's challenge does not complete this one.
    let other = crate::mfa::challenged(&app, &e.email).await?;
    let foreign = app
        .post("/v1/auth/mfa/passkey", &json!({ "challenge_id": other }))
        .await?
        .expect_status(200)?
        .json()?;
    let answer = key.get(&foreign["options"], PASSKEY_ORIGIN)?;
    app.post(
        "/v1/auth/mfa",
        &json!({ "challenge_id": challenge, "passkey": { "ceremony_id": foreign["ceremony_id"], "credential": answer } }),
    )
    .await?
    .expect_problem(401, "invalid_passkey")?;
    let answer = key.get(&begun["options"], PASSKEY_ORIGIN)?;
    let done = app
        .post(
            "/v1/auth/mfa",
            &json!({ "challenge_id": challenge, "passkey": { "ceremony_id": begun["ceremony_id"], "credential": answer } }),
        )
        .await?
        .expect_status(200)?;
    let t: TokenResponse = serde_json::from_str(&done.text)?;
    let (_, claims) = decode_jwt(&t.access_token)?;
    ensure!(claims["amr"] == json!(["pwd", "swk", "mfa"]), "{claims}");
    // Neither or both: a malformed step.
    let challenge = crate::mfa::challenged(&app, &e.email).await?;
    app.post("/v1/auth/mfa", &json!({ "challenge_id": challenge }))
        .await?
        .expect_invalid("code", "code_or_passkey")?;
    Ok(())
}

#[allow(non_snake_case)]
fn URL_SAFE(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

async fn a_removed_passkey_signs_in_no_more(app: TestApp) -> Result<()> {
    let tokens = app.register(&unique_email(), PASSWORD).await?;
    let mut key = SoftPasskey::new()?;
    let added = add_passkey(&app, &tokens.access_token, &mut key, "Phone").await?;
    let id = added["id"].as_str().context("id")?;
    // Not another account's to remove.
    let other = app.register(&unique_email(), PASSWORD).await?;
    app.bearer_delete(&format!("/v1/me/passkeys/{id}"), &other.access_token)
        .await?
        .expect_problem(404, "not_found")?;
    sign_in(&app, &mut key).await?;
    app.bearer_delete(&format!("/v1/me/passkeys/{id}"), &tokens.access_token)
        .await?
        .expect_status(204)?;
    app.bearer_delete(&format!("/v1/me/passkeys/{id}"), &tokens.access_token)
        .await?
        .expect_problem(404, "not_found")?;
    ensure!(list(&app, &tokens.access_token).await?.is_empty());
    let begun = begin(&app).await?;
    finish(&app, &begun, &key.get(&begun["options"], PASSKEY_ORIGIN)?)
        .await?
        .expect_problem(401, "invalid_passkey")?;
    Ok(())
}

async fn the_account_page_lists_and_removes_passkeys(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    crate::oidc::signed_up(&app, &browser, "Ada").await?;
    let token = browser.refresh().await?.expect_status(200)?.json()?;
    let token = token["access_token"].as_str().context("access token")?;
    let mut key = SoftPasskey::new()?;
    let added = add_passkey(&app, token, &mut key, "Laptop <b>").await?;
    let id = added["id"].as_str().context("id")?;
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(
        page.text.contains("<strong>Laptop &#60;b&#62;</strong>")
            && !page.text.contains("Laptop <b>")
            && page.text.contains(&format!("passkey-remove-{id}")),
        "{page}"
    );
    let csrf = keycard_testkit::field_value(&page.text, "csrf").context("csrf")?;
    let removed = crate::pages::submit(
        &app,
        &browser,
        &format!("/account/passkeys/{id}/remove"),
        &[("csrf", &csrf), ("lang", "en")],
    )
    .await?;
    ensure!(removed.status.as_u16() == 303, "{removed}");
    ensure!(list(&app, token).await?.is_empty());
    // Without the page's token, nothing is removed.
    let again = add_passkey(&app, token, &mut SoftPasskey::new()?, "Phone").await?;
    let forged = crate::pages::submit(
        &app,
        &browser,
        &format!(
            "/account/passkeys/{}/remove",
            again["id"].as_str().unwrap_or_default()
        ),
        &[("csrf", "forged"), ("lang", "en")],
    )
    .await?;
    ensure!(forged.status.as_u16() == 403, "{forged}");
    ensure!(list(&app, token).await?.len() == 1);
    Ok(())
}
