//! The X double over HTTP: authorization with PKCE required, the confidential client's code
//! exchange (HTTP Basic only), `/2/users/me`, and what X refuses.

mod common;

use anyhow::{Context, Result, ensure};
use common::{
    CLIENT_ID, Double, SECRET, SECRET_FORM_ENCODED, back_at, challenge, param, redirect, start,
    verifier,
};
use serde_json::Value;
use std::time::Duration;

const AUTHORIZE: &str = "/x/i/oauth2/authorize";
const TOKEN: &str = "/x/2/oauth2/token";
const SCOPE: &str = "users.read tweet.read offline.access";

fn authorize_query<'a>(challenge: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect),
        ("scope", SCOPE),
        ("state", "st4te"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The exchange as a confidential client: HTTP Basic and the form.
async fn exchange(idp: &Double, code: &str, redirect: &str, v: &str) -> Result<(u16, Value)> {
    let r = idp
        .http
        .post(idp.url(TOKEN))
        .basic_auth(CLIENT_ID, Some(SECRET_FORM_ENCODED))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", v),
        ])
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn me(idp: &Double, token: &str, fields: Option<&str>) -> Result<(u16, Value)> {
    let mut req = idp.http.get(idp.url("/x/2/users/me")).bearer_auth(token);
    if let Some(f) = fields {
        req = req.query(&[("user.fields", f)]);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn authorization_with_pkce_and_users_me_yield_a_profile_without_email() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("x");
    let v = verifier();
    let ch = challenge(&v);
    let page = idp
        .page(AUTHORIZE, &authorize_query(&ch, &redirect))
        .await?;
    ensure!(
        page.html.contains("Sign in with X") && page.html.contains("<option>slow</option>"),
        "{}",
        page.html
    );
    let back = back_at(&idp.decide(&page, &[("user", "ada")]).await?, &redirect)?;
    ensure!(
        param(&back, "state") == Some("st4te") && param(&back, "iss").is_none(),
        "{back:?}"
    );
    let code = param(&back, "code").context("no code")?;
    let (status, tokens) = exchange(&idp, code, &redirect, &v).await?;
    ensure!(status == 200, "{status} {tokens}");
    ensure!(
        tokens["token_type"] == "bearer" && tokens["scope"] == SCOPE,
        "{tokens}"
    );
    ensure!(tokens["expires_in"].is_u64(), "{tokens}");
    let token = tokens["access_token"].as_str().context("no access_token")?;

    let (status, me_full) = me(&idp, token, Some("profile_image_url")).await?;
    ensure!(status == 200, "{status} {me_full}");
    let data = &me_full["data"];
    let id = data["id"].as_str().context("no id")?;
    ensure!(id.bytes().all(|b| b.is_ascii_digit()), "{me_full}");
    ensure!(
        data["name"] == "Ada Lovelace" && data["username"] == "ada",
        "{me_full}"
    );
    ensure!(
        data["profile_image_url"] == "https://pictures.example.com/ada.png",
        "{me_full}"
    );
    ensure!(
        data.get("email").is_none() && data.get("confirmed_email").is_none(),
        "X shares no email: {me_full}"
    );
    // Without user.fields, no picture.
    let (_, lean) = me(&idp, token, None).await?;
    ensure!(
        lean["data"]["id"] == id && lean["data"].get("profile_image_url").is_none(),
        "{lean}"
    );
    Ok(())
}

#[tokio::test]
async fn what_x_refuses_is_refused() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("x");
    let v = verifier();
    let ch = challenge(&v);
    let q = authorize_query(&ch, &redirect);

    // PKCE is required, S256 only; so are state and response_type.
    for dropped in [
        &["code_challenge", "code_challenge_method"][..],
        &["state"],
        &["response_type"],
    ] {
        let mut query = q.clone();
        query.retain(|(k, _)| !dropped.contains(k));
        let back = back_at(&idp.get(AUTHORIZE, &query).await?, &redirect)?;
        ensure!(param(&back, "error").is_some(), "{dropped:?}: {back:?}");
    }
    let mut plain = q.clone();
    plain.retain(|(k, _)| !k.starts_with("code_challenge"));
    plain.extend([
        ("code_challenge", v.as_str()),
        ("code_challenge_method", "plain"),
    ]);
    let back = back_at(&idp.get(AUTHORIZE, &plain).await?, &redirect)?;
    ensure!(param(&back, "error") == Some("invalid_request"), "{back:?}");

    // A code is good once.
    let code = idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?;
    ensure!(exchange(&idp, &code, &redirect, &v).await?.0 == 200);
    let (status, body) = exchange(&idp, &code, &redirect, &v).await?;
    ensure!(
        status == 400 && body["error"] == "invalid_request",
        "replayed: {status} {body}"
    );
    // A wrong verifier.
    let code = idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?;
    let (status, _) = exchange(
        &idp,
        &code,
        &redirect,
        "a-different-verifier-of-forty-three-characters-000",
    )
    .await?;
    ensure!(status == 400, "wrong verifier: {status}");

    // A confidential client authenticates with HTTP Basic, not the form.
    let code = idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?;
    let r = idp
        .http
        .post(idp.url(TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", v.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .send()
        .await?;
    ensure!(r.status() == 401, "secret in the form: {}", r.status());
    // grant_type is required.
    let code = idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?;
    let r = idp
        .http
        .post(idp.url(TOKEN))
        .basic_auth(CLIENT_ID, Some(SECRET_FORM_ENCODED))
        .form(&[
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", v.as_str()),
        ])
        .send()
        .await?;
    ensure!(r.status() == 400, "no grant_type: {}", r.status());

    // Denied.
    let page = idp.page(AUTHORIZE, &q).await?;
    let back = back_at(&idp.decide(&page, &[("deny", "1")]).await?, &redirect)?;
    ensure!(
        param(&back, "error") == Some("access_denied") && param(&back, "state") == Some("st4te"),
        "{back:?}"
    );

    // The API: a bogus token; a token without users.read; a simulated failure.
    ensure!(me(&idp, "bogus", None).await?.0 == 401);
    let mut narrow = q.clone();
    narrow.retain(|(k, _)| *k != "scope");
    narrow.push(("scope", "tweet.read"));
    let code = idp.code(AUTHORIZE, &narrow, &redirect, "ada", "").await?;
    let (_, tokens) = exchange(&idp, &code, &redirect, &v).await?;
    let token = tokens["access_token"].as_str().context("no token")?;
    ensure!(me(&idp, token, None).await?.0 == 403, "without users.read");
    let code = idp
        .code(AUTHORIZE, &q, &redirect, "ada", "api_error")
        .await?;
    let (_, tokens) = exchange(&idp, &code, &redirect, &v).await?;
    let token = tokens["access_token"].as_str().context("no token")?;
    ensure!(me(&idp, token, None).await?.0 == 500, "api_error");
    Ok(())
}
