//! Each adapter against the provider double, run in this process: the adapter builds the
//! authorization URL, a stand-in browser opens the double's page and chooses a test user (and
//! maybe a fault), and the code it brings back goes to the adapter's `finish`.

#![allow(dead_code)] // Each test file uses its own part.

use anyhow::{Context, Result, ensure};
use keycard_core::social::{
    Authorization, Callback, IdentityProvider, ProviderError, ProviderProfile,
};
use keycard_core::tokens::{pkce_challenge, random_secret};
use keycard_mock_idp::{Client, Config, router};
use keycard_providers::{EndpointOverrides, outbound_client};
use std::time::Duration;

pub const CLIENT_ID: &str = "keycard";
/// With characters HTTP Basic must form-encode (RFC 6749 §2.3.1).
pub const SECRET: &str = "keycard-secret/with+chars";

pub fn redirect(provider: &str) -> String {
    format!("http://localhost:8080/v1/auth/social/{provider}/callback")
}

pub struct Double {
    pub origin: String,
    browser: reqwest::Client,
}

pub async fn start() -> Result<Double> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let client = Client {
        id: CLIENT_ID.into(),
        secret: SECRET.into(),
        redirect_uris: ["google", "oidc", "facebook", "github", "x", "apple"]
            .map(redirect)
            .to_vec(),
    };
    let app = router(Config::new(origin.clone(), vec![client]))?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Double {
        origin,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    })
}

/// The adapters' HTTP client, as Keycard builds it.
pub fn http(timeout: Duration) -> Result<reqwest::Client> {
    Ok(outbound_client(timeout)?)
}

/// What the flow keeps between the start and the callback.
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub redirect_uri: String,
    /// Apple's `user` form field, when the answer came as a `form_post`.
    pub user: Option<String>,
}

impl Flow {
    fn new(provider: &dyn IdentityProvider) -> Result<Self> {
        Ok(Self {
            state: random_secret("")?,
            nonce: random_secret("")?,
            verifier: random_secret("")?,
            redirect_uri: redirect(&provider.info().id),
            user: None,
        })
    }

    pub fn callback<'a>(&'a self, code: &'a str) -> Callback<'a> {
        Callback {
            code,
            redirect_uri: &self.redirect_uri,
            pkce_verifier: &self.verifier,
            nonce: &self.nonce,
            user: self.user.as_deref(),
        }
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

impl Double {
    /// `{origin}{path}` for each of a provider's endpoints: the double serves the real paths.
    pub fn overrides(&self, authorization: &str, token: &str, api: &str) -> EndpointOverrides {
        EndpointOverrides {
            authorization: Some(format!("{}{authorization}", self.origin)),
            token: Some(format!("{}{token}", self.origin)),
            api: Some(format!("{}{api}", self.origin)),
        }
    }

    /// The authorization URL the adapter builds, opened, and `user` chosen (with `fault` if
    /// not empty); returns the code the double sends back, checked to come with the state.
    pub async fn authorize(
        &self,
        provider: &dyn IdentityProvider,
        user: &str,
        fault: &str,
    ) -> Result<(String, Flow)> {
        let mut flow = Flow::new(provider)?;
        let url = provider
            .authorization_url(&Authorization {
                state: &flow.state,
                nonce: &flow.nonce,
                pkce_challenge: &pkce_challenge(&flow.verifier),
                redirect_uri: &flow.redirect_uri,
            })
            .await?;
        let page = self.browser.get(&url).send().await?;
        ensure!(page.status() == 200, "{url}: {}", page.status());
        let html = page.text().await?;
        let request = between(&html, "name=\"request\" value=\"", "\"").context("no request")?;
        let action = between(&html, "action=\"", "\"").context("no form action")?;
        let decide = reqwest::Url::parse(&url)?.join(action)?;
        let r = self
            .browser
            .post(decide)
            .form(&[("request", request), ("user", user), ("fault", fault)])
            .send()
            .await?;
        if r.status() == 200 {
            // A form_post answer (Apple): a form that posts the fields to the redirect URI.
            let html = r.text().await?;
            let action = between(&html, "action=\"", "\"").context("no form action")?;
            ensure!(action == flow.redirect_uri, "posts elsewhere: {action}");
            let field = |name: &str| {
                between(&html, &format!("name=\"{name}\" value=\""), "\"")
                    .map(|v| v.replace("&quot;", "\"").replace("&amp;", "&"))
            };
            ensure!(
                field("state").as_deref() == Some(flow.state.as_str()),
                "{html}"
            );
            flow.user = field("user");
            let code = field("code").context("no code")?;
            return Ok((code, flow));
        }
        ensure!(r.status().is_redirection(), "decide: {}", r.status());
        let location = r
            .headers()
            .get("location")
            .context("no Location")?
            .to_str()?;
        ensure!(
            location.starts_with(&flow.redirect_uri),
            "sent elsewhere: {location}"
        );
        let back: Vec<(String, String)> = reqwest::Url::parse(location)?
            .query_pairs()
            .into_owned()
            .collect();
        let get = |k: &str| back.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        ensure!(get("state") == Some(flow.state.as_str()), "{back:?}");
        let code = get("code").context("no code")?.to_owned();
        Ok((code, flow))
    }

    /// A whole sign-in as `user`: the adapter's answer.
    pub async fn sign_in(
        &self,
        provider: &dyn IdentityProvider,
        user: &str,
        fault: &str,
    ) -> Result<Result<ProviderProfile, ProviderError>> {
        let (code, flow) = self.authorize(provider, user, fault).await?;
        Ok(provider.finish(&flow.callback(&code)).await)
    }
}

pub fn is_unreachable(r: &Result<ProviderProfile, ProviderError>) -> bool {
    matches!(r, Err(ProviderError::Unreachable(_)))
}

pub fn is_rejected(r: &Result<ProviderProfile, ProviderError>) -> bool {
    matches!(r, Err(ProviderError::Rejected(_)))
}
