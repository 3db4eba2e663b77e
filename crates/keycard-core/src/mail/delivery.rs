//! Delivering the outbox: what is due is claimed, sent, and marked sent, or scheduled again
//! with a growing pause, or given up after the last pause.

use super::{Mail, MailKind, MailSender, PendingMail, SendFailure};
use crate::accounts::Email;
use crate::error::{Error, Result};
use crate::service::Keycard;
use std::time::Duration;

/// The pauses between attempts (about 22 hours in all): a mail server that is down for most of a
/// day loses nothing.
pub const RETRY_BACKOFF: [Duration; 8] = [
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(3 * 60 * 60),
    Duration::from_secs(6 * 60 * 60),
    Duration::from_secs(12 * 60 * 60),
];
/// How long a claimed batch is left to its sender before another may try it: longer than the
/// batch can take with every send running into the SMTP timeout (5 × 20 s), so a slow server
/// does not get a message sent twice.
const LEASE: Duration = Duration::from_secs(300);
const BATCH: u32 = 5;

/// What one round of delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl Keycard {
    /// Seals a message's fields for the outbox.
    pub(crate) fn seal_mail(&self, mail: &Mail) -> Result<super::PendingMail> {
        let json = serde_json::to_vec(&mail.fields)
            .map_err(|e| Error::Internal(format!("mail fields: {e}")))?;
        Ok(PendingMail {
            id: mail.id,
            kind: mail.kind.as_str().to_owned(),
            recipient: mail.to.as_str().to_owned(),
            locale: mail.locale.clone(),
            sealed: self.mail_key().seal(&mail.id.to_string(), &json)?,
            created_at: mail.created_at,
            attempts: 0,
        })
    }

    fn open_mail(&self, p: &PendingMail) -> std::result::Result<Mail, String> {
        let kind = MailKind::parse(&p.kind).ok_or("unknown kind of mail")?;
        let json = self.mail_key().open(&p.id.to_string(), &p.sealed).map_err(
            |_| "cannot open the message: KEYCARD_SECRET_KEY changed since it was written",
        )?;
        let fields = serde_json::from_slice(&json).map_err(|_| "malformed message fields")?;
        Ok(Mail {
            id: p.id,
            kind,
            to: Email::from_trusted(p.recipient.clone()),
            locale: p.locale.clone(),
            fields,
            created_at: p.created_at,
        })
    }

    /// Deletes what no one needs any more: messages sent or given up over 30 days ago (kept that
    /// long for the record, their fields long erased) and verification and reset links expired
    /// over a day ago. Returns how many rows went.
    pub async fn prune_mail(&self) -> Result<u64> {
        let now = self.now();
        let mail = self
            .store()
            .prune_mail(now - time::Duration::days(30))
            .await?;
        let links = self
            .store()
            .prune_links(now - time::Duration::days(1))
            .await?;
        let changes = self
            .store()
            .prune_email_changes(now - time::Duration::days(1))
            .await?;
        Ok(mail + links + changes)
    }

    /// Sends what is due, one batch; returns what happened. Call it in a loop (the server's
    /// delivery task does) — every instance may: a message is claimed by one at a time.
    pub async fn deliver_mail(&self, sender: &dyn MailSender) -> Result<Delivered> {
        let now = self.now();
        let claimed = self.store().claim_mail(now, now + LEASE, BATCH).await?;
        let mut done = Delivered::default();
        for p in claimed {
            let outcome = match self.open_mail(&p) {
                Ok(mail) => sender.send(&mail).await,
                Err(why) => Err(SendFailure::Permanent(why.to_owned())),
            };
            let store = self.store();
            match outcome {
                Ok(()) => {
                    store.mail_sent(p.id, p.attempts, self.now()).await?;
                    metrics::counter!("keycard_mail_total", "outcome" => "sent", "kind" => p.kind.clone()).increment(1);
                    done.sent += 1;
                }
                Err(SendFailure::Transient(why))
                    if (p.attempts as usize) <= RETRY_BACKOFF.len() =>
                {
                    let pause = RETRY_BACKOFF[(p.attempts as usize).saturating_sub(1)];
                    tracing::warn!(mail.id = %p.id, mail.kind = %p.kind, attempts = p.attempts, retry_in_secs = pause.as_secs(), error = %why, "mail not delivered; will retry");
                    store
                        .mail_retry(p.id, p.attempts, self.now() + pause, &why)
                        .await?;
                    metrics::counter!("keycard_mail_total", "outcome" => "retry", "kind" => p.kind.clone()).increment(1);
                    done.retrying += 1;
                }
                Err(e) => {
                    tracing::error!(mail.id = %p.id, mail.kind = %p.kind, attempts = p.attempts, error = %e, "mail given up");
                    store
                        .mail_failed(p.id, p.attempts, self.now(), &e.to_string())
                        .await?;
                    metrics::counter!("keycard_mail_total", "outcome" => "failed", "kind" => p.kind.clone()).increment(1);
                    done.failed += 1;
                }
            }
        }
        Ok(done)
    }
}
