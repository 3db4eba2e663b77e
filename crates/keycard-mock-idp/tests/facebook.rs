//! The Facebook double over HTTP: the login dialog, the Graph code exchange (by POST or GET),
//! `/me` with the fields asked for, and what Facebook refuses, in Graph's words.

mod common;

use anyhow::{Context, Result, ensure};
use common::{Double, SECRET, back_at, challenge, param, redirect, start, verifier};
use serde_json::Value;
use std::time::Duration;

const DIALOG: &str = "/facebook/dialog/oauth";
const TOKEN: &str = "/facebook/oauth/access_token";

fn dialog_query<'a>(challenge: Option<&'a str>, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut q = vec![
        ("client_id", "keycard"),
        ("redirect_uri", redirect),
        ("state", "st4te"),
        ("scope", "email,public_profile"),
        ("response_type", "code"),
    ];
    if let Some(c) = challenge {
        q.push(("code_challenge", c));
        q.push(("code_challenge_method", "S256"));
    }
    q
}

/// Posts the exchange as a form; `(status, body)`.
async fn exchange(idp: &Double, form: &[(&str, &str)]) -> Result<(u16, Value)> {
    let r = idp.http.post(idp.url(TOKEN)).form(form).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn me(idp: &Double, token: &str, fields: &str) -> Result<(u16, Value)> {
    let r = idp
        .http
        .get(idp.url("/facebook/me"))
        .query(&[("fields", fields)])
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// A Graph error object: `(message, code)`.
fn graph_error(body: &Value) -> Option<(&str, i64)> {
    let e = &body["error"];
    (e["type"] == "OAuthException").then_some((e["message"].as_str()?, e["code"].as_i64()?))
}

#[tokio::test]
async fn the_login_dialog_and_graph_yield_a_profile() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("facebook");
    let v = verifier();
    let ch = challenge(&v);
    let page = idp
        .page(DIALOG, &dialog_query(Some(&ch), &redirect))
        .await?;
    ensure!(
        page.decide_url == idp.url("/facebook/dialog/oauth/decide"),
        "{}",
        page.decide_url
    );
    for part in [
        "Sign in with Facebook",
        "id=\"user-ada\"",
        "id=\"deny\"",
        "<option>api_error</option>",
    ] {
        ensure!(page.html.contains(part), "no {part} in the page");
    }
    ensure!(!page.html.contains("alg_none"), "an ID-token fault offered");
    let r = idp.decide(&page, &[("user", "ada"), ("fault", "")]).await?;
    let back = back_at(&r, &redirect)?;
    ensure!(param(&back, "state") == Some("st4te"), "{back:?}");
    ensure!(
        param(&back, "iss").is_none(),
        "Facebook sends no iss: {back:?}"
    );
    let code = param(&back, "code").context("no code")?;

    let (status, tokens) = exchange(
        &idp,
        &[
            ("client_id", "keycard"),
            ("client_secret", SECRET),
            ("redirect_uri", &redirect),
            ("code", code),
            ("code_verifier", &v),
        ],
    )
    .await?;
    ensure!(status == 200, "{status} {tokens}");
    ensure!(
        tokens["token_type"] == "bearer" && tokens["expires_in"].is_u64(),
        "{tokens}"
    );
    let token = tokens["access_token"].as_str().context("no access_token")?;

    let (status, profile) = me(&idp, token, "id,name,email,picture").await?;
    ensure!(status == 200, "{status} {profile}");
    let id = profile["id"].as_str().context("no id")?;
    ensure!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "{profile}"
    );
    ensure!(profile["name"] == "Ada Lovelace", "{profile}");
    ensure!(profile["email"] == "ada@example.com", "{profile}");
    ensure!(
        profile["email_verified"].is_null(),
        "Facebook has no email_verified"
    );
    ensure!(
        profile["picture"]["data"]["url"] == "https://pictures.example.com/ada.png",
        "{profile}"
    );

    // Graph also takes the token in the query, and answers only the fields asked for (id
    // always).
    let r = idp
        .http
        .get(idp.url("/facebook/me"))
        .query(&[("fields", "name"), ("access_token", token)])
        .send()
        .await?;
    let lean: Value = r.json().await?;
    ensure!(
        lean["id"] == id && lean["name"] == "Ada Lovelace" && lean.get("email").is_none(),
        "{lean}"
    );
    Ok(())
}

#[tokio::test]
async fn only_a_confirmed_address_is_shared_and_tags_make_other_people() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("facebook");
    let mut ids = Vec::new();
    for (user, email) in [
        ("ada", Some("ada@example.com")),
        ("ada+fb1", Some("ada+fb1@example.com")),
        // Grace's address is not confirmed: Facebook leaves it out.
        ("grace", None),
        ("alan", None),
    ] {
        let code = idp
            .code(DIALOG, &dialog_query(None, &redirect), &redirect, user, "")
            .await?;
        // The exchange by GET, with the parameters in the query, as Facebook documents it.
        let r = idp
            .get(
                TOKEN,
                &[
                    ("client_id", "keycard"),
                    ("client_secret", SECRET),
                    ("redirect_uri", &redirect),
                    ("code", &code),
                ],
            )
            .await?;
        ensure!(r.status() == 200, "{user}: {}", r.status());
        let tokens: Value = r.json().await?;
        let token = tokens["access_token"].as_str().context("no access_token")?;
        let (_, profile) = me(&idp, token, "id,name,email").await?;
        ensure!(profile["email"].as_str() == email, "{user}: {profile}");
        ids.push(profile["id"].as_str().context("no id")?.to_owned());
    }
    ids.sort();
    ids.dedup();
    ensure!(ids.len() == 4, "ids are not one per person: {ids:?}");
    Ok(())
}

#[tokio::test]
async fn what_facebook_refuses_is_refused_in_graph_words() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("facebook");
    let v = verifier();
    let ch = challenge(&v);
    let with_pkce = dialog_query(Some(&ch), &redirect);
    let form = |code: &str, secret: &str, redirect: &str, verifier: Option<&str>| {
        let mut f = vec![
            ("client_id", "keycard".to_owned()),
            ("client_secret", secret.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("code", code.to_owned()),
        ];
        if let Some(v) = verifier {
            f.push(("code_verifier", v.to_owned()));
        }
        f
    };
    let send = |f: Vec<(&'static str, String)>| {
        let idp = &idp;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            exchange(idp, &f).await
        }
    };

    // A code is good once.
    let code = idp.code(DIALOG, &with_pkce, &redirect, "ada", "").await?;
    ensure!(send(form(&code, SECRET, &redirect, Some(&v))).await?.0 == 200);
    let (status, body) = send(form(&code, SECRET, &redirect, Some(&v))).await?;
    ensure!(
        status == 400 && graph_error(&body).is_some_and(|(_, c)| c == 100),
        "replayed code: {status} {body}"
    );

    // A wrong secret; a wrong redirect URI; a wrong or missing verifier.
    let code = idp.code(DIALOG, &with_pkce, &redirect, "ada", "").await?;
    let (status, body) = send(form(&code, "wrong", &redirect, Some(&v))).await?;
    ensure!(
        status == 400 && graph_error(&body).is_some_and(|(_, c)| c == 101),
        "wrong secret: {status} {body}"
    );
    for (redirect_uri, verifier) in [
        ("http://localhost:8080/other", Some(v.as_str())),
        (
            redirect.as_str(),
            Some("a-different-verifier-of-forty-three-characters-000"),
        ),
        (redirect.as_str(), None),
    ] {
        let code = idp.code(DIALOG, &with_pkce, &redirect, "ada", "").await?;
        let (status, body) = send(form(&code, SECRET, redirect_uri, verifier)).await?;
        ensure!(
            status == 400 && graph_error(&body).is_some(),
            "{redirect_uri} {verifier:?}: {status} {body}"
        );
    }

    // Denied: the error, Facebook's reason, and the state.
    let page = idp.page(DIALOG, &with_pkce).await?;
    let r = idp.decide(&page, &[("deny", "1")]).await?;
    let back = back_at(&r, &redirect)?;
    ensure!(
        param(&back, "error") == Some("access_denied")
            && param(&back, "error_reason") == Some("user_denied")
            && param(&back, "state") == Some("st4te"),
        "{back:?}"
    );

    // An unregistered redirect URI gets a page, never a redirect; an unknown permission goes
    // back as invalid_scope.
    let r = idp
        .get(DIALOG, &dialog_query(None, "https://evil.example/cb"))
        .await?;
    ensure!(r.status() == 400 && r.headers().get("location").is_none());
    let mut q = dialog_query(None, &redirect);
    q.retain(|(k, _)| *k != "scope");
    q.push(("scope", "email,user_everything"));
    let back = back_at(&idp.get(DIALOG, &q).await?, &redirect)?;
    ensure!(param(&back, "error") == Some("invalid_scope"), "{back:?}");

    // Graph: a bogus token, an unknown field.
    let (status, body) = me(&idp, "EAAbogus", "id").await?;
    ensure!(
        status == 400 && graph_error(&body).is_some_and(|(_, c)| c == 190),
        "bogus token: {status} {body}"
    );
    let code = idp.code(DIALOG, &with_pkce, &redirect, "ada", "").await?;
    let (_, tokens) = send(form(&code, SECRET, &redirect, Some(&v))).await?;
    let token = tokens["access_token"].as_str().context("no token")?;
    let (status, body) = me(&idp, token, "id,favourite_colour").await?;
    ensure!(status == 400 && graph_error(&body).is_some(), "{body}");
    Ok(())
}

#[tokio::test]
async fn faults_fail_the_step_they_name() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let redirect = redirect("facebook");
    let q = dialog_query(None, &redirect);
    let redeem = |code: String| {
        let (idp, redirect) = (&idp, &redirect);
        async move {
            exchange(
                idp,
                &[
                    ("client_id", "keycard"),
                    ("client_secret", SECRET),
                    ("redirect_uri", redirect),
                    ("code", &code),
                ],
            )
            .await
        }
    };
    let code = idp
        .code(DIALOG, &q, &redirect, "ada", "server_error")
        .await?;
    ensure!(redeem(code).await?.0 == 500, "server_error");
    let code = idp.code(DIALOG, &q, &redirect, "ada", "garbage").await?;
    let (status, body) = redeem(code).await?;
    ensure!(status == 200 && body.is_null(), "garbage: {status} {body}");

    let code = idp.code(DIALOG, &q, &redirect, "ada", "api_error").await?;
    let (status, tokens) = redeem(code).await?;
    ensure!(status == 200, "api_error fails the API, not the exchange");
    let token = tokens["access_token"].as_str().context("no token")?;
    let (status, _) = me(&idp, token, "id").await?;
    ensure!(status == 500, "api_error: /me answered {status}");

    // A fault the page does not offer is refused.
    let page = idp.page(DIALOG, &q).await?;
    let r = idp
        .decide(&page, &[("user", "ada"), ("fault", "alg_none")])
        .await?;
    ensure!(r.status() == 400, "{}", r.status());
    Ok(())
}

#[tokio::test]
async fn codes_expire() -> Result<()> {
    let idp = start(Duration::from_millis(300)).await?;
    let redirect = redirect("facebook");
    let code = idp
        .code(DIALOG, &dialog_query(None, &redirect), &redirect, "ada", "")
        .await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = exchange(
        &idp,
        &[
            ("client_id", "keycard"),
            ("client_secret", SECRET),
            ("redirect_uri", &redirect),
            ("code", &code),
        ],
    )
    .await?;
    ensure!(
        status == 400 && graph_error(&body).is_some(),
        "{status} {body}"
    );
    Ok(())
}
