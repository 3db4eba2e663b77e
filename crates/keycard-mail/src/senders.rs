//! Where rendered messages go: a mail server over SMTP, or the log in development.

use crate::From;
use crate::render::render;
use async_trait::async_trait;
use keycard_core::mail::{Mail, MailSender, SendFailure};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Delivers over SMTP: `smtp://host:port` (plain, for a local catcher or relay),
/// `smtp://host:587?tls=required` (STARTTLS) or `smtps://host:465`, with `user:password@` for
/// authentication, as lettre reads such URLs.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    pub fn new(url: &str, from: &From) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("KEYCARD_SMTP_URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Self {
            transport,
            from: mailbox(from)?,
        })
    }
}

fn mailbox(from: &From) -> Result<Mailbox, String> {
    let address = from
        .address
        .parse()
        .map_err(|e| format!("KEYCARD_MAIL_FROM: {e}"))?;
    Ok(Mailbox::new(Some(from.name.clone()), address))
}

/// The message as sent: both bodies, the text one first (RFC 2046: the plainest first).
fn message(from: &Mailbox, mail: &Mail) -> Result<Message, SendFailure> {
    let rendered = render(mail).map_err(SendFailure::Permanent)?;
    let to: Mailbox = mail
        .to
        .as_str()
        .parse()
        .map_err(|e| SendFailure::Permanent(format!("recipient: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject)
        .multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ))
        .map_err(|e| SendFailure::Permanent(format!("building the message: {e}")))
}

#[async_trait]
impl MailSender for SmtpSender {
    async fn send(&self, mail: &Mail) -> Result<(), SendFailure> {
        let message = message(&self.from, mail)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // A 5xx answer is the server's final word on this message; anything else (no
            // connection, a timeout, a 4xx) may pass later.
            Err(e) if e.is_permanent() => Err(SendFailure::Permanent(e.to_string())),
            Err(e) => Err(SendFailure::Transient(e.to_string())),
        }
    }
}

/// Development without a mail server: each message is written to the log, links included, so
/// the flows can be followed by hand. Keycard refuses this in production.
pub struct LogSender;

#[async_trait]
impl MailSender for LogSender {
    async fn send(&self, mail: &Mail) -> Result<(), SendFailure> {
        let rendered = render(mail).map_err(SendFailure::Permanent)?;
        tracing::warn!(
            mail.to = %mail.to.as_str(),
            mail.kind = mail.kind.as_str(),
            subject = %rendered.subject,
            body = %rendered.text,
            "DEVELOPMENT ONLY: no KEYCARD_SMTP_URL, so this mail was written to the log instead of sent"
        );
        Ok(())
    }
}
