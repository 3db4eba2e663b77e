//! Posting webhooks (`KEYCARD_WEBHOOK_URL`, signed with `KEYCARD_WEBHOOK_SECRET`) on the rustls
//! client every outbound call uses, and the task that drains the queue.

use async_trait::async_trait;
use keycard_core::Keycard;
use keycard_core::mail::SendFailure;
use keycard_core::webhooks::{Delivery, WebhookSender, sign};
use std::sync::Arc;
use std::time::Duration;

/// How long one post may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the queue is looked at (events are queued by every instance's writes).
const POLL: Duration = Duration::from_secs(2);

pub struct HttpWebhooks {
    http: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

impl HttpWebhooks {
    pub fn new(url: &str, secret: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: keycard_providers::outbound_client(TIMEOUT)?,
            url: url.to_owned(),
            secret: secret.as_bytes().to_vec(),
        })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhooks {
    async fn send(&self, d: &Delivery) -> Result<(), SendFailure> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Keycard-Event-Id", &d.event_id)
            .header("Keycard-Signature", sign(&self.secret, now, &d.body))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| SendFailure::Transient(format!("posting: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            // Any refusal may be the receiver's passing trouble (a deploy, a bug being fixed):
            // retried like an outage until the schedule runs out.
            Err(SendFailure::Transient(format!("HTTP {status}")))
        }
    }
}

/// Drains the queue while the server runs.
pub fn spawn(kc: Arc<Keycard>, sender: Arc<dyn WebhookSender>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                match kc.deliver_webhooks(sender.as_ref()).await {
                    Ok(done) if done.sent + done.retrying + done.failed > 0 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook delivery round failed; trying again shortly");
                        break;
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
