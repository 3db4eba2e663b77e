//! Scenarios for Keycard as the OpenID Provider of the platform's apps: an app's sign-in (the
//! authorization endpoint with a browser session, then the code redeemed for an ID token and an
//! access token), its refresh-token rotations, userinfo, introspection, and the device flow's
//! polling. The apps are registered by `scripts/bench` with `keycard clients add`.

use crate::{PASSWORD, Rate, User, register_users, run_for};
use anyhow::{Context, bail};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

/// A confidential app as registered for the benchmark.
#[derive(Clone)]
pub struct App {
    pub id: String,
    pub secret: String,
    pub redirect_uri: String,
}

impl App {
    fn basic(&self) -> String {
        use base64::Engine as _;
        let pair = format!("{}:{}", self.id, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A client that leaves redirects to the scenario: the authorization answer is a redirect.
fn no_redirects() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .timeout(std::time::Duration::from_secs(60))
        .build()?)
}

/// `name=value` of every cookie a response sets, for the next request's `Cookie` header.
fn cookies_of(r: &reqwest::Response, into: &mut Vec<(String, String)>) {
    for v in r.headers().get_all(SET_COOKIE) {
        let Some(pair) = v.to_str().ok().and_then(|s| s.split(';').next()) else {
            continue;
        };
        if let Some((name, value)) = pair.split_once('=') {
            into.retain(|(n, _)| n != name);
            into.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + "value=\"".len();
    let end = rest[start..].find('"')?;
    Some(rest[start..start + end].to_owned())
}

/// Signs `user` in on the hosted page, as a browser does; the session's `Cookie` header.
async fn browser_session(c: &reqwest::Client, url: &str, user: &User) -> anyhow::Result<String> {
    let mut jar = Vec::new();
    let r = c
        .get(format!("{url}/login?return_to=/account"))
        .header("x-forwarded-for", &user.ip)
        .send()
        .await?;
    cookies_of(&r, &mut jar);
    let csrf = field(&r.text().await?, "csrf").context("no csrf field on /login")?;
    let r = c
        .post(format!("{url}/login"))
        .header("x-forwarded-for", &user.ip)
        .header("origin", url)
        .header(COOKIE, cookie_header(&jar))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", &csrf),
            ("return_to", "/account"),
            ("email", &user.email),
            ("password", PASSWORD),
        ]))
        .send()
        .await?;
    if r.status().as_u16() != 303 {
        bail!("hosted sign-in failed: {}", r.status());
    }
    cookies_of(&r, &mut jar);
    Ok(cookie_header(&jar))
}

/// One authorization request answered from the browser session: the code.
async fn authorize(
    c: &reqwest::Client,
    url: &str,
    app: &App,
    user: &User,
    cookie: &str,
) -> anyhow::Result<(u16, Option<String>)> {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &app.id),
        ("redirect_uri", &app.redirect_uri),
        ("scope", "openid profile email"),
        ("state", "bench-state"),
        ("nonce", "bench-nonce"),
    ]);
    let r = c
        .get(format!("{url}/oauth2/authorize?{query}"))
        .header("x-forwarded-for", &user.ip)
        .header(COOKIE, cookie)
        .send()
        .await?;
    let status = r.status().as_u16();
    let code = r
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| reqwest::Url::parse(l).ok())
        .and_then(|l| {
            l.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        });
    Ok((status, code))
}

async fn token(
    c: &reqwest::Client,
    url: &str,
    app: &App,
    body: &[(&str, &str)],
) -> anyhow::Result<(u16, Value)> {
    let r = c
        .post(format!("{url}/oauth2/token"))
        .header(AUTHORIZATION, app.basic())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(body))
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn redeem(
    c: &reqwest::Client,
    url: &str,
    app: &App,
    code: &str,
) -> anyhow::Result<(u16, Value)> {
    token(
        c,
        url,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &app.redirect_uri),
        ],
    )
    .await
}

/// A person signed in on the hosted page, with the app's first tokens.
struct Person {
    user: User,
    cookie: String,
    tokens: Value,
}

async fn people(url: &str, app: &App, n: usize) -> anyhow::Result<(reqwest::Client, Vec<Person>)> {
    let c = no_redirects()?;
    let users = register_users(&c, url, n).await?;
    let mut out = Vec::with_capacity(n);
    for user in users {
        let cookie = browser_session(&c, url, &user).await?;
        let (status, code) = authorize(&c, url, app, &user, &cookie).await?;
        let code = code.with_context(|| format!("no code from /oauth2/authorize ({status})"))?;
        let (status, tokens) = redeem(&c, url, app, &code).await?;
        if status != 200 {
            bail!("code redemption failed: {status} {tokens}");
        }
        out.push(Person {
            user,
            cookie,
            tokens,
        });
    }
    Ok((c, out))
}

fn report(what: &str, r: &Rate) {
    crate::report(what, r);
}

/// Each iteration is an app's whole sign-in for a signed-in person: the authorization request
/// (a code), then the code redeemed for an ID token and an access token signed with the app's
/// algorithm.
pub async fn sign_ins(
    url: &str,
    app: &App,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (c, people) = people(url, app, concurrency).await?;
    let (url, app) = (url.to_owned(), app.clone());
    let rate = run_for(
        seconds,
        people,
        move |c: reqwest::Client, p: Person| {
            let (url, app) = (url.clone(), app.clone());
            async move {
                let (status, code) = authorize(&c, &url, &app, &p.user, &p.cookie).await?;
                let Some(code) = code else {
                    return Ok((status, p));
                };
                let (status, _) = redeem(&c, &url, &app, &code).await?;
                Ok((status, p))
            }
        },
        &c,
    )
    .await?;
    report("app sign-ins/s (authorize + code redeemed)", &rate);
    Ok(())
}

pub async fn refreshes(
    url: &str,
    app: &App,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (c, people) = people(url, app, concurrency).await?;
    let chains: Vec<String> = people
        .iter()
        .map(|p| {
            p.tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let (url, app) = (url.to_owned(), app.clone());
    let rate = run_for(
        seconds,
        chains,
        move |c: reqwest::Client, rt: String| {
            let (url, app) = (url.clone(), app.clone());
            async move {
                let (status, body) = token(
                    &c,
                    &url,
                    &app,
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await?;
                let next = body["refresh_token"].as_str().map_or(rt, str::to_owned);
                Ok((status, next))
            }
        },
        &c,
    )
    .await?;
    report("app refresh-token rotations/s", &rate);
    Ok(())
}

fn access_tokens(people: &[Person]) -> Vec<String> {
    people
        .iter()
        .map(|p| {
            p.tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

pub async fn userinfo(
    url: &str,
    app: &App,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (c, people) = people(url, app, concurrency).await?;
    let endpoint = format!("{url}/oauth2/userinfo");
    let rate = run_for(
        seconds,
        access_tokens(&people),
        move |c: reqwest::Client, at: String| {
            let endpoint = endpoint.clone();
            async move {
                let r = c.get(&endpoint).bearer_auth(&at).send().await?;
                let status = r.status().as_u16();
                let _ = r.bytes().await?;
                Ok((status, at))
            }
        },
        &c,
    )
    .await?;
    report("GET /oauth2/userinfo/s", &rate);
    Ok(())
}

/// A resource server asking about each request's token (RFC 7662), authenticated as the app.
pub async fn introspection(
    url: &str,
    app: &App,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (c, people) = people(url, app, concurrency).await?;
    let (endpoint, basic) = (format!("{url}/oauth2/introspect"), app.basic());
    let rate = run_for(
        seconds,
        access_tokens(&people),
        move |c: reqwest::Client, at: String| {
            let (endpoint, basic) = (endpoint.clone(), basic.clone());
            async move {
                let r = c
                    .post(&endpoint)
                    .header(AUTHORIZATION, basic)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form(&[("token", &at)]))
                    .send()
                    .await?;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                // An inactive answer is a 200 too: only an active one counts.
                let status = if body["active"] == true { status } else { 599 };
                Ok((status, at))
            }
        },
        &c,
    )
    .await?;
    report("POST /oauth2/introspect/s (active tokens)", &rate);
    Ok(())
}

/// Devices waiting for a person, each polling the token endpoint as fast as it can: every
/// answer is `authorization_pending` or `slow_down` (a 400 by RFC 8628), which counts as served.
pub async fn device_polls(
    url: &str,
    client_id: &str,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let c = no_redirects()?;
    let mut codes = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let r = c
            .post(format!("{url}/oauth2/device_authorization"))
            .header("x-forwarded-for", crate::ip_for(20_000 + i))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[("client_id", client_id), ("scope", "openid")]))
            .send()
            .await?;
        let body: Value = r.json().await?;
        codes.push(
            body["device_code"]
                .as_str()
                .with_context(|| format!("no device_code: {body}"))?
                .to_owned(),
        );
    }
    let (endpoint, client_id) = (format!("{url}/oauth2/token"), client_id.to_owned());
    let rate = run_for(
        seconds,
        codes,
        move |c: reqwest::Client, code: String| {
            let (endpoint, client_id) = (endpoint.clone(), client_id.clone());
            async move {
                let r = c
                    .post(&endpoint)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form(&[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                        ("device_code", &code),
                        ("client_id", &client_id),
                    ]))
                    .send()
                    .await?;
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let waiting = matches!(
                    body["error"].as_str(),
                    Some("authorization_pending" | "slow_down")
                );
                Ok((if waiting { 200 } else { 599 }, code))
            }
        },
        &c,
    )
    .await?;
    report("device polls answered/s (pending or slow_down)", &rate);
    Ok(())
}
