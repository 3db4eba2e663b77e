//! Keycard's black-box API suite: one test binary, one module per area, HTTP only.
//!
//! Each test is written once as `async fn name(app: TestApp) -> Result<()>`; `backend_tests!`
//! runs it against both stores as `AREA::sqlite::name` and `AREA::postgres::name`. PostgreSQL-only
//! tests (`outage`) keep that naming, so `postgres::` selects every test of that backend.
//!
//! Run in-process (a fresh Keycard and database per test; PostgreSQL from
//! `KEYCARD_TEST_DATABASE_URL` or a throwaway cluster via `scripts/pg-throwaway`):
//!     cargo test -p keycard-testkit
//! Run against a running server (tests needing a config override then return early):
//!     KEYCARD_URL=http://127.0.0.1:8080 cargo test -p keycard-testkit sqlite::

#![forbid(unsafe_code)]

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keycard_testkit::{Backend, TestApp};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// Generates one `#[tokio::test]` per backend for each named test function of the calling module.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(keycard_testkit::Backend::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(keycard_testkit::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

/// Like `backend_tests!`, with Keycard delivering to the mail catcher (see `run_mail`).
macro_rules! mail_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_mail(keycard_testkit::Backend::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_mail(keycard_testkit::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

mod auth;
mod breached;
mod clients;
mod contract;
mod cookies;
mod email_change;
mod hidden_signup;
mod instances;
mod keys;
mod mail;
mod me;
mod mfa;
mod oidc;
mod ops;
mod outage;
mod pages;
mod passkeys;
mod password_reset;
mod refresh_grace;
mod sessions;
mod social;
mod throttle;
mod tokens;
mod webhooks;

/// Starts Keycard for one test. A backend that cannot start fails the test, never skips it.
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let app = match TestApp::start(backend).await {
        Ok(app) => app,
        Err(e) => panic!("could not start Keycard on {backend:?}: {e:#}"),
    };
    if let Err(e) = test(app).await {
        panic!("{e:#}");
    }
}

/// Starts Keycard delivering to the mail catcher for one test; fails, never skips.
async fn run_mail<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp, keycard_testkit::MailCatcher) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let (app, catcher) = match TestApp::start_mail(backend).await {
        Ok(started) => started,
        Err(e) => panic!("could not start Keycard with the mail catcher on {backend:?}: {e:#}"),
    };
    if let Err(e) = test(app, catcher).await {
        panic!("{e:#}");
    }
}

/// `app`'s backend again, in process, delivering to `mail`'s catcher, with `settings`; `None`
/// (after saying so) when the suite targets `KEYCARD_URL`, whose settings are not ours.
async fn with_mail(
    app: TestApp,
    mail: &keycard_testkit::MailCatcher,
    settings: &[(&str, &str)],
) -> Result<Option<TestApp>> {
    let backend = app.backend();
    drop(app);
    let Some(smtp) = mail.smtp_url.clone() else {
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(None);
    };
    let mut builder = TestApp::builder(backend).setting("smtp_url", &smtp);
    for (name, value) in settings {
        builder = builder.setting(name, value);
    }
    builder.start().await
}

/// Starts Keycard with sign-in through the provider double for one test; fails, never skips.
async fn run_social<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let app = match TestApp::start_social(backend).await {
        Ok(app) => app,
        Err(e) => panic!("could not start Keycard with the provider double on {backend:?}: {e:#}"),
    };
    if let Err(e) = test(app).await {
        panic!("{e:#}");
    }
}

pub const FIREFOX_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A JWT's decoded header and claims. The signature is not checked: that is the server's job,
/// and what the forged-token tests probe.
pub fn decode_jwt(token: &str) -> Result<(Value, Value)> {
    let parts: Vec<&str> = token.split('.').collect();
    ensure!(parts.len() == 3, "not a compact JWS: {token}");
    let part = |s: &str| -> Result<Value> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .context("JWT part is not base64url")?;
        serde_json::from_slice(&bytes).context("JWT part is not JSON")
    };
    Ok((part(parts[0])?, part(parts[1])?))
}

pub fn b64url_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// `2026-11-24T12:00:00Z` or with an offset / fraction: the shape of RFC 3339, checked without a
/// date library.
pub fn assert_rfc3339(v: &Value, what: &str) {
    let s = v.as_str().unwrap_or_default();
    let b = s.as_bytes();
    let ok = b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s.ends_with('z') || s[19..].contains(['+', '-']));
    assert!(ok, "{what} is not an RFC 3339 timestamp: {v}");
}

pub fn assert_uuid(v: &Value, what: &str) {
    assert!(
        v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
        "{what} is not a UUID: {v}"
    );
}

/// Kinds of the caller's audit events, newest first.
pub async fn event_kinds(app: &TestApp, token: &str) -> Result<Vec<String>> {
    let events = app
        .bearer_get("/v1/me/events?limit=100", token)
        .await?
        .expect_status(200)?
        .json()?;
    let list = events["events"]
        .as_array()
        .with_context(|| format!("no events array: {events}"))?;
    Ok(list
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// Status of `GET /v1/me` with `token`: 200 while its session lives, 401 after.
pub async fn me_status(app: &TestApp, token: &str) -> Result<u16> {
    Ok(app.bearer_get("/v1/me", token).await?.status.as_u16())
}
