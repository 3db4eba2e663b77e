//! The mail catcher the suite reads: MailDev, a real SMTP server with a REST API
//! (`scripts/mail-catcher`). In-process, the test kit starts one for the whole test process on
//! free loopback ports and points each Keycard that sends mail at it; against `KEYCARD_URL`
//! (the container suite) it reads the catcher that server delivers to, at
//! `KEYCARD_TEST_MAILDEV_URL`. Tests tell their messages apart by recipient (each test signs up
//! its own unique address), so they can share one inbox.

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A message as MailDev received it.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub id: String,
    pub subject: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub from: Vec<Address>,
    #[serde(default)]
    pub to: Vec<Address>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Address {
    pub address: String,
    #[serde(default)]
    pub name: String,
}

impl Received {
    /// The first `{KEYCARD_PUBLIC_URL}/<path>?token=…` link of the text body.
    pub fn link(&self, path: &str) -> Option<String> {
        let text = self.text.as_deref()?;
        let at = text.find(&format!("{path}?token="))?;
        let start = text[..at]
            .rfind(|c: char| c.is_whitespace())
            .map_or(0, |i| i + 1);
        let end = text[at..]
            .find(|c: char| c.is_whitespace())
            .map_or(text.len(), |i| at + i);
        Some(text[start..end].to_owned())
    }
}

/// The catcher: where Keycard delivers (`smtp_url`, in-process only) and where tests read.
#[derive(Debug, Clone)]
pub struct MailCatcher {
    pub smtp_url: Option<String>,
    pub web_url: String,
}

struct Started {
    catcher: MailCatcher,
    _process: Child,
    _stdout: BufReader<ChildStdout>,
}

static STARTED: OnceLock<Result<Started, String>> = OnceLock::new();

impl MailCatcher {
    /// The catcher of this test run: the container's (`KEYCARD_TEST_MAILDEV_URL`) or one of
    /// this process's own. A catcher that cannot be had fails the test, never skips it.
    pub fn get() -> Result<MailCatcher> {
        if let Some(url) = std::env::var("KEYCARD_TEST_MAILDEV_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            return Ok(MailCatcher {
                smtp_url: None,
                web_url: url.trim().trim_end_matches('/').to_owned(),
            });
        }
        match STARTED.get_or_init(|| start().map_err(|e| format!("{e:#}"))) {
            Ok(s) => Ok(s.catcher.clone()),
            Err(e) => Err(anyhow!("mail catcher unavailable: {e}")),
        }
    }

    /// Every message received for `to`, oldest first.
    pub async fn messages_to(&self, to: &str) -> Result<Vec<Received>> {
        let all: Vec<Received> = reqwest::Client::new()
            .get(format!("{}/email", self.web_url))
            .send()
            .await
            .with_context(|| format!("reading the mail catcher at {}", self.web_url))?
            .error_for_status()?
            .json()
            .await
            .context("the mail catcher's /email")?;
        Ok(all
            .into_iter()
            .filter(|m| m.to.iter().any(|a| a.address.eq_ignore_ascii_case(to)))
            .collect())
    }

    /// Waits (up to 15 s) until `to` has received `count` messages; returns them all.
    pub async fn wait_for(&self, to: &str, count: usize) -> Result<Vec<Received>> {
        self.wait_within(to, count, Duration::from_secs(15)).await
    }

    /// [`Self::wait_for`] with another patience.
    pub async fn wait_within(
        &self,
        to: &str,
        count: usize,
        patience: Duration,
    ) -> Result<Vec<Received>> {
        let deadline = Instant::now() + patience;
        loop {
            let got = self.messages_to(to).await?;
            if got.len() >= count {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!(
                    "{to} received {} message(s) within {patience:?}, expected {count}",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn start() -> Result<Started> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mail-catcher");
    let mut process = Command::new(&script)
        .arg("--watch")
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {}", script.display()))?;
    let mut stdout = BufReader::new(process.stdout.take().context("no stdout pipe")?);
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .context("reading mail-catcher's output")?;
    let Some((smtp, web)) = line.trim().split_once(' ') else {
        let status = process.wait()?;
        bail!(
            "{} exited with {status} without printing its addresses (printed {line:?}); see its stderr above \
             (install MailDev with `scripts/mail-catcher --install`)",
            script.display()
        );
    };
    Ok(Started {
        catcher: MailCatcher {
            smtp_url: Some(smtp.to_owned()),
            web_url: web.to_owned(),
        },
        _process: process,
        _stdout: stdout,
    })
}
