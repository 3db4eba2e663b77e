//! Draining the webhook queue: claimed, posted, and marked sent, or due again after a growing
//! pause, or given up after the last one.

use super::{Delivery, WebhookSender};
use crate::audit::AuditEvent;
use crate::error::Result;
use crate::mail::{Delivered, SendFailure};
use crate::service::Keycard;
use std::time::Duration;

/// The pauses between attempts (about 22 hours in all).
pub const WEBHOOK_BACKOFF: [Duration; 8] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(3 * 60 * 60),
    Duration::from_secs(6 * 60 * 60),
    Duration::from_secs(12 * 60 * 60),
];
/// Longer than a batch can take with every post running into its timeout (10 × 10 s).
const LEASE: Duration = Duration::from_secs(150);
const BATCH: u32 = 10;

/// The body posted for `event`: what the audit trail holds of it, nothing secret.
pub fn payload(event: &AuditEvent) -> serde_json::Value {
    serde_json::json!({
        "id": event.id.to_string(),
        "type": event.kind.as_str(),
        "occurred_at": event
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "user_id": event.user_id.map(|u| u.to_string()),
        "session_id": event.session_id.map(|s| s.to_string()),
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail,
    })
}

impl Keycard {
    /// Posts what is due, one batch; every instance may call it (a claim is one instance's).
    pub async fn deliver_webhooks(&self, sender: &dyn WebhookSender) -> Result<Delivered> {
        let now = self.now();
        let claimed = self.store().claim_webhooks(now, now + LEASE, BATCH).await?;
        let mut done = Delivered::default();
        for c in claimed {
            let id = c.event.id;
            let body = serde_json::to_vec(&payload(&c.event)).unwrap_or_default();
            let outcome = sender
                .send(&Delivery {
                    event_id: id.to_string(),
                    body,
                })
                .await;
            let store = self.store();
            match outcome {
                Ok(()) => {
                    store.webhook_sent(id, c.attempts, self.now()).await?;
                    metrics::counter!("keycard_webhooks_total", "outcome" => "sent").increment(1);
                    done.sent += 1;
                }
                Err(SendFailure::Transient(why))
                    if (c.attempts as usize) <= WEBHOOK_BACKOFF.len() =>
                {
                    let pause = WEBHOOK_BACKOFF[(c.attempts as usize).saturating_sub(1)];
                    tracing::warn!(event.id = %id, attempts = c.attempts, retry_in_secs = pause.as_secs(), error = %why, "webhook not delivered; will retry");
                    store
                        .webhook_retry(id, c.attempts, self.now() + pause, &why)
                        .await?;
                    metrics::counter!("keycard_webhooks_total", "outcome" => "retry").increment(1);
                    done.retrying += 1;
                }
                Err(e) => {
                    tracing::error!(event.id = %id, attempts = c.attempts, error = %e, "webhook given up");
                    store
                        .webhook_failed(id, c.attempts, self.now(), &e.to_string())
                        .await?;
                    metrics::counter!("keycard_webhooks_total", "outcome" => "failed").increment(1);
                    done.failed += 1;
                }
            }
        }
        Ok(done)
    }

    /// Deletes deliveries finished over 30 days ago.
    pub async fn prune_webhooks(&self) -> Result<u64> {
        let before = self.now() - time::Duration::days(30);
        Ok(self.store().prune_webhooks(before).await?)
    }

    /// Tells the database whether to queue events for webhooks. Every instance shares the
    /// answer: an instance with a webhook URL turns it on at start; only an operator turns it
    /// off (`keycard webhooks off`), so an instance started without the URL cannot silently
    /// stop the others' deliveries.
    pub async fn enable_webhooks(&self, enabled: bool) -> Result<()> {
        Ok(self.store().set_webhooks_enabled(enabled).await?)
    }

    pub async fn webhooks_enabled(&self) -> Result<bool> {
        Ok(self.store().webhooks_enabled().await?)
    }
}
