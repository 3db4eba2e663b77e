//! The X adapter against the double.

mod common;

use anyhow::{Result, ensure};
use common::{CLIENT_ID, Double, SECRET, http, is_rejected, is_unreachable, start};
use keycard_core::social::IdentityProvider;
use keycard_providers::{OAuth2Config, XProvider};
use std::time::Duration;

fn x(idp: &Double, timeout: Duration) -> Result<XProvider> {
    let overrides = idp.overrides("/x/i/oauth2/authorize", "/x/2/oauth2/token", "/x/2");
    let config = OAuth2Config::x(CLIENT_ID.into(), SECRET.into(), overrides);
    Ok(XProvider::new(config, http(timeout)?))
}

#[tokio::test]
async fn a_sign_in_yields_a_profile_without_an_address() -> Result<()> {
    let idp = start().await?;
    let x = x(&idp, Duration::from_secs(5))?;
    ensure!(x.info().id == "x" && x.info().name == "X" && x.info().icon == "x");
    ensure!(x.issuer() == "https://x.com");

    let ada = idp.sign_in(&x, "ada", "").await??;
    ensure!(
        !ada.subject.is_empty() && ada.subject.bytes().all(|b| b.is_ascii_digit()),
        "{ada:?}"
    );
    ensure!(
        ada.name.as_deref() == Some("Ada Lovelace")
            && ada.picture_url.as_deref() == Some("https://pictures.example.com/ada.png"),
        "{ada:?}"
    );
    ensure!(ada.email.is_none() && !ada.email_verified, "{ada:?}");
    let tagged = idp.sign_in(&x, "ada+x1", "").await??;
    ensure!(tagged.subject != ada.subject, "{tagged:?}");
    Ok(())
}

#[tokio::test]
async fn refusals_and_failures_are_told_apart() -> Result<()> {
    let idp = start().await?;
    let x = x(&idp, Duration::from_secs(1))?;

    let (code, flow) = idp.authorize(&x, "ada", "").await?;
    ensure!(x.finish(&flow.callback(&code)).await.is_ok());
    let replayed = x.finish(&flow.callback(&code)).await;
    ensure!(is_rejected(&replayed), "a reused code: {replayed:?}");

    let r = idp.sign_in(&x, "ada", "server_error").await?;
    ensure!(is_unreachable(&r), "server_error: {r:?}");
    // The double answers after 30 s; the client gives up after 1.
    let r = idp.sign_in(&x, "ada", "slow").await?;
    ensure!(is_unreachable(&r), "slow: {r:?}");
    let r = idp.sign_in(&x, "ada", "api_error").await?;
    ensure!(is_unreachable(&r), "api_error: {r:?}");
    Ok(())
}
