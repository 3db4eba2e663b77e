//! Keycard's outbound mail: each message rendered from its templates (plain text and HTML,
//! escaped, in the person's language), delivered over SMTP with lettre on rustls, or — in
//! development, without a mail server — written to the log; and the task that drains the
//! outbox (keycard-core's `mail` module decides what is due and what is retried).

#![forbid(unsafe_code)]

mod render;
mod senders;
mod words;

pub use render::{Rendered, render};
pub use senders::{LogSender, SmtpSender};

use keycard_core::Keycard;
use keycard_core::mail::MailSender;
use std::sync::Arc;
use std::time::Duration;

/// Who the mail is from: `Name <address>`.
#[derive(Debug, Clone)]
pub struct From {
    pub name: String,
    pub address: String,
}

/// How often the outbox is looked at when nothing wakes the task: what a message written by
/// another instance, or due for a retry, may wait.
const POLL: Duration = Duration::from_secs(2);

/// Drains the outbox until the returned task is aborted: at once when this process queues a
/// message, otherwise every couple of seconds.
pub fn spawn_delivery(
    kc: Arc<Keycard>,
    sender: Arc<dyn MailSender>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                match kc.deliver_mail(sender.as_ref()).await {
                    // A full batch may mean more is due.
                    Ok(done) if done.sent + done.retrying + done.failed > 0 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail delivery round failed; trying again shortly");
                        break;
                    }
                }
            }
            tokio::select! {
                () = kc.mail_waiting() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}
