//! The Facebook adapter against the double.

mod common;

use anyhow::{Result, ensure};
use common::{CLIENT_ID, Double, SECRET, http, is_rejected, is_unreachable, start};
use keycard_core::social::{IdentityProvider, ProviderError};
use keycard_providers::{FacebookProvider, OAuth2Config};
use std::time::Duration;

fn facebook(idp: &Double) -> Result<FacebookProvider> {
    let overrides = idp.overrides(
        "/facebook/dialog/oauth",
        "/facebook/oauth/access_token",
        "/facebook",
    );
    let config = OAuth2Config::facebook(CLIENT_ID.into(), SECRET.into(), overrides);
    ensure!(
        !format!("{config:?}").contains(SECRET),
        "the secret in Debug"
    );
    Ok(FacebookProvider::new(config, http(Duration::from_secs(5))?))
}

#[tokio::test]
async fn a_sign_in_yields_the_graph_profile_with_a_confirmed_address() -> Result<()> {
    let idp = start().await?;
    let fb = facebook(&idp)?;
    ensure!(
        fb.info().id == "facebook" && fb.info().name == "Facebook" && fb.info().icon == "facebook"
    );
    // The same issuer whatever the endpoints: identities are keyed by it.
    ensure!(fb.issuer() == "https://www.facebook.com");

    let ada = idp.sign_in(&fb, "ada", "").await??;
    ensure!(
        !ada.subject.is_empty() && ada.subject.bytes().all(|b| b.is_ascii_digit()),
        "{ada:?}"
    );
    ensure!(
        ada.email.as_deref() == Some("ada@example.com") && ada.email_verified,
        "{ada:?}"
    );
    ensure!(ada.name.as_deref() == Some("Ada Lovelace"), "{ada:?}");
    ensure!(
        ada.picture_url.as_deref() == Some("https://pictures.example.com/ada.png"),
        "{ada:?}"
    );
    let again = idp.sign_in(&fb, "ada", "").await??;
    ensure!(again.subject == ada.subject, "the subject is not stable");

    // Facebook leaves out an unconfirmed address: nothing to verify, nothing claimed.
    let grace = idp.sign_in(&fb, "grace", "").await??;
    ensure!(
        grace.email.is_none() && !grace.email_verified && grace.subject != ada.subject,
        "{grace:?}"
    );
    Ok(())
}

#[tokio::test]
async fn refusals_and_failures_are_told_apart() -> Result<()> {
    let idp = start().await?;
    let fb = facebook(&idp)?;

    let (code, flow) = idp.authorize(&fb, "ada", "").await?;
    ensure!(fb.finish(&flow.callback(&code)).await.is_ok());
    let replayed = fb.finish(&flow.callback(&code)).await;
    ensure!(
        matches!(&replayed, Err(ProviderError::Rejected(m)) if m.contains("OAuthException 100")),
        "a reused code: {replayed:?}"
    );

    let r = idp.sign_in(&fb, "ada", "server_error").await?;
    ensure!(is_unreachable(&r), "server_error: {r:?}");
    let r = idp.sign_in(&fb, "ada", "api_error").await?;
    ensure!(is_unreachable(&r), "api_error: {r:?}");
    let r = idp.sign_in(&fb, "ada", "garbage").await?;
    ensure!(is_rejected(&r), "garbage: {r:?}");
    Ok(())
}
