//! Black-box test kit for Keycard: a [`TestApp`] that talks to Keycard over HTTP only.
//!
//! Two modes:
//! - `KEYCARD_URL` set: every test targets that running server. Configuration cannot be changed
//!   from here, so tests that need an override skip themselves (see [`TestAppBuilder::start`]).
//!   This is how the suite runs against a container.
//! - otherwise: each `TestApp` starts Keycard in-process on `127.0.0.1:0` with a fresh database —
//!   a new SQLite file, or a new database on a PostgreSQL server (`KEYCARD_TEST_DATABASE_URL`, or
//!   one throwaway cluster per test process started by `scripts/pg-throwaway`).
//!
//! Tests use unique emails ([`unique_email`]) so they also pass against a shared server.
//!
//! A test that needs its database to fail brings a [`PgCluster`] of its own, which it can stop
//! and start again, and runs an in-process Keycard on it in every mode
//! ([`TestAppBuilder::start_in_process`]).

#![forbid(unsafe_code)]

mod mail;
mod passkey;
mod social;

pub mod apps;

pub use mail::{MailCatcher, Received};
pub use passkey::SoftPasskey;
pub use social::{
    Browser, Cookie, NATIVE_REDIRECT_URI, SocialFlow, field_value, form_of, location,
    mock_idp_url_from_env,
};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt;
use std::io::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

pub use reqwest::StatusCode;

/// The passkeys' relying party in every test setup (compose.test.yaml says the same)…
pub const PASSKEY_RP_ID: &str = "localhost";
/// …and the app origin allowed to run ceremonies, which the software passkey claims.
pub const PASSKEY_ORIGIN: &str = "https://app.localhost";

/// A password that passes the policy for any [`unique_email`] address.
pub const PASSWORD: &str = "correct horse battery staple 42";

/// Printed by tests that need a configuration override when the suite targets `KEYCARD_URL`.
pub const NEEDS_IN_PROCESS: &str =
    "needs in-process config; covered when the suite starts Keycard itself";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The code an authenticator app holding `secret` (base32, as Keycard shows it) shows
/// `offset_secs` from now (negative: in the past).
pub fn totp_code(secret: &str, offset_secs: i64) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let at = now
        .checked_add_signed(offset_secs)
        .context("TOTP time out of range")?;
    totp_code_at(secret, at)
}

/// The code an authenticator app holding `secret` shows at `unix_secs`.
pub fn totp_code_at(secret: &str, unix_secs: u64) -> Result<String> {
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .map_err(|e| anyhow!("TOTP secret is not base32: {e:?}"))?
        .as_bytes()
        .to_vec();
    let totp = totp_rs::Builder::new()
        .with_secret(bytes)
        .build()
        .map_err(|e| anyhow!("TOTP: {e}"))?;
    Ok(totp.generate(unix_secs).to_string())
}

/// A fresh address on every call, so tests never collide, even on a shared server.
pub fn unique_email() -> String {
    format!("kc-{}@example.com", Uuid::new_v4().simple())
}

/// The token response of register, login and refresh. `refresh_token` is absent with cookie
/// delivery; `user` is absent on refresh.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub refresh_expires_in: i64,
    pub session_id: String,
    pub user: Option<Value>,
}

impl TokenResponse {
    pub fn refresh(&self) -> Result<&str> {
        self.refresh_token
            .as_deref()
            .context("the token response has no refresh_token")
    }

    pub fn user_id(&self) -> Result<&str> {
        self.user
            .as_ref()
            .and_then(|u| u["id"].as_str())
            .context("the token response has no user.id")
    }
}

/// A registered account and the tokens of its first session.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub password: String,
    pub tokens: TokenResponse,
}

/// A response read to the end, so tests can assert on status, headers and body together and
/// failures print all three.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}", self.status.as_u16(), self.text)
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} headers={:?}", self.headers)
    }
}

impl Reply {
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.text).with_context(|| format!("body is not JSON: {self}"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// Fails unless the status is `status`; returns the reply for chaining.
    pub fn expect_status(self, status: u16) -> Result<Self> {
        if self.status.as_u16() != status {
            bail!("expected HTTP {status}, got {self}");
        }
        Ok(self)
    }

    /// Checks an RFC 9457 problem: status, content type, `code` and the `type` derived from it.
    /// Returns the problem body for further checks (`errors`, `detail`).
    pub fn expect_problem(&self, status: u16, code: &str) -> Result<Value> {
        if self.status.as_u16() != status {
            bail!("expected HTTP {status} `{code}`, got {self}");
        }
        let ctype = self.header("content-type").unwrap_or_default();
        if !ctype.starts_with("application/problem+json") {
            bail!("expected content-type application/problem+json, got {ctype:?}: {self}");
        }
        let body = self.json()?;
        let want_type = format!("urn:keycard:problem:{code}");
        if body["code"] != code
            || body["type"] != want_type.as_str()
            || body["status"] != status
            || !body["title"].is_string()
        {
            bail!(
                "expected problem {{status: {status}, code: {code}, type: {want_type}, title}}, got {self}"
            );
        }
        Ok(body)
    }

    /// Checks a 422 whose `errors` holds exactly one entry for `field` with `code`.
    pub fn expect_invalid(&self, field: &str, code: &str) -> Result<Value> {
        let body = self.expect_problem(422, code)?;
        let errors = body["errors"]
            .as_array()
            .with_context(|| format!("422 without an `errors` array: {self}"))?;
        let found = errors
            .iter()
            .any(|e| e["field"] == field && e["code"] == code && e["message"].is_string());
        if !found {
            bail!("expected errors[] to contain {{field: {field}, code: {code}}}, got {self}");
        }
        Ok(body)
    }
}

/// Sends a request and reads the whole response.
pub async fn send(request: RequestBuilder) -> Result<Reply> {
    let resp = request.send().await.context("request failed")?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.context("reading the response body")?;
    Ok(Reply {
        status,
        headers,
        text,
    })
}

/// A Keycard under test: in-process (with its own database) or the one at `KEYCARD_URL`.
pub struct TestApp {
    base_url: String,
    backend: Backend,
    http: reqwest::Client,
    /// The client address this app's requests claim (`X-Forwarded-For`); it counts where
    /// Keycard trusts the header (the container suite), so tests sharing one server do not share
    /// one network's sign-in limits.
    client_ip: String,
    /// `None` when targeting `KEYCARD_URL`. Dropping it stops the server and removes its data.
    server: Option<Server>,
    /// The provider double Keycard signs in with, when it has one (see [`TestApp::start_social`]).
    idp: Option<social::MockIdp>,
}

impl fmt::Debug for TestApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestApp")
            .field("base_url", &self.base_url)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Whether the suite targets a running server (`KEYCARD_URL`) rather than starting its own: a
/// test that must prepare something before its first start (a database file) asks this first.
pub fn targets_running_server() -> bool {
    external_url().is_some()
}

fn external_url() -> Option<String> {
    std::env::var("KEYCARD_URL")
        .ok()
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
}

/// A fresh address in 198.18.0.0/15 (set aside for benchmarking networks).
pub fn random_client_ip() -> String {
    let b = Uuid::new_v4().into_bytes();
    format!("198.{}.{}.{}", 18 + (b[0] & 1), b[1], b[2].max(1))
}

fn http_client(client_ip: &str) -> Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        client_ip.parse().context("client address header")?,
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

impl TestApp {
    /// Keycard with its default configuration.
    pub async fn start(backend: Backend) -> Result<Self> {
        match external_url() {
            Some(base_url) => {
                let client_ip = random_client_ip();
                Ok(Self {
                    base_url,
                    backend,
                    http: http_client(&client_ip)?,
                    client_ip,
                    server: None,
                    idp: None,
                })
            }
            None => Self::spawn_in_process(backend, &Overrides::default()).await,
        }
    }

    /// Keycard with sign-in through the provider double (`google` and `oidc`), in every mode:
    /// in-process it starts a double of its own; against `KEYCARD_URL` it needs the double that
    /// server signs in with at `KEYCARD_MOCK_IDP_URL` (the test stack runs one), and fails
    /// without it rather than skip.
    pub async fn start_social(backend: Backend) -> Result<Self> {
        if external_url().is_some() {
            let mut app = Self::start(backend).await?;
            app.idp = Some(social::MockIdp::external(mock_idp_url_from_env().context(
                "KEYCARD_MOCK_IDP_URL must name the provider double the server at KEYCARD_URL signs in with",
            )?));
            return Ok(app);
        }
        Self::builder(backend).mock_idp().start_in_process().await
    }

    /// Keycard delivering its mail to the test run's catcher (MailDev, see [`MailCatcher`]), in
    /// every mode: in-process it points the server at the catcher; against `KEYCARD_URL` it
    /// reads the catcher that server delivers to (`KEYCARD_TEST_MAILDEV_URL`).
    pub async fn start_mail(backend: Backend) -> Result<(Self, MailCatcher)> {
        let catcher = MailCatcher::get()?;
        if external_url().is_some() {
            return Ok((Self::start(backend).await?, catcher));
        }
        let smtp = catcher
            .smtp_url
            .clone()
            .context("an in-process Keycard needs the catcher's SMTP address")?;
        let app = Self::builder(backend)
            .setting("smtp_url", &smtp)
            .start_in_process()
            .await?;
        Ok((app, catcher))
    }

    /// The provider double's base URL (`…/google` and `…/oidc` are its issuers).
    pub fn idp_url(&self) -> Result<&str> {
        self.idp
            .as_ref()
            .map(|i| i.url.as_str())
            .context("this Keycard has no provider double (use TestApp::start_social)")
    }

    /// A new browser (its own cookies and client address) for this Keycard.
    pub fn browser(&self) -> Result<Browser> {
        Browser::new(self.base_url.clone(), &random_client_ip())
    }

    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            overrides: Overrides::default(),
        }
    }

    /// Stops this app and returns a builder for a differently configured one on the same backend.
    pub fn reconfigure(self) -> TestAppBuilder {
        Self::builder(self.backend)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// True when Keycard runs in this process (so its configuration is the one set here).
    pub fn in_process(&self) -> bool {
        self.server.is_some()
    }

    /// The settings the in-process Keycard runs with (`None` when targeting `KEYCARD_URL`): what
    /// a test needs to act on the same database the way the `keycard` CLI does, e.g.
    /// `keycard::build(settings).await?.rotate_keys()` like `keycard keys rotate`.
    pub fn settings(&self) -> Option<&keycard::Settings> {
        self.server.as_ref().map(|s| &s.settings)
    }

    /// A second Keycard instance on this one's database, with its secret key and public URL, as
    /// behind a load balancer; its own port, so a test can choose which instance it talks to.
    /// In-process only (`None` when targeting `KEYCARD_URL`). Drop it before this one, which owns
    /// the database.
    pub async fn peer(&self) -> Result<Option<TestApp>> {
        if self.backend != Backend::Postgres {
            bail!("several instances share a PostgreSQL database only (SQLite is one process)");
        }
        let Some(settings) = self.settings() else {
            println!("{NEEDS_IN_PROCESS}");
            return Ok(None);
        };
        // The same configuration as this one (limits included), on this one's database.
        let overrides = Overrides {
            database_url: Some(settings.database_url()),
            secret_key: settings.secret_key.clone(),
            public_url: Some(self.base_url.clone()),
            ..self
                .server
                .as_ref()
                .map(|s| s.overrides.clone())
                .unwrap_or_default()
        };
        Self::spawn_in_process(self.backend, &overrides)
            .await
            .map(Some)
    }

    /// Fails if the in-process server task has ended (returned an error, or panicked), with why.
    /// A server at `KEYCARD_URL` cannot be checked from here: always `Ok`.
    pub async fn ensure_serving(&mut self) -> Result<()> {
        let Some(server) = &mut self.server else {
            return Ok(());
        };
        if !server.task.is_finished() {
            return Ok(());
        }
        let why = match (&mut server.task).await {
            Ok(Ok(())) => "it returned without error".to_owned(),
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => format!("it panicked: {e}"),
        };
        bail!("the in-process Keycard stopped: {why}")
    }

    /// The base URL, which in-process is also Keycard's public URL (`iss`, allowed origin).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The address this app's requests claim in `X-Forwarded-For` (see [`TestApp`]).
    pub fn client_ip(&self) -> &str {
        &self.client_ip
    }

    /// A sign-in claiming to come from `ip` (counts as such where forwarding is trusted).
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> Result<Reply> {
        self.credentials_from(ip, "/v1/auth/login", email, password)
            .await
    }

    /// A sign-up claiming to come from `ip`.
    pub async fn register_from(&self, ip: &str, email: &str, password: &str) -> Result<Reply> {
        self.credentials_from(ip, "/v1/auth/register", email, password)
            .await
    }

    async fn credentials_from(
        &self,
        ip: &str,
        path: &str,
        email: &str,
        password: &str,
    ) -> Result<Reply> {
        send(
            self.request(Method::POST, path)
                .header("x-forwarded-for", ip)
                .json(&json!({ "email": email, "password": password })),
        )
        .await
    }

    /// How many password hashes this process has computed (`/metrics`). The metrics are
    /// process-wide: exact only where no other server of the process hashes meanwhile.
    pub async fn hashes_computed(&self) -> Result<u64> {
        let r = self.get("/metrics").await?.expect_status(200)?;
        let line = r
            .text
            .lines()
            .find(|l| l.starts_with("keycard_password_hash_seconds_count"))
            .unwrap_or("keycard_password_hash_seconds_count 0");
        line.rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .with_context(|| format!("unreadable metric line {line:?}"))
    }

    /// A client that never follows redirects and keeps no cookies: tests send every header.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn bearer_get(&self, path: &str, token: &str) -> Result<Reply> {
        send(self.request(Method::GET, path).bearer_auth(token)).await
    }

    /// Sets up an authenticator app on the account signed in as `token`, confirmed with the
    /// current step's code: the app's secret (base32) and the ten recovery codes.
    pub async fn set_up_totp(&self, token: &str) -> Result<(String, Vec<String>)> {
        let started = self
            .bearer_post("/v1/me/mfa/totp", token, &serde_json::json!({}))
            .await?
            .expect_status(201)?
            .json()?;
        let secret = started["secret"].as_str().context("secret")?.to_owned();
        let confirmed = self
            .bearer_post(
                "/v1/me/mfa/totp/confirm",
                token,
                &serde_json::json!({ "code": totp_code(&secret, 0)? }),
            )
            .await?
            .expect_status(200)?
            .json()?;
        let codes = confirmed["recovery_codes"]
            .as_array()
            .context("recovery_codes")?
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        Ok((secret, codes))
    }

    pub async fn bearer_post(&self, path: &str, token: &str, body: &Value) -> Result<Reply> {
        send(
            self.request(Method::POST, path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn bearer_patch(&self, path: &str, token: &str, body: &Value) -> Result<Reply> {
        send(
            self.request(Method::PATCH, path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn bearer_delete(&self, path: &str, token: &str) -> Result<Reply> {
        send(self.request(Method::DELETE, path).bearer_auth(token)).await
    }

    pub async fn register_raw(&self, email: &str, password: &str) -> Result<Reply> {
        self.post(
            "/v1/auth/register",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Registers and expects 201.
    pub async fn register(&self, email: &str, password: &str) -> Result<TokenResponse> {
        let reply = self
            .register_raw(email, password)
            .await?
            .expect_status(201)?;
        serde_json::from_str(&reply.text).with_context(|| format!("register: {reply}"))
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Result<Reply> {
        self.post(
            "/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Logs in and expects 200.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenResponse> {
        let reply = self.login_raw(email, password).await?.expect_status(200)?;
        serde_json::from_str(&reply.text).with_context(|| format!("login: {reply}"))
    }

    pub async fn refresh_raw(&self, refresh_token: &str) -> Result<Reply> {
        self.post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// Refreshes and expects 200.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse> {
        let reply = self.refresh_raw(refresh_token).await?.expect_status(200)?;
        serde_json::from_str(&reply.text).with_context(|| format!("refresh: {reply}"))
    }

    /// A new account with a unique email and [`PASSWORD`].
    pub async fn new_account(&self) -> Result<Account> {
        let email = unique_email();
        let tokens = self.register(&email, PASSWORD).await?;
        Ok(Account {
            email,
            password: PASSWORD.to_owned(),
            tokens,
        })
    }
}

/// Configuration a test may change. `None` keeps Keycard's default.
#[derive(Debug, Clone, Default)]
struct Overrides {
    access_token_ttl: Option<Duration>,
    session_idle_timeout: Option<Duration>,
    session_absolute_lifetime: Option<Duration>,
    password_min_length: Option<usize>,
    hash_workers: Option<usize>,
    hash_queue: Option<usize>,
    allowed_origins: Option<Vec<String>>,
    key_reload_interval: Option<Duration>,
    session_cache_ttl: Option<Duration>,
    /// A database the caller owns, used as is instead of a fresh one.
    database_url: Option<String>,
    /// Another instance's, to share its database (the key that seals the signing keys) and its
    /// issuer.
    secret_key: Option<String>,
    public_url: Option<String>,
    /// Further settings by name, applied last (`Settings::apply`).
    settings: Vec<(String, String)>,
    /// Start a provider double and sign in with it.
    mock_idp: bool,
    /// Serve at `http://localhost:PORT` rather than `http://127.0.0.1:PORT`: a domain name,
    /// which browsers require of a passkeys' relying party.
    on_localhost: bool,
}

/// Starts a Keycard with a changed configuration; only possible in-process.
#[derive(Debug)]
pub struct TestAppBuilder {
    backend: Backend,
    overrides: Overrides,
}

impl TestAppBuilder {
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.overrides.access_token_ttl = Some(ttl);
        self
    }

    pub fn session_idle_timeout(mut self, idle: Duration) -> Self {
        self.overrides.session_idle_timeout = Some(idle);
        self
    }

    pub fn session_absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.overrides.session_absolute_lifetime = Some(lifetime);
        self
    }

    pub fn password_min_length(mut self, chars: usize) -> Self {
        self.overrides.password_min_length = Some(chars);
        self
    }

    pub fn hash_workers(mut self, workers: usize) -> Self {
        self.overrides.hash_workers = Some(workers);
        self
    }

    pub fn hash_queue(mut self, waiting: usize) -> Self {
        self.overrides.hash_queue = Some(waiting);
        self
    }

    pub fn allowed_origins(mut self, origins: Vec<String>) -> Self {
        self.overrides.allowed_origins = Some(origins);
        self
    }

    /// How often the server re-reads its signing keys (picks up a rotation done elsewhere).
    pub fn key_reload_interval(mut self, every: Duration) -> Self {
        self.overrides.key_reload_interval = Some(every);
        self
    }

    /// How long a session check may be answered from memory (zero: never).
    pub fn session_cache_ttl(mut self, ttl: Duration) -> Self {
        self.overrides.session_cache_ttl = Some(ttl);
        self
    }

    /// Signs in through a provider double of its own (`google` and `oidc`).
    /// Serve at `http://localhost:PORT` (see `Overrides::on_localhost`).
    pub fn on_localhost(mut self) -> Self {
        self.overrides.on_localhost = true;
        self
    }

    pub fn mock_idp(mut self) -> Self {
        self.overrides.mock_idp = true;
        self
    }

    /// Sets any setting by its name, as `KEYCARD_<NAME>` would (e.g. `login_ip_limit`, `3/1m`).
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.overrides
            .settings
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs on this database (`sqlite:…` or `postgres://…`) as is, instead of a fresh one. The
    /// caller owns it and removes it, e.g. a [`PgCluster`].
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.overrides.database_url = Some(url.into());
        self
    }

    /// Starts the configured Keycard. Returns `None` — after printing [`NEEDS_IN_PROCESS`] — when
    /// the suite targets `KEYCARD_URL`: a running server's configuration cannot be changed from
    /// here, so such a test returns early in that (container) mode only, and is fully exercised
    /// whenever the suite starts Keycard itself. Any failure to start is an error, never a skip.
    pub async fn start(self) -> Result<Option<TestApp>> {
        if external_url().is_some() {
            println!("{NEEDS_IN_PROCESS}");
            return Ok(None);
        }
        self.start_in_process().await.map(Some)
    }

    /// Starts Keycard in this process even when `KEYCARD_URL` is set. Only for tests that bring
    /// their whole environment along (e.g. a [`PgCluster`] they stop and start) and so must run
    /// in every mode, never skip.
    pub async fn start_in_process(self) -> Result<TestApp> {
        TestApp::spawn_in_process(self.backend, &self.overrides).await
    }
}

/// A Keycard running on the test's runtime. Dropping it stops the server, then `data` goes.
struct Server {
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    settings: keycard::Settings,
    /// What it was started with, so a peer can be started alike.
    overrides: Overrides,
    _shutdown: oneshot::Sender<()>,
    _data: Data,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one in-process app stores, removed on drop, also when the app fails to start.
struct Data {
    dir: PathBuf,
    /// Set only on a server that outlives this process; the throwaway cluster is deleted whole.
    database: Option<(String, String)>,
}

impl Drop for Data {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((server, name)) = &self.database {
            // Best effort: FORCE ends the connections the aborted server may still hold.
            let _ = psql_blocking(
                server,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
        }
    }
}

/// A new `KEYCARD_SECRET_KEY`: 32 random bytes (two v4 UUIDs' worth of OS randomness, less the
/// version bits) in base64. Every in-process app gets its own.
pub fn random_secret_key() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    STANDARD.encode(bytes)
}

impl TestApp {
    async fn spawn_in_process(backend: Backend, overrides: &Overrides) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let base_url = if overrides.on_localhost {
            format!("http://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        };
        let dir = std::env::temp_dir().join(format!("keycard-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut data = Data {
            dir: dir.clone(),
            database: None,
        };
        let database_url = match (&overrides.database_url, backend) {
            (Some(url), _) => url.clone(),
            (None, Backend::Sqlite) => {
                format!("sqlite://{}?mode=rwc", dir.join("keycard.db").display())
            }
            (None, Backend::Postgres) => {
                let (url, drop_later) = fresh_postgres_database().await?;
                data.database = drop_later;
                url
            }
        };

        let mut settings = keycard::Settings::defaults();
        settings.listen_addr = addr;
        let o = overrides.clone();
        settings.public_url = Some(o.public_url.unwrap_or_else(|| base_url.clone()));
        settings.database_url = Some(database_url);
        settings.data_dir = dir.clone();
        settings.secret_key = Some(o.secret_key.unwrap_or_else(random_secret_key));
        // As in the test stack: an app origin runs passkey ceremonies (see `SoftPasskey`).
        settings.passkey_rp_id = Some(PASSKEY_RP_ID.into());
        settings.passkey_origins = vec![PASSKEY_ORIGIN.into()];
        if let Some(v) = o.access_token_ttl {
            settings.access_token_ttl = v;
        }
        if let Some(v) = o.session_idle_timeout {
            settings.session_idle_timeout = v;
        }
        if let Some(v) = o.session_absolute_lifetime {
            settings.session_absolute_lifetime = v;
        }
        if let Some(v) = o.password_min_length {
            settings.password_min_length = v;
        }
        if let Some(v) = o.hash_workers {
            settings.hash_workers = v;
        }
        if let Some(v) = o.hash_queue {
            settings.hash_queue = v;
        }
        if let Some(v) = o.allowed_origins {
            settings.allowed_origins = v;
        }
        if let Some(v) = o.key_reload_interval {
            settings.key_reload_interval = v;
        }
        if let Some(v) = o.session_cache_ttl {
            settings.session_cache_ttl = v;
        }
        let idp = if o.mock_idp {
            Some(social::MockIdp::start(&settings.public_url()).await?)
        } else {
            None
        };
        let mut named = idp.as_ref().map(|i| i.settings()).unwrap_or_default();
        named.extend(apps::settings());
        named.extend(o.settings.iter().cloned());
        settings
            .apply_all(named.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| anyhow!("settings: {e}"))?;

        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(keycard::serve(settings.clone(), listener, async move {
            let _ = stop.await;
        }));
        let client_ip = random_client_ip();
        let mut app = Self {
            base_url,
            backend,
            http: http_client(&client_ip)?,
            client_ip,
            server: Some(Server {
                task,
                settings,
                overrides: overrides.clone(),
                _shutdown: shutdown,
                _data: data,
            }),
            idp,
        };
        app.wait_until_healthy().await?;
        app.wait_for_session_cache(Duration::from_secs(30)).await?;
        Ok(app)
    }

    /// The session cache state `/readyz` reports: `active`, `paused` or `disabled`.
    pub async fn session_cache(&self) -> Result<(String, u64)> {
        let r = self.get("/readyz").await?.expect_status(200)?;
        let body = r.json()?;
        let cache = &body["session_cache"];
        Ok((
            cache["state"].as_str().unwrap_or_default().to_owned(),
            cache["entries"].as_u64().unwrap_or_default(),
        ))
    }

    /// Waits up to `within` until the session cache is no longer `paused`: with PostgreSQL it
    /// is paused until its LISTEN connection is up (at start, after losing it), and a test
    /// should exercise the cache, not only the database.
    pub async fn wait_for_session_cache(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let (state, _) = self.session_cache().await?;
            if state != "paused" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "session cache of {} still paused after {within:?}",
                    self.base_url
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Runs SQL on the PostgreSQL database of an in-process app (as an operator would by hand).
    pub async fn psql(&self, sql: &str) -> Result<()> {
        let Some(settings) = self.settings() else {
            bail!("psql needs an in-process app");
        };
        if self.backend != Backend::Postgres {
            bail!("psql needs the PostgreSQL backend");
        }
        let (url, sql) = (settings.database_url(), sql.to_owned());
        tokio::task::spawn_blocking(move || psql_blocking(&url, &sql))
            .await
            .context("running psql")?
    }

    async fn wait_until_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.ensure_serving().await.context("during startup")?;
            let last = match send(self.request(Method::GET, "/healthz")).await {
                Ok(r) if r.status == StatusCode::OK => return Ok(()),
                Ok(r) => r.to_string(),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                bail!(
                    "Keycard at {} not healthy after 60 s; last: {last}",
                    self.base_url
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Creates an empty database for one app and returns its URL, plus what to drop afterwards (only
/// on a server that outlives this process; the throwaway cluster is deleted whole).
async fn fresh_postgres_database() -> Result<(String, Option<(String, String)>)> {
    let (server, external) = match std::env::var("KEYCARD_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), true),
        _ => (
            tokio::task::spawn_blocking(throwaway_cluster)
                .await
                .context("starting PostgreSQL")??,
            false,
        ),
    };
    let name = format!("kc_{}", Uuid::new_v4().simple());
    let create = format!("CREATE DATABASE \"{name}\"");
    let on = server.clone();
    tokio::task::spawn_blocking(move || psql_blocking(&on, &create))
        .await
        .context("running psql")??;
    let mut url = Url::parse(&server).with_context(|| format!("parsing {server}"))?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), external.then_some((server, name))))
}

/// The cluster `scripts/pg-throwaway` runs for this process. It watches our pid and deletes
/// itself when we exit; the pipe is kept open for as long as we live.
struct Cluster {
    url: String,
    _process: Child,
    _stdout: BufReader<ChildStdout>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn throwaway_cluster() -> Result<String> {
    match CLUSTER.get_or_init(|| start_cluster().map_err(|e| format!("{e:#}"))) {
        Ok(c) => Ok(c.url.clone()),
        Err(e) => Err(anyhow!(
            "PostgreSQL backend unavailable: {e}\n\
             (set KEYCARD_TEST_DATABASE_URL=postgres://USER@HOST:PORT/postgres to use a running server)"
        )),
    }
}

fn start_cluster() -> Result<Cluster> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway");
    let mut process = Command::new(&script)
        .arg("--watch")
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {}", script.display()))?;
    let mut stdout = BufReader::new(process.stdout.take().context("no stdout pipe")?);
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .context("reading pg-throwaway's output")?;
    let url = line.trim().to_owned();
    if !url.starts_with("postgres://") {
        let status = process.wait()?;
        bail!(
            "{} exited with {status} without printing a postgres:// URL (printed {url:?}); see its stderr above",
            script.display()
        );
    }
    Ok(Cluster {
        url,
        _process: process,
        _stdout: stdout,
    })
}

/// A PostgreSQL cluster of a test's own, which it may stop and start again (same data, same port,
/// same URL) to see how Keycard copes with losing its database: `scripts/pg-throwaway --control`.
/// Dropping it stops the cluster and deletes its data, also when the test fails. Always a new
/// throwaway cluster, even with `KEYCARD_TEST_DATABASE_URL` set: a shared server is not ours to
/// stop.
pub struct PgCluster {
    url: String,
    control: Arc<Mutex<ClusterControl>>,
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The script and both ends of its command channel. Closing stdin tells it to clean up.
struct ClusterControl {
    process: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl PgCluster {
    /// Starts a new cluster (initdb and all: a second or two).
    pub async fn start() -> Result<Self> {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .context("starting a dedicated PostgreSQL cluster")?
    }

    fn start_blocking() -> Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway");
        let mut process = Command::new(&script)
            .arg("--control")
            .arg("--watch")
            .arg(std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("running {}", script.display()))?;
        let stdin = process.stdin.take();
        let stdout = process.stdout.take();
        // From here on, dropping `control` closes stdin and waits for the cleanup.
        let mut control = ClusterControl {
            process,
            stdin,
            stdout: BufReader::new(stdout.context("no stdout pipe")?),
        };
        let url = control.read_line()?;
        if !url.starts_with("postgres://") {
            bail!(
                "{} --control printed {url:?} instead of a postgres:// URL; see its stderr above",
                script.display()
            );
        }
        Ok(Self {
            url,
            control: Arc::new(Mutex::new(control)),
        })
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`; the same after a restart.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Shuts the server down (fast: clients are disconnected); returns once it is gone.
    pub async fn stop(&self) -> Result<()> {
        self.command("stop", "stopped").await
    }

    /// Starts the stopped server again; returns once it accepts connections.
    pub async fn restart(&self) -> Result<()> {
        self.command("start", "started").await
    }

    async fn command(&self, command: &'static str, done: &'static str) -> Result<()> {
        let control = Arc::clone(&self.control);
        tokio::task::spawn_blocking(move || {
            let mut control = control.lock().unwrap_or_else(|p| p.into_inner());
            let stdin = control
                .stdin
                .as_mut()
                .context("pg-throwaway's stdin is closed")?;
            writeln!(stdin, "{command}")
                .and_then(|()| stdin.flush())
                .with_context(|| format!("sending `{command}` to pg-throwaway"))?;
            let answer = control.read_line()?;
            if answer != done {
                bail!("pg-throwaway `{command}`: expected `{done}`, got {answer:?}");
            }
            Ok(())
        })
        .await
        .with_context(|| format!("PostgreSQL {command}"))?
    }
}

impl ClusterControl {
    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .context("reading pg-throwaway's output")?;
        if n == 0 {
            let status = self.process.try_wait().ok().flatten();
            bail!("pg-throwaway ended (status {status:?}); see its stderr above");
        }
        Ok(line.trim().to_owned())
    }
}

impl Drop for ClusterControl {
    fn drop(&mut self) {
        // End of stdin: the script stops the cluster and deletes its directory, then exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            match self.process.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        eprintln!(
            "pg-throwaway (pid {}) did not clean up within 90 s; killing it: the cluster may be left behind",
            self.process.id()
        );
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Runs one SQL statement with `psql`, so the kit needs no PostgreSQL client library.
fn psql_blocking(server: &str, sql: &str) -> Result<()> {
    let out = Command::new(psql_path())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("running psql (is the PostgreSQL client installed?)")?;
    if !out.status.success() {
        bail!(
            "psql `{sql}` on {server} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `psql` from PATH, else from the newest Debian-style /usr/lib/postgresql/*/bin.
fn psql_path() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("psql").is_file()));
    if in_path {
        return PathBuf::from("psql");
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/psql"))
        .filter(|p| p.is_file())
        .max_by_key(|p| {
            p.components()
                .nth(4)
                .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
        })
        .unwrap_or_else(|| PathBuf::from("psql"))
}
