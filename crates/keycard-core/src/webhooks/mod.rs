//! Webhooks: every audit event, posted to the platform's endpoint (`KEYCARD_WEBHOOK_URL`) so its
//! other services can react (a sign-in from a new device, a password reset, a disabling). An
//! event is queued by the database in the transaction that records it, so none is lost and none
//! is sent for a change that rolled back; the queue is drained off the request path with
//! retries, like the mail outbox. Delivery is at least once and in no guaranteed order: a
//! receiver dedupes by the event's `id`.
//!
//! Each request carries `Keycard-Signature: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 under
//! the shared secret of `"<t>.<body>"` (see [`sign`]): the receiver recomputes it, compares in
//! constant time, and refuses a `t` too far from its clock (replays).

mod delivery;
mod store;

pub use delivery::{WEBHOOK_BACKOFF, payload};
pub use store::{ClaimedEvent, WebhookStore};

use aws_lc_rs::hmac;
use std::fmt::Write as _;

/// One event to post: its id, the JSON body and the moment it is signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub body: Vec<u8>,
}

/// Posts one event; supplied by the server (HTTP, with the signature).
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, delivery: &Delivery) -> Result<(), crate::mail::SendFailure>;
}

/// The `Keycard-Signature` header's value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let mut out = format!("t={timestamp},v1=");
    for b in tag.as_ref() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        let s = sign(b"secret", 1_700_000_000, b"{}");
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        let whole = hmac::sign(&key, b"1700000000.{}");
        let hex: String = whole.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s, format!("t=1700000000,v1={hex}"));
        assert_ne!(s, sign(b"other", 1_700_000_000, b"{}"));
        assert_ne!(s, sign(b"secret", 1_700_000_001, b"{}"));
        assert_ne!(s, sign(b"secret", 1_700_000_000, b"{ }"));
    }
}
