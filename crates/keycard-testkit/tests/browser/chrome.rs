//! A headless Debian `chromium` driven through `chromedriver` (WebDriver): a fresh profile per
//! browser, no sandbox (containers and CI run as root), nothing fetched from the network by the
//! browser itself. Missing programs fail the test with what to install; they never skip it.

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Chrome {
    pub client: Client,
    _driver: Driver,
}

/// The chromedriver process and the browser profile, removed however the test ends.
struct Driver {
    process: Child,
    profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn program(var: &str, candidates: &[&str]) -> Result<String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    for c in candidates {
        if std::path::Path::new(c).exists() {
            return Ok((*c).to_owned());
        }
    }
    bail!(
        "{} not found (set {var}); install Debian's chromium and chromium-driver: `make deps`",
        candidates.join(" or ")
    )
}

impl Chrome {
    pub async fn start() -> Result<Self> {
        let chromium = program(
            "KEYCARD_CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )?;
        let chromedriver = program("KEYCARD_CHROMEDRIVER", &["/usr/bin/chromedriver"])?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let process = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {chromedriver}"))?;
        let driver = Driver {
            process,
            profile: std::env::temp_dir().join(format!(
                "keycard-chromium-{}",
                uuid::Uuid::new_v4().simple()
            )),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not listen on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--window-size=1024,900",
                    format!("--user-data-dir={}", driver.profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            bail!("capabilities are an object");
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("opening a chromium session through chromedriver")?;
        Ok(Self {
            client,
            _driver: driver,
        })
    }

    /// Ends the browser session; the driver and profile go on drop.
    pub async fn close(self) -> Result<()> {
        self.client.clone().close().await?;
        Ok(())
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// Waits for an element (after a navigation) and returns it.
    pub async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("no `{css}` on the page"))
    }

    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let field = self.wait_for(css).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_for(css).await?.click().await?;
        Ok(())
    }

    pub async fn url(&self) -> Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    pub async fn source(&self) -> Result<String> {
        Ok(self.client.source().await?)
    }

    pub async fn text_of(&self, css: &str) -> Result<String> {
        Ok(self.wait_for(css).await?.text().await?)
    }

    /// Signs out of `base` (Keycard's URL) through the logout page's button.
    pub async fn sign_out(&self, base: &str) -> Result<()> {
        self.goto(&format!("{base}/logout")).await?;
        self.click("#submit").await?;
        self.wait_for("a.button[href='/login']").await?;
        Ok(())
    }

    /// Submits the password form of the sign-in page on display.
    pub async fn submit_password(&self, email: &str, password: &str) -> Result<()> {
        self.fill("#email", email).await?;
        self.fill("#password", password).await?;
        self.click("#submit").await
    }

    /// Waits until the page's URL satisfies `f` (a redirect chain has landed).
    pub async fn wait_for_url(&self, what: &str, f: impl Fn(&str) -> bool) -> Result<String> {
        let started = Instant::now();
        loop {
            let url = self.url().await?;
            if f(&url) {
                return Ok(url);
            }
            if started.elapsed() > Duration::from_secs(20) {
                let page = self.client.source().await.unwrap_or_default();
                let text: String = page.chars().take(1500).collect();
                bail!("never reached {what}; still at {url}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
