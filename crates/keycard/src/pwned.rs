//! The breached-password range API over HTTP (`KEYCARD_PWNED_URL`, e.g.
//! `https://api.pwnedpasswords.com`): `GET {url}/range/{prefix}` with padding asked for, on the
//! rustls client every outbound call uses.

use async_trait::async_trait;
use keycard_core::passwords::{BreachScreen, RangeSource};
use std::sync::Arc;
use std::time::Duration;

/// How long a sign-up waits for the range at most; past it the password is let through.
pub const TIMEOUT: Duration = Duration::from_secs(2);

struct HttpRanges {
    http: reqwest::Client,
    base: String,
}

#[async_trait]
impl RangeSource for HttpRanges {
    async fn range(&self, prefix: &str) -> Result<String, String> {
        let response = self
            .http
            .get(format!("{}/range/{prefix}", self.base))
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|e| format!("range request: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("range request: HTTP {status}"));
        }
        response
            .text()
            .await
            .map_err(|e| format!("range body: {e}"))
    }
}

/// The screen for `url`, the range API's base.
pub fn screen(url: &str) -> anyhow::Result<BreachScreen> {
    let source = HttpRanges {
        http: keycard_providers::outbound_client(TIMEOUT)?,
        base: url.trim_end_matches('/').to_owned(),
    };
    Ok(BreachScreen::new(Arc::new(source), TIMEOUT))
}
