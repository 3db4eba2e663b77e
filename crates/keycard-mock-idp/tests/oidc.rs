//! The OpenID Connect double, driven over HTTP as Keycard (and a person's browser) will: the whole
//! code flow with PKCE and a verified ID token, and each thing a real provider refuses.

use anyhow::{Context, Result, bail, ensure};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keycard_mock_idp::{Client, Config, router};
use serde_json::Value;
use std::time::Duration;

const REDIRECT: &str = "http://localhost:8080/v1/auth/social/google/callback";
const SECRET: &str = "s3cret/with+chars";

struct Double {
    base: String,
    http: reqwest::Client,
}

async fn start(code_ttl: Duration) -> Result<Double> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let mut config = Config::new(
        origin.clone(),
        vec![Client {
            id: "keycard".into(),
            secret: SECRET.into(),
            redirect_uris: vec![REDIRECT.into()],
        }],
    );
    config.code_ttl = code_ttl;
    let app = router(config)?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Double {
        base: format!("{origin}/google"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    })
}

fn verifier() -> String {
    "a-verifier-of-forty-three-characters-or-more-0123456789".into()
}

fn challenge(v: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, v.as_bytes()))
}

/// The query parameters of a redirect's Location.
fn location_params(r: &reqwest::Response) -> Result<Vec<(String, String)>> {
    let loc = r
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?;
    ensure!(loc.starts_with(REDIRECT), "redirected elsewhere: {loc}");
    let url = reqwest::Url::parse(loc)?;
    Ok(url.query_pairs().into_owned().collect())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Double {
    /// Opens the authorization page and returns its request id.
    async fn authorize(&self, extra: &[(&str, &str)]) -> Result<String> {
        let mut q = vec![
            ("response_type", "code"),
            ("client_id", "keycard"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email profile"),
            ("state", "st4te"),
            ("nonce", "n0nce"),
        ];
        q.extend_from_slice(extra);
        let r = self
            .http
            .get(format!("{}/authorize", self.base))
            .query(&q)
            .send()
            .await?;
        ensure!(r.status() == 200, "authorize answered {}", r.status());
        let page = r.text().await?;
        let start = page
            .find("name=\"request\" value=\"")
            .context("no request id in the page")?
            + "name=\"request\" value=\"".len();
        let end = page[start..].find('"').context("unterminated")? + start;
        Ok(page[start..end].to_owned())
    }

    async fn choose(&self, request: &str, user: &str) -> Result<Vec<(String, String)>> {
        let r = self
            .http
            .post(format!("{}/authorize/decide", self.base))
            .form(&[("request", request), ("user", user)])
            .send()
            .await?;
        ensure!(
            r.status().is_redirection(),
            "decide answered {}",
            r.status()
        );
        location_params(&r)
    }

    async fn redeem(&self, form: &[(&str, &str)], basic: bool) -> Result<(u16, Value)> {
        let mut req = self.http.post(format!("{}/token", self.base));
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if basic {
            req = req.basic_auth("keycard", Some("s3cret%2Fwith%2Bchars"));
        } else {
            fields.push(("client_id", "keycard"));
            fields.push(("client_secret", SECRET));
        }
        let r = req.form(&fields).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    async fn code_for(&self, user: &str, pkce: Option<&str>) -> Result<String> {
        let ch = pkce.map(challenge);
        let mut extra = Vec::new();
        if let Some(c) = &ch {
            extra.push(("code_challenge", c.as_str()));
            extra.push(("code_challenge_method", "S256"));
        }
        let request = self.authorize(&extra).await?;
        let back = self.choose(&request, user).await?;
        Ok(param(&back, "code").context("no code")?.to_owned())
    }
}

#[tokio::test]
async fn the_code_flow_with_pkce_yields_a_verifiable_id_token_and_userinfo() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let discovery: Value = idp
        .http
        .get(format!("{}/.well-known/openid-configuration", idp.base))
        .send()
        .await?
        .json()
        .await?;
    ensure!(discovery["issuer"] == idp.base.as_str(), "{discovery}");
    ensure!(discovery["code_challenge_methods_supported"] == serde_json::json!(["S256"]));

    let v = verifier();
    let request = idp
        .authorize(&[
            ("code_challenge", &challenge(&v)),
            ("code_challenge_method", "S256"),
        ])
        .await?;
    let back = idp.choose(&request, "ada").await?;
    ensure!(param(&back, "state") == Some("st4te"), "{back:?}");
    ensure!(param(&back, "iss") == Some(idp.base.as_str()), "{back:?}");
    let code = param(&back, "code").context("no code")?;
    let (status, tokens) = idp
        .redeem(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &v),
            ],
            true,
        )
        .await?;
    ensure!(status == 200, "{status} {tokens}");

    // The ID token verifies against the published key, with the claims a client checks.
    let jwks: Value = idp
        .http
        .get(format!("{}/jwks", idp.base))
        .send()
        .await?
        .json()
        .await?;
    let key = &jwks["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap_or_default(),
        key["e"].as_str().unwrap_or_default(),
    )?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["keycard"]);
    validation.set_issuer(&[idp.base.as_str()]);
    let id_token = tokens["id_token"].as_str().context("no id_token")?;
    let header = jsonwebtoken::decode_header(id_token)?;
    ensure!(header.kid.as_deref() == key["kid"].as_str(), "kid");
    let claims = jsonwebtoken::decode::<Value>(id_token, &decoding, &validation)?.claims;
    ensure!(claims["nonce"] == "n0nce", "{claims}");
    ensure!(claims["sub"] == "google-ada-0001", "{claims}");
    ensure!(
        claims["email"] == "ada@example.com" && claims["email_verified"] == true,
        "{claims}"
    );
    ensure!(claims["name"] == "Ada Lovelace", "{claims}");

    let info: Value = idp
        .http
        .get(format!("{}/userinfo", idp.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap_or_default())
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        info["sub"] == claims["sub"] && info["picture"].is_string(),
        "{info}"
    );
    Ok(())
}

#[tokio::test]
async fn users_without_a_verified_email_say_so() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    for (user, email, verified) in [
        ("grace", Some("grace@example.com"), false),
        ("alan", None, false),
    ] {
        let code = idp.code_for(user, None).await?;
        let (status, tokens) = idp
            .redeem(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ],
                false,
            )
            .await?;
        ensure!(status == 200, "{status} {tokens}");
        let payload = tokens["id_token"]
            .as_str()
            .and_then(|t| t.split('.').nth(1))
            .context("no id_token")?;
        let claims: Value = serde_json::from_slice(&B64.decode(payload)?)?;
        ensure!(claims["email"].as_str() == email, "{user}: {claims}");
        if email.is_some() {
            ensure!(claims["email_verified"] == verified, "{user}: {claims}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn what_a_real_provider_refuses_is_refused() -> Result<()> {
    let idp = start(Duration::from_secs(60)).await?;
    let v = verifier();
    let redeem = |code: String, verifier: Option<String>, redirect: &'static str| {
        let idp = &idp;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", redirect.to_owned()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            idp.redeem(&form, true).await
        }
    };

    // A code is good once.
    let code = idp.code_for("ada", Some(&v)).await?;
    ensure!(redeem(code.clone(), Some(v.clone()), REDIRECT).await?.0 == 200);
    let (status, body) = redeem(code, Some(v.clone()), REDIRECT).await?;
    ensure!(
        status == 400 && body["error"] == "invalid_grant",
        "replayed code: {status} {body}"
    );

    // PKCE: a wrong verifier, a missing one, and one without a challenge.
    let code = idp.code_for("ada", Some(&v)).await?;
    let (status, body) = redeem(code, Some(format!("{v}x")), REDIRECT).await?;
    ensure!(
        status == 400 && body["error"] == "invalid_grant",
        "wrong verifier: {body}"
    );
    let code = idp.code_for("ada", Some(&v)).await?;
    let (status, _) = redeem(code, None, REDIRECT).await?;
    ensure!(status == 400, "missing verifier accepted");
    let code = idp.code_for("ada", None).await?;
    let (status, _) = redeem(code, Some(v.clone()), REDIRECT).await?;
    ensure!(
        status == 400,
        "a verifier without a challenge accepted (downgrade)"
    );

    // The redirect URI must be the authorization request's, exactly.
    let code = idp.code_for("ada", Some(&v)).await?;
    let (status, body) = redeem(code, Some(v.clone()), "http://localhost:8080/other").await?;
    ensure!(status == 400 && body["error"] == "invalid_grant", "{body}");

    // A wrong secret, or none.
    let code = idp.code_for("ada", None).await?;
    let r = idp
        .http
        .post(format!("{}/token", idp.base))
        .basic_auth("keycard", Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await?;
    ensure!(r.status() == 401, "wrong secret: {}", r.status());
    let r = idp
        .http
        .post(format!("{}/token", idp.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await?;
    ensure!(
        r.status() == 401,
        "no client authentication: {}",
        r.status()
    );

    // An unregistered redirect URI or client gets an error page, never a redirect.
    for (client, redirect) in [
        ("keycard", "https://evil.example/cb"),
        ("someone", REDIRECT),
    ] {
        let r = idp
            .http
            .get(format!("{}/authorize", idp.base))
            .query(&[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("scope", "openid"),
            ])
            .send()
            .await?;
        ensure!(
            r.status() == 400 && r.headers().get("location").is_none(),
            "{client} {redirect}: {}",
            r.status()
        );
    }
    // PKCE `plain` is refused, back to the client.
    let r = idp
        .http
        .get(format!("{}/authorize", idp.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", "keycard"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", v.as_str()),
            ("code_challenge_method", "plain"),
        ])
        .send()
        .await?;
    let back = location_params(&r)?;
    ensure!(param(&back, "error") == Some("invalid_request"), "{back:?}");

    // The person denies: access_denied, with the state.
    let request = idp.authorize(&[]).await?;
    let r = idp
        .http
        .post(format!("{}/authorize/decide", idp.base))
        .form(&[("request", request.as_str()), ("deny", "1")])
        .send()
        .await?;
    let back = location_params(&r)?;
    ensure!(
        param(&back, "error") == Some("access_denied") && param(&back, "state") == Some("st4te"),
        "{back:?}"
    );
    // …and that request cannot be decided again.
    let r = idp
        .http
        .post(format!("{}/authorize/decide", idp.base))
        .form(&[("request", request.as_str()), ("user", "ada")])
        .send()
        .await?;
    ensure!(
        r.status() == 400,
        "a decided request decided again: {}",
        r.status()
    );

    // An unknown access token at userinfo.
    let r = idp
        .http
        .get(format!("{}/userinfo", idp.base))
        .bearer_auth("nope")
        .send()
        .await?;
    ensure!(
        r.status() == 401,
        "userinfo with a bogus token: {}",
        r.status()
    );
    Ok(())
}

#[tokio::test]
async fn codes_expire() -> Result<()> {
    let idp = start(Duration::from_millis(300)).await?;
    let code = idp.code_for("ada", None).await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = idp
        .redeem(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            true,
        )
        .await?;
    if status != 400 || body["error"] != "invalid_grant" {
        bail!("an expired code was redeemed: {status} {body}");
    }
    Ok(())
}
