//! Driving the plain OAuth 2.0 doubles over HTTP as a browser and a client would: one double per
//! test, the authorization page read as a browser-driving test reads it (request id, form
//! action), redirects never followed so each hop can be checked.

#![allow(dead_code)] // Each test file uses its own part.

use anyhow::{Context, Result, ensure};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keycard_mock_idp::{Client, Config, router};
use std::time::Duration;

pub const CLIENT_ID: &str = "keycard";
/// With characters HTTP Basic must form-encode.
pub const SECRET: &str = "s3cret/with+chars";
pub const SECRET_FORM_ENCODED: &str = "s3cret%2Fwith%2Bchars";

pub fn redirect(provider: &str) -> String {
    format!("http://localhost:8080/v1/auth/social/{provider}/callback")
}

pub struct Double {
    pub origin: String,
    pub http: reqwest::Client,
}

pub async fn start(code_ttl: Duration) -> Result<Double> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let mut config = Config::new(
        origin.clone(),
        vec![Client {
            id: CLIENT_ID.into(),
            secret: SECRET.into(),
            redirect_uris: ["facebook", "github", "x"].map(redirect).to_vec(),
        }],
    );
    config.code_ttl = code_ttl;
    let app = router(config)?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Double {
        origin,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    })
}

pub fn verifier() -> String {
    "a-verifier-of-forty-three-characters-or-more-0123456789".into()
}

pub fn challenge(v: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, v.as_bytes()))
}

/// An authorization page, as a browser-driving test reads it.
#[derive(Debug)]
pub struct Page {
    pub html: String,
    pub request: String,
    /// The form's target, absolute.
    pub decide_url: String,
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// The query parameters of a redirect back to `redirect`.
pub fn back_at(r: &reqwest::Response, redirect: &str) -> Result<Vec<(String, String)>> {
    ensure!(
        r.status().is_redirection(),
        "expected a redirect, got {}",
        r.status()
    );
    let loc = r
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?;
    ensure!(loc.starts_with(redirect), "redirected elsewhere: {loc}");
    let url = reqwest::Url::parse(loc)?;
    Ok(url.query_pairs().into_owned().collect())
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Double {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// `GET path?query`, without following a redirect.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Response> {
        Ok(self.http.get(self.url(path)).query(query).send().await?)
    }

    /// Opens the authorization page at `path`.
    pub async fn page(&self, path: &str, query: &[(&str, &str)]) -> Result<Page> {
        let r = self.get(path, query).await?;
        ensure!(r.status() == 200, "{path} answered {}", r.status());
        let html = r.text().await?;
        let request = between(&html, "name=\"request\" value=\"", "\"")
            .context("no request id in the page")?
            .to_owned();
        let action = between(&html, "action=\"", "\"").context("no form action")?;
        let decide_url = reqwest::Url::parse(&self.url(path))?
            .join(action)?
            .to_string();
        Ok(Page {
            html,
            request,
            decide_url,
        })
    }

    /// Posts the page's form with `fields` besides the request id.
    pub async fn decide(&self, page: &Page, fields: &[(&str, &str)]) -> Result<reqwest::Response> {
        let mut form = vec![("request", page.request.as_str())];
        form.extend_from_slice(fields);
        Ok(self.http.post(&page.decide_url).form(&form).send().await?)
    }

    /// Opens the page, chooses `user` (with a `fault`, if any) and returns the code it sends
    /// back to `redirect`.
    pub async fn code(
        &self,
        path: &str,
        query: &[(&str, &str)],
        redirect: &str,
        user: &str,
        fault: &str,
    ) -> Result<String> {
        let page = self.page(path, query).await?;
        let r = self
            .decide(&page, &[("user", user), ("fault", fault)])
            .await?;
        let back = back_at(&r, redirect)?;
        Ok(param(&back, "code").context("no code")?.to_owned())
    }
}
