//! Sign-in through the provider double: starting one for an in-process Keycard, and a browser
//! stand-in that keeps cookies and follows a sign-in step by step (no redirect is followed by
//! itself, so every hop can be checked or tampered with).

use crate::{Reply, send};
use anyhow::{Context, Result, bail};
use keycard_mock_idp::apple;
use reqwest::header::{ACCEPT, COOKIE, HeaderMap};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The client id and secret Keycard is registered with at the double.
pub const IDP_CLIENT_ID: &str = "keycard";
pub const IDP_CLIENT_SECRET: &str = "keycard-test-secret";

/// The redirect URI of the native app the suite plays (registered in the test configurations).
pub const NATIVE_REDIRECT_URI: &str = "com.example.shop:/oauth";

/// `KEYCARD_MOCK_IDP_URL`: the double a server at `KEYCARD_URL` signs in with.
pub fn mock_idp_url_from_env() -> Option<String> {
    std::env::var("KEYCARD_MOCK_IDP_URL")
        .ok()
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
}

/// A provider double: in this process (stopped on drop), or one already running.
pub(crate) struct MockIdp {
    pub(crate) url: String,
    _server: Option<tokio_util::task::AbortOnDropHandle<()>>,
}

impl MockIdp {
    pub(crate) fn external(url: String) -> Self {
        Self { url, _server: None }
    }

    /// Serves a double on a port of its own whose client is the Keycard at `keycard_url`.
    pub(crate) async fn start(keycard_url: &str) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the provider double")?;
        // `localhost`, while Keycard is at 127.0.0.1: another site for a browser, as a real
        // provider is, so what SameSite cookies do on the way back is what they do in earnest.
        let url = format!("http://localhost:{}", listener.local_addr()?.port());
        let redirects = ["google", "facebook", "x", "github", "oidc", "apple", "corp"]
            .map(|p| format!("{keycard_url}/v1/auth/social/{p}/callback"))
            .join(",");
        let client = keycard_mock_idp::Client::parse(&format!(
            "{IDP_CLIENT_ID}:{IDP_CLIENT_SECRET}:{redirects}"
        ))
        .map_err(anyhow::Error::msg)?;
        let app =
            keycard_mock_idp::router(keycard_mock_idp::Config::new(url.clone(), vec![client]))?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            _server: Some(tokio_util::task::AbortOnDropHandle::new(server)),
        })
    }

    /// The settings that point Keycard's `google` and `oidc` providers at this double.
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        [
            ("google_client_id", IDP_CLIENT_ID.to_owned()),
            ("google_client_secret", IDP_CLIENT_SECRET.to_owned()),
            ("google_issuer", format!("{}/google", self.url)),
            ("oidc_client_id", IDP_CLIENT_ID.to_owned()),
            ("oidc_client_secret", IDP_CLIENT_SECRET.to_owned()),
            ("oidc_issuer", format!("{}/oidc", self.url)),
            ("oidc_name", "Test OpenID".to_owned()),
            ("pwned_url", format!("{}/pwned", self.url)),
            ("native_redirect_uris", NATIVE_REDIRECT_URI.to_owned()),
            ("facebook_client_id", IDP_CLIENT_ID.to_owned()),
            ("facebook_client_secret", IDP_CLIENT_SECRET.to_owned()),
            (
                "facebook_auth_url",
                format!("{}/facebook/dialog/oauth", self.url),
            ),
            (
                "facebook_token_url",
                format!("{}/facebook/oauth/access_token", self.url),
            ),
            ("facebook_api_url", format!("{}/facebook", self.url)),
            ("github_client_id", IDP_CLIENT_ID.to_owned()),
            ("github_client_secret", IDP_CLIENT_SECRET.to_owned()),
            (
                "github_auth_url",
                format!("{}/github/login/oauth/authorize", self.url),
            ),
            (
                "github_token_url",
                format!("{}/github/login/oauth/access_token", self.url),
            ),
            ("github_api_url", format!("{}/github", self.url)),
            ("x_client_id", IDP_CLIENT_ID.to_owned()),
            ("x_client_secret", IDP_CLIENT_SECRET.to_owned()),
            ("x_auth_url", format!("{}/x/i/oauth2/authorize", self.url)),
            ("x_token_url", format!("{}/x/2/oauth2/token", self.url)),
            ("x_api_url", format!("{}/x/2", self.url)),
            ("apple_client_id", IDP_CLIENT_ID.to_owned()),
            ("apple_team_id", apple::DEMO_TEAM_ID.to_owned()),
            ("apple_key_id", apple::DEMO_KEY_ID.to_owned()),
            ("apple_private_key", apple::DEMO_PRIVATE_KEY.to_owned()),
            ("apple_issuer", format!("{}/apple", self.url)),
            // A second OpenID Connect provider, as `[providers.corp]` in the TOML file.
            ("providers.corp.issuer", format!("{}/corp", self.url)),
            ("providers.corp.client_id", IDP_CLIENT_ID.to_owned()),
            ("providers.corp.client_secret", IDP_CLIENT_SECRET.to_owned()),
            ("providers.corp.name", "Corp SSO".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// One cookie as the server set it: its value and its attributes, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub value: String,
    /// `HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=…` as sent.
    pub attributes: String,
}

impl Cookie {
    /// Whether an attribute is present (case-insensitive), e.g. `HttpOnly` or `SameSite=Lax`.
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case(attribute))
    }
}

/// A browser: its own cookies for Keycard's origin and its own client address. Secure cookies
/// are kept over plain http, as browsers do for localhost.
pub struct Browser {
    keycard: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, Cookie>>,
}

/// A sign-in waiting at the double's authorization page.
#[derive(Debug, Clone)]
pub struct SocialFlow {
    /// Where Keycard sent the browser (the authorization request, query included).
    pub authorize_url: String,
    /// The double's id of the waiting request (hidden in its form).
    pub request: String,
    /// The form's target.
    pub decide_url: String,
}

impl Browser {
    pub fn new(keycard: String, client_ip: &str) -> Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", client_ip.parse()?);
        Ok(Self {
            keycard,
            http: reqwest::Client::builder()
                .default_headers(headers)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()?,
            cookies: Mutex::default(),
        })
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Cookie>> {
        self.cookies.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn cookie(&self, name: &str) -> Option<Cookie> {
        self.jar().get(name).cloned()
    }

    /// Sets a cookie by hand (a test forging or swapping one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar().insert(
            name.to_owned(),
            Cookie {
                value: value.to_owned(),
                attributes: String::new(),
            },
        );
    }

    pub fn forget_cookie(&self, name: &str) {
        self.jar().remove(name);
    }

    /// Sends a request with this browser's cookies (to Keycard only) and keeps what it sets.
    pub async fn send(&self, mut request: reqwest::RequestBuilder, url: &str) -> Result<Reply> {
        if url.starts_with(&self.keycard) {
            let header = self
                .jar()
                .iter()
                .map(|(k, c)| format!("{k}={}", c.value))
                .collect::<Vec<_>>()
                .join("; ");
            if !header.is_empty() {
                request = request.header(COOKIE, header);
            }
        }
        let reply = send(request).await?;
        if url.starts_with(&self.keycard) {
            let mut jar = self.jar();
            for line in reply.set_cookies() {
                let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let cookie = Cookie {
                    value: value.trim().to_owned(),
                    attributes: attributes.trim().to_owned(),
                };
                if cookie.has("Max-Age=0") || cookie.value.is_empty() {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), cookie);
                }
            }
        }
        Ok(reply)
    }

    /// A request from this browser, to send with [`Browser::send`] (which adds the cookies).
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Follows a link-start answer: the provider's page, then the chosen `user`; returns
    /// Keycard's answer at the callback.
    pub async fn link_with(&self, authorization_url: &str, user: &str) -> Result<Reply> {
        let page = self.navigate(authorization_url).await?.expect_status(200)?;
        let request = between(&page.text, "name=\"request\" value=\"", "\"")
            .context("no request id in the authorization page")?;
        let action = between(&page.text, "action=\"", "\"").context("no form action")?;
        let decide_url = reqwest::Url::parse(authorization_url)?
            .join(&action)?
            .to_string();
        let flow = SocialFlow {
            authorize_url: authorization_url.to_owned(),
            request,
            decide_url,
        };
        self.answer(&flow, user, None).await
    }

    /// A top-level navigation (accepts HTML, as browsers do).
    pub async fn navigate(&self, url: &str) -> Result<Reply> {
        self.send(
            self.http
                .get(url)
                .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8"),
            url,
        )
        .await
    }

    /// A GET as an API client makes it (no HTML).
    pub async fn get_json(&self, url: &str) -> Result<Reply> {
        self.send(self.http.get(url).header(ACCEPT, "application/json"), url)
            .await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Reply> {
        self.send(self.http.post(url).form(form), url).await
    }

    /// `POST /v1/auth/refresh` in cookie mode, as a single-page app on Keycard's origin does.
    pub async fn refresh(&self) -> Result<Reply> {
        let url = format!("{}/v1/auth/refresh", self.keycard);
        self.send(
            self.http
                .post(&url)
                .header("keycard-csrf", "1")
                .header("origin", &self.keycard),
            &url,
        )
        .await
    }

    /// Presses the provider's button: follows Keycard's start to the double's authorization
    /// page and reads its form.
    pub async fn social_start(
        &self,
        provider: &str,
        return_to: Option<&str>,
    ) -> Result<SocialFlow> {
        let query: Vec<(&str, &str)> = return_to.map(|r| ("return_to", r)).into_iter().collect();
        self.social_start_with(provider, &query).await
    }

    /// Like [`Browser::social_start`], with any query parameters (a native app's PKCE challenge).
    pub async fn social_start_with(
        &self,
        provider: &str,
        query: &[(&str, &str)],
    ) -> Result<SocialFlow> {
        let mut start =
            reqwest::Url::parse(&format!("{}/v1/auth/social/{provider}/start", self.keycard))?;
        for (k, v) in query {
            start.query_pairs_mut().append_pair(k, v);
        }
        let reply = self.navigate(start.as_str()).await?;
        if !reply.status.is_redirection() {
            bail!("start should redirect to the provider, got {reply}");
        }
        let authorize_url = location(&reply)?;
        let page = self.navigate(&authorize_url).await?.expect_status(200)?;
        let request = between(&page.text, "name=\"request\" value=\"", "\"")
            .context("no request id in the authorization page")?;
        let action = between(&page.text, "action=\"", "\"").context("no form action")?;
        let origin = reqwest::Url::parse(&authorize_url)?;
        let decide_url = origin.join(&action)?.to_string();
        Ok(SocialFlow {
            authorize_url,
            request,
            decide_url,
        })
    }

    /// Chooses a test user at the double (optionally asking it to simulate a `fault` at the token
    /// step); returns the callback URL the double sends the browser to.
    pub async fn choose(
        &self,
        flow: &SocialFlow,
        user: &str,
        fault: Option<&str>,
    ) -> Result<String> {
        let reply = self
            .post_form(
                &flow.decide_url,
                &[
                    ("request", &flow.request),
                    ("user", user),
                    ("fault", fault.unwrap_or("")),
                ],
            )
            .await?;
        location(&reply)
    }

    /// Chooses a test user at the double and brings its answer back to Keycard as a browser
    /// does, whichever way it comes: a redirect to the callback, or (Apple) a `form_post` —
    /// the provider's cross-site POST, then the same-origin POST of Keycard's own page.
    /// Returns Keycard's final answer.
    pub async fn answer(
        &self,
        flow: &SocialFlow,
        user: &str,
        fault: Option<&str>,
    ) -> Result<Reply> {
        let fields = [("user", user), ("fault", fault.unwrap_or(""))];
        self.decide_and_return(flow, &fields).await
    }

    /// Presses "Deny" at the double and brings the answer back; Keycard's final answer.
    pub async fn deny_and_return(&self, flow: &SocialFlow) -> Result<Reply> {
        self.decide_and_return(flow, &[("deny", "1")]).await
    }

    async fn decide_and_return(&self, flow: &SocialFlow, fields: &[(&str, &str)]) -> Result<Reply> {
        let mut form = vec![("request", flow.request.as_str())];
        form.extend_from_slice(fields);
        let reply = self.post_form(&flow.decide_url, &form).await?;
        if reply.status.is_redirection() {
            return self.navigate(&location(&reply)?).await;
        }
        let posted = self.provider_form_post(&flow.authorize_url, &reply).await?;
        self.keycard_resubmit(&posted).await
    }

    /// The provider's auto-submitting page, posted as a browser does from the provider's
    /// origin: cross-site, so no SameSite=Lax cookie of Keycard's goes with it.
    pub async fn provider_form_post(&self, provider_url: &str, page: &Reply) -> Result<Reply> {
        if page.status != 200 {
            bail!("expected the provider's form_post page, got {page}");
        }
        let (action, fields) = form_of(&page.text).context("no form in the provider's page")?;
        let provider = reqwest::Url::parse(provider_url)?;
        let origin = provider.origin().ascii_serialization();
        send(
            self.http
                .post(&action)
                .header("origin", origin)
                .header("sec-fetch-site", "cross-site")
                .header(ACCEPT, "text/html,*/*;q=0.8")
                .form(&fields),
        )
        .await
    }

    /// Keycard's page after a `form_post`: its form posted again from Keycard's own origin,
    /// with the cookies (as the page's script does).
    pub async fn keycard_resubmit(&self, page: &Reply) -> Result<Reply> {
        if page.status != 200 {
            bail!("expected Keycard's re-submitting page, got {page}");
        }
        let (action, fields) = form_of(&page.text).context("no form in Keycard's page")?;
        let url = reqwest::Url::parse(&self.keycard)?
            .join(&action)?
            .to_string();
        self.send(
            self.http
                .post(&url)
                .header("origin", &self.keycard)
                .header("sec-fetch-site", "same-origin")
                .header(ACCEPT, "text/html,*/*;q=0.8")
                .form(&fields),
            &url,
        )
        .await
    }

    /// Presses "Deny" at the double; returns the callback URL.
    pub async fn deny(&self, flow: &SocialFlow) -> Result<String> {
        let reply = self
            .post_form(
                &flow.decide_url,
                &[("request", &flow.request), ("deny", "1")],
            )
            .await?;
        location(&reply)
    }

    /// The whole sign-in as `user` at `provider`; returns Keycard's answer at the callback.
    pub async fn sign_in_with(&self, provider: &str, user: &str) -> Result<Reply> {
        let flow = self.social_start(provider, None).await?;
        self.answer(&flow, user, None).await
    }
}

/// The `Location` of a redirect.
pub fn location(reply: &Reply) -> Result<String> {
    if !reply.status.is_redirection() {
        bail!("expected a redirect, got {reply}");
    }
    reply
        .header("location")
        .map(str::to_owned)
        .with_context(|| format!("redirect without Location: {reply:?}"))
}

/// The value of the form field `name` in a page (`name="…" value="…"`), entities decoded.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let value = between(&html[at..], "value=\"", "\"")?;
    Some(
        value
            .replace("&#43;", "+")
            .replace("&#x2b;", "+")
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#38;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

/// The first form of a page: its action and its hidden fields, entities decoded.
pub fn form_of(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let form = &html[html.find("<form")?..];
    let action = between(form, "action=\"", "\"")?;
    let end = form.find("</form>")?;
    let mut fields = Vec::new();
    let mut rest = &form[..end];
    while let Some(at) = rest.find("<input type=\"hidden\"") {
        rest = &rest[at..];
        let name = between(rest, "name=\"", "\"")?;
        let value = field_value(rest, &name)?;
        fields.push((name, value));
        rest = &rest[1..];
    }
    Some((action, fields))
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].replace("&amp;", "&"))
}
