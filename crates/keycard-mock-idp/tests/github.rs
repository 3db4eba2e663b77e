//! The GitHub double over HTTP: authorization, the code exchange with its quirks (HTTP 200 for
//! refusals, form encoding unless JSON is asked for), `/user` and `/user/emails`.

mod common;

use anyhow::{Context, Result, ensure};
use common::{
    CLIENT_ID, Double, SECRET, SECRET_FORM_ENCODED, back_at, challenge, param, redirect, start,
    verifier,
};
use serde_json::Value;
use std::time::Duration;

const AUTHORIZE: &str = "/github/login/oauth/authorize";
const TOKEN: &str = "/github/login/oauth/access_token";
const UA: &str = "keycard-tests";

fn authorize_query<'a>(
    challenge: Option<&'a str>,
    redirect: &'a str,
    scope: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut q = vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect),
        ("state", "st4te"),
        ("scope", scope),
    ];
    if let Some(c) = challenge {
        q.push(("code_challenge", c));
        q.push(("code_challenge_method", "S256"));
    }
    q
}

/// The exchange with `Accept: application/json`: `(status, body)`.
async fn exchange(idp: &Double, form: &[(&str, &str)]) -> Result<(u16, Value)> {
    let r = idp
        .http
        .post(idp.url(TOKEN))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn api(idp: &Double, path: &str, token: &str) -> Result<(u16, Value)> {
    let r = idp
        .http
        .get(idp.url(path))
        .header("user-agent", UA)
        .header("accept", "application/vnd.github+json")
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// A token for `user`, the code redeemed with the parameters.
async fn token_for(idp: &Double, user: &str, scope: &str) -> Result<String> {
    let redirect = redirect("github");
    let code = idp
        .code(
            AUTHORIZE,
            &authorize_query(None, &redirect, scope),
            &redirect,
            user,
            "",
        )
        .await?;
    let (status, body) = exchange(
        idp,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", &redirect),
        ],
    )
    .await?;
    ensure!(
        status == 200 && body["error"].is_null(),
        "{user}: {status} {body}"
    );
    Ok(body["access_token"]
        .as_str()
        .context("no access_token")?
        .to_owned())
}

#[tokio::test]
async fn authorization_and_the_api_yield_a_profile_and_verified_addresses() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("github");
    let v = verifier();
    let ch = challenge(&v);
    let page = idp
        .page(
            AUTHORIZE,
            &authorize_query(Some(&ch), &redirect, "read:user user:email"),
        )
        .await?;
    ensure!(
        page.html.contains("Sign in with GitHub") && page.html.contains("id=\"user-grace\""),
        "{}",
        page.html
    );
    let r = idp.decide(&page, &[("user", "ada")]).await?;
    let back = back_at(&r, &redirect)?;
    ensure!(
        param(&back, "state") == Some("st4te") && param(&back, "iss").is_none(),
        "{back:?}"
    );
    let code = param(&back, "code").context("no code")?;

    // HTTP Basic works as well as the parameters.
    let r = idp
        .http
        .post(idp.url(TOKEN))
        .header("accept", "application/json")
        .basic_auth(CLIENT_ID, Some(SECRET_FORM_ENCODED))
        .form(&[
            ("code", code),
            ("redirect_uri", &redirect),
            ("code_verifier", &v),
        ])
        .send()
        .await?;
    ensure!(r.status() == 200);
    let tokens: Value = r.json().await?;
    ensure!(
        tokens["token_type"] == "bearer" && tokens["scope"] == "read:user,user:email",
        "{tokens}"
    );
    let token = tokens["access_token"].as_str().context("no access_token")?;
    ensure!(token.starts_with("gho_"), "{token}");

    let (status, user) = api(&idp, "/github/user", token).await?;
    ensure!(status == 200, "{status} {user}");
    ensure!(
        user["id"].is_u64() && user["login"] == "ada" && user["name"] == "Ada Lovelace",
        "{user}"
    );
    ensure!(
        user["avatar_url"] == "https://pictures.example.com/ada.png"
            && user["email"] == "ada@example.com",
        "{user}"
    );
    let (status, emails) = api(&idp, "/github/user/emails", token).await?;
    ensure!(status == 200, "{status} {emails}");
    let primary = emails
        .as_array()
        .and_then(|l| l.iter().find(|e| e["primary"] == true))
        .context("no primary address")?;
    ensure!(
        primary["email"] == "ada@example.com" && primary["verified"] == true,
        "{emails}"
    );

    // GitHub's older `token` scheme too.
    let r = idp
        .http
        .get(idp.url("/github/user"))
        .header("user-agent", UA)
        .header("authorization", format!("token {token}"))
        .send()
        .await?;
    ensure!(r.status() == 200, "token scheme: {}", r.status());
    Ok(())
}

#[tokio::test]
async fn unverified_and_missing_addresses_and_names_are_as_on_github() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;

    let token = token_for(&idp, "grace", "read:user user:email").await?;
    let (_, user) = api(&idp, "/github/user", &token).await?;
    ensure!(
        user["email"].is_null(),
        "an unverified public email: {user}"
    );
    let (_, emails) = api(&idp, "/github/user/emails", &token).await?;
    let list = emails.as_array().context("not a list")?;
    ensure!(
        list.iter()
            .any(|e| e["primary"] == true && e["verified"] == false),
        "{emails}"
    );
    ensure!(
        !list
            .iter()
            .any(|e| e["primary"] == true && e["verified"] == true),
        "{emails}"
    );

    let token = token_for(&idp, "alan", "read:user user:email").await?;
    let (_, user) = api(&idp, "/github/user", &token).await?;
    ensure!(
        user["name"].is_null() && user["login"] == "alan" && user["email"].is_null(),
        "{user}"
    );
    let (_, emails) = api(&idp, "/github/user/emails", &token).await?;
    ensure!(emails == serde_json::json!([]), "{emails}");

    // Tags make other people: another id and login.
    let (_, ada) = api(
        &idp,
        "/github/user",
        &token_for(&idp, "ada", "read:user").await?,
    )
    .await?;
    let (_, tagged) = api(
        &idp,
        "/github/user",
        &token_for(&idp, "ada+gh1", "read:user").await?,
    )
    .await?;
    ensure!(
        ada["id"] != tagged["id"] && tagged["login"] == "ada-gh1",
        "{ada} {tagged}"
    );
    Ok(())
}

#[tokio::test]
async fn refusals_come_with_http_200_at_the_token_endpoint() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("github");
    let v = verifier();
    let ch = challenge(&v);
    let q = authorize_query(Some(&ch), &redirect, "read:user user:email");
    let redeem =
        |code: String, secret: &'static str, redirect: String, verifier: Option<String>| {
            let idp = &idp;
            async move {
                let mut f = vec![
                    ("client_id", CLIENT_ID.to_owned()),
                    ("client_secret", secret.to_owned()),
                    ("code", code),
                    ("redirect_uri", redirect),
                ];
                if let Some(v) = verifier {
                    f.push(("code_verifier", v));
                }
                let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                exchange(idp, &f).await
            }
        };

    let code = idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?;
    let (status, _) = redeem(code.clone(), SECRET, redirect.clone(), Some(v.clone())).await?;
    ensure!(status == 200);
    for (what, code, secret, redirect_uri, verifier, error) in [
        (
            "replayed code",
            Some(code),
            SECRET,
            redirect.clone(),
            Some(v.clone()),
            "bad_verification_code",
        ),
        (
            "wrong secret",
            None,
            "wrong",
            redirect.clone(),
            Some(v.clone()),
            "incorrect_client_credentials",
        ),
        (
            "other redirect",
            None,
            SECRET,
            "http://localhost:8080/other".into(),
            Some(v.clone()),
            "redirect_uri_mismatch",
        ),
        (
            "missing verifier",
            None,
            SECRET,
            redirect.clone(),
            None,
            "bad_verification_code",
        ),
    ] {
        let code = match code {
            Some(c) => c,
            None => idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?,
        };
        let (status, body) = redeem(code, secret, redirect_uri, verifier).await?;
        ensure!(
            status == 200 && body["error"] == error && body["access_token"].is_null(),
            "{what}: {status} {body}"
        );
    }

    // Without `Accept: application/json` the answer is form-encoded.
    let code = idp.code(AUTHORIZE, &q, &redirect, "ada", "").await?;
    let r = idp
        .http
        .post(idp.url(TOKEN))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &v),
        ])
        .send()
        .await?;
    ensure!(
        r.headers()
            .get("content-type")
            .is_some_and(|c| c == "application/x-www-form-urlencoded")
    );
    let body = r.text().await?;
    ensure!(
        body.starts_with("access_token=gho_") && body.contains("token_type=bearer"),
        "{body}"
    );

    // Denied: the error and the state.
    let page = idp.page(AUTHORIZE, &q).await?;
    let back = back_at(&idp.decide(&page, &[("deny", "1")]).await?, &redirect)?;
    ensure!(
        param(&back, "error") == Some("access_denied") && param(&back, "state") == Some("st4te"),
        "{back:?}"
    );
    // PKCE `plain` is refused.
    let back = back_at(
        &idp.get(
            AUTHORIZE,
            &[
                ("client_id", CLIENT_ID),
                ("redirect_uri", &redirect),
                ("code_challenge", &v),
                ("code_challenge_method", "plain"),
            ],
        )
        .await?,
        &redirect,
    )?;
    ensure!(param(&back, "error") == Some("invalid_request"), "{back:?}");
    Ok(())
}

#[tokio::test]
async fn the_api_wants_a_user_agent_a_live_token_and_the_scope() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let token = token_for(&idp, "ada", "read:user user:email").await?;
    let r = idp
        .http
        .get(idp.url("/github/user"))
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(r.status() == 403, "no User-Agent: {}", r.status());
    let (status, body) = api(&idp, "/github/user", "gho_bogus").await?;
    ensure!(
        status == 401 && body["message"] == "Bad credentials",
        "{status} {body}"
    );

    let narrow = token_for(&idp, "ada", "read:user").await?;
    let (status, _) = api(&idp, "/github/user/emails", &narrow).await?;
    ensure!(status == 404, "emails without user:email: {status}");

    let redirect = redirect("github");
    let code = idp
        .code(
            AUTHORIZE,
            &authorize_query(None, &redirect, "read:user user:email"),
            &redirect,
            "ada",
            "api_error",
        )
        .await?;
    let (_, tokens) = exchange(
        &idp,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", &redirect),
        ],
    )
    .await?;
    let token = tokens["access_token"].as_str().context("no token")?;
    ensure!(
        api(&idp, "/github/user", token).await?.0 == 500,
        "api_error"
    );
    Ok(())
}
