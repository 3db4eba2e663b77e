//! Keycard as OpenID Provider, over HTTP as a browser and an app's back end use it: discovery,
//! the authorization endpoint through the hosted sign-in and consent pages, the token endpoint
//! and userinfo. The apps are those of `keycard_testkit::apps`, seeded in-process and in the
//! test stack alike.

mod admin;
mod admin_users;
mod device;
mod flow;
mod keys;
mod logout;
mod relying_party;
mod revocation;
mod rules;
mod sessions;

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keycard_testkit::{Browser, PASSWORD, Reply, TestApp, field_value, location, unique_email};
use reqwest::Method;
use serde_json::Value;

/// A PKCE pair (RFC 7636): a fresh verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        Self {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier,
        }
    }
}

/// `/oauth2/authorize?…` with these parameters.
pub fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    app.url(&format!("/oauth2/authorize?{}", q.finish()))
}

/// The usual request of the `shop` app: code flow, PKCE, state and nonce.
pub fn shop_request(app: &TestApp, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", keycard_testkit::apps::SHOP),
        ("redirect_uri", keycard_testkit::apps::SHOP_REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ];
    // An extra parameter replaces the usual one of its name.
    params.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    params.extend_from_slice(extra);
    authorize_url(app, &params)
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> Result<std::collections::HashMap<String, String>> {
    let u = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    Ok(u.query_pairs().into_owned().collect())
}

/// Absolute form of a Location that may be a path on Keycard.
pub fn absolute(app: &TestApp, loc: &str) -> String {
    if loc.starts_with('/') {
        app.url(loc)
    } else {
        loc.to_owned()
    }
}

pub(crate) use crate::pages::submit;

/// Signs up a new person on the page in `browser`; returns the email.
pub async fn signed_up(app: &TestApp, browser: &Browser, name: &str) -> Result<String> {
    let email = unique_email();
    signed_up_as(app, browser, name, &email).await?;
    Ok(email)
}

/// Signs up `email` on the page in `browser`.
pub async fn signed_up_as(app: &TestApp, browser: &Browser, name: &str, email: &str) -> Result<()> {
    let page = browser
        .navigate(&app.url("/register?return_to=/account"))
        .await?
        .expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf on /register")?;
    let reply = submit(
        app,
        browser,
        "/register",
        &[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("name", name),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    ensure!(reply.status.as_u16() == 303, "sign-up: {reply}");
    Ok(())
}

/// Follows an authorization request that leads to the sign-in page, signs in there as
/// `email`, and returns where Keycard sends the browser after the sign-in.
pub async fn sign_in_through(
    app: &TestApp,
    browser: &Browser,
    authorize: &str,
    email: &str,
) -> Result<String> {
    let reply = browser.navigate(authorize).await?;
    let to_login = absolute(app, &location(&reply)?);
    ensure!(
        to_login.contains("/login?"),
        "not sent to sign in: {to_login}"
    );
    let page = browser.navigate(&to_login).await?.expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf on /login")?;
    let return_to = field_value(&page.text, "return_to").context("return_to on /login")?;
    let reply = submit(
        app,
        browser,
        "/login",
        &[
            ("csrf", &csrf),
            ("return_to", &return_to),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await?;
    Ok(absolute(app, &location(&reply)?))
}

/// Opens the consent page at `url` and answers it; returns Keycard's redirect.
pub async fn answer_consent(
    app: &TestApp,
    browser: &Browser,
    url: &str,
    decision: &str,
) -> Result<String> {
    let page = browser.navigate(url).await?.expect_status(200)?;
    ensure!(
        page.text.contains("id=\"allow\""),
        "not the consent page: {page}"
    );
    let csrf = field_value(&page.text, "csrf").context("csrf on consent")?;
    let request = field_value(&page.text, "request").context("request on consent")?;
    let reply = submit(
        app,
        browser,
        "/oauth2/consent",
        &[
            ("csrf", &csrf),
            ("request", &request),
            ("decision", decision),
        ],
    )
    .await?;
    location(&reply)
}

/// The code (and checked `state` and `iss`) of an answer at the app's redirect URI.
pub async fn code_of(app: &TestApp, answer: &str, redirect: &str) -> Result<String> {
    ensure!(
        answer.starts_with(redirect),
        "answer not at {redirect}: {answer}"
    );
    let q = query_of(answer)?;
    if let Some(e) = q.get("error") {
        bail!(
            "the answer is an error: {e} {:?}",
            q.get("error_description")
        );
    }
    ensure!(
        q.get("state").map(String::as_str) == Some("st-123"),
        "state: {answer}"
    );
    ensure!(
        q.get("iss") == Some(&issuer(app).await?),
        "iss (RFC 9207): {answer}"
    );
    q.get("code").cloned().context("no code")
}

/// The discovery document.
pub async fn discovery(app: &TestApp) -> Result<Value> {
    app.get("/.well-known/openid-configuration")
        .await?
        .expect_status(200)?
        .json()
}

/// The issuer, as discovery announces it.
pub async fn issuer(app: &TestApp) -> Result<String> {
    discovery(app).await?["issuer"]
        .as_str()
        .map(str::to_owned)
        .context("no issuer in discovery")
}

/// `POST /oauth2/token` with a form, optionally with Basic client credentials.
pub async fn token(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Result<Reply> {
    let mut req = app.http().post(app.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    keycard_testkit::send(req).await
}

/// Redeems a code of the `shop` app.
/// A back-end service's token, by `client_credentials`.
pub async fn service_token(app: &TestApp, id: &str, secret: &str, scope: &str) -> Result<String> {
    let r = token(
        app,
        &[("grant_type", "client_credentials"), ("scope", scope)],
        Some((id, secret)),
    )
    .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    r.json()?["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("access_token")
}

/// A token of the seeded admin app (`keycard:admin`).
pub async fn admin_token(app: &TestApp) -> Result<String> {
    use keycard_testkit::apps::{OPS, OPS_SECRET};
    service_token(app, OPS, OPS_SECRET, "keycard:admin").await
}

/// Finds an account through the admin API; its `AdminUser` answer.
pub async fn admin_find(app: &TestApp, admin: &str, email: &str) -> Result<Value> {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("email", email);
    let found = app
        .bearer_get(&format!("/admin/v1/users?{}", q.finish()), admin)
        .await?
        .expect_status(200)?
        .json()?;
    found["users"]
        .get(0)
        .cloned()
        .with_context(|| format!("{email} not found: {found}"))
}

/// Disables (`enabled: false`) or enables an account through the admin API.
pub async fn admin_set_enabled(
    app: &TestApp,
    admin: &str,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
) -> Result<Value> {
    let mut body = serde_json::json!({ "enabled": enabled });
    if let Some(r) = reason {
        body["reason"] = Value::from(r);
    }
    app.bearer_patch(&format!("/admin/v1/users/{id}"), admin, &body)
        .await?
        .expect_status(200)?
        .json()
}

pub async fn shop_redeem(app: &TestApp, code: &str, pkce: &Pkce) -> Result<Reply> {
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", keycard_testkit::apps::SHOP_REDIRECT),
            ("client_id", keycard_testkit::apps::SHOP),
            ("code_verifier", &pkce.verifier),
        ],
        None,
    )
    .await
}

/// The `error` of an RFC 6749 §5.2 answer.
pub fn oauth_error(reply: &Reply) -> Result<String> {
    let body: Value = reply.json()?;
    body["error"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no error in {reply}"))
}

/// A new person who allowed `shop`, and the tokens `shop` got: (browser, email, token answer).
pub async fn shop_tokens(
    app: &TestApp,
    extra: &[(&str, &str)],
) -> Result<(Browser, String, Value)> {
    let browser = app.browser()?;
    let email = signed_up(app, &browser, "Ada Lovelace").await?;
    let pkce = Pkce::new();
    let answer = answer_consent(app, &browser, &shop_request(app, &pkce, extra), "allow").await?;
    let code = code_of(app, &answer, keycard_testkit::apps::SHOP_REDIRECT).await?;
    let reply = shop_redeem(app, &code, &pkce).await?;
    ensure!(reply.status.as_u16() == 200, "{reply}");
    Ok((browser, email, reply.json()?))
}
