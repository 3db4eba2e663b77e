//! The one outbound HTTP client and the timing and classification of its calls.

use keycard_core::social::ProviderError;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// A client for provider calls: rustls, no redirects (a token endpoint that redirects is
/// refused, never followed), a whole-call timeout.
pub fn outbound_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("keycard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends a request and reads a JSON body, timing it. Transport failures and 5xx are
/// `Unreachable` (worth retrying later); other statuses and bodies that do not parse are
/// `Rejected`, with the provider's OAuth `error` code when it sent one.
pub(crate) async fn call_json<T: DeserializeOwned>(
    provider: &str,
    call: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<T, ProviderError> {
    let started = Instant::now();
    let outcome = async {
        let response = request
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(format!("{call}: {e}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Unreachable(format!("{call}: reading the body: {e}")))?;
        if status.is_server_error() {
            return Err(ProviderError::Unreachable(format!("{call}: HTTP {status}")));
        }
        if !status.is_success() {
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(error_code))
                .unwrap_or_default();
            return Err(ProviderError::Rejected(format!(
                "{call}: HTTP {status} {code}"
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Rejected(format!("{call}: unexpected body: {e}")))
    }
    .await;
    let outcome_label = match &outcome {
        Ok(_) => "ok",
        Err(ProviderError::Unreachable(_)) => "unreachable",
        Err(ProviderError::Rejected(_)) => "rejected",
    };
    metrics::histogram!(
        "keycard_provider_request_seconds",
        "provider" => provider.to_owned(),
        "call" => call,
        "outcome" => outcome_label,
    )
    .record(started.elapsed().as_secs_f64());
    outcome
}

/// The provider's error code: RFC 6749's `"error": "invalid_grant"`, or the Graph API's
/// `"error": {"type": "OAuthException", "code": 100}`. Never the description, which may quote
/// what was sent.
fn error_code(error: &serde_json::Value) -> Option<String> {
    if let Some(code) = error.as_str() {
        return Some(code.to_owned());
    }
    let kind = error.get("type")?.as_str()?;
    Some(
        match error.get("code").and_then(serde_json::Value::as_i64) {
            Some(n) => format!("{kind} {n}"),
            None => kind.to_owned(),
        },
    )
}

/// RFC 6749 §2.3.1: client id and secret are form-encoded before HTTP Basic.
pub(crate) fn form_encode(s: &str) -> String {
    reqwest::Url::parse_with_params("x:", &[("v", s)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches("v=").to_owned()))
        .unwrap_or_else(|| s.to_owned())
}
