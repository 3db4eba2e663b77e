//! Delivers OpenID Connect back-channel logout tokens: a POST of `logout_token` to the app's
//! registered URI, off the request path, retried a few times over about half a minute. An app
//! that stays unreachable misses the news (logged and counted); its grant has ended anyway,
//! and its tokens fail at userinfo and introspection.

use keycard_core::oidc::LogoutChannel;
use std::time::Duration;

/// Attempts, and the pause before each retry.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(25),
];

pub struct HttpLogoutChannel {
    http: reqwest::Client,
}

impl HttpLogoutChannel {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            http: keycard_providers::outbound_client(Duration::from_secs(5))?,
        })
    }
}

impl LogoutChannel for HttpLogoutChannel {
    fn deliver(&self, client_id: &str, uri: &str, logout_token: String) {
        let (http, uri, client_id) = (self.http.clone(), uri.to_owned(), client_id.to_owned());
        tokio::spawn(async move {
            for (attempt, pause) in std::iter::once(Duration::ZERO).chain(BACKOFF).enumerate() {
                tokio::time::sleep(pause).await;
                let sent = http
                    .post(&uri)
                    .form(&[("logout_token", logout_token.as_str())])
                    .send()
                    .await;
                match sent {
                    // Back-Channel Logout §2.8: 200 (or 204) means the app took it.
                    Ok(r) if r.status().is_success() => {
                        metrics::counter!("keycard_backchannel_logouts_total", "outcome" => "delivered").increment(1);
                        tracing::info!(client_id, attempt, "back-channel logout delivered");
                        return;
                    }
                    // 400: the app refused the token; sending it again will not change that.
                    Ok(r) if r.status().is_client_error() => {
                        metrics::counter!("keycard_backchannel_logouts_total", "outcome" => "refused").increment(1);
                        tracing::warn!(
                            client_id,
                            status = r.status().as_u16(),
                            "back-channel logout refused by the app"
                        );
                        return;
                    }
                    Ok(r) => tracing::info!(
                        client_id,
                        attempt,
                        status = r.status().as_u16(),
                        "back-channel logout not taken; will retry"
                    ),
                    Err(e) => {
                        tracing::info!(client_id, attempt, error = %e, "back-channel logout not delivered; will retry")
                    }
                }
            }
            metrics::counter!("keycard_backchannel_logouts_total", "outcome" => "failed")
                .increment(1);
            tracing::warn!(client_id, "back-channel logout given up after retries");
        });
    }
}
