//! The GitHub adapter against the double.

mod common;

use anyhow::{Result, ensure};
use common::{CLIENT_ID, Double, SECRET, http, is_rejected, is_unreachable, start};
use keycard_core::social::{IdentityProvider, ProviderError};
use keycard_providers::{GitHubProvider, OAuth2Config};
use std::time::Duration;

fn github(idp: &Double) -> Result<GitHubProvider> {
    let overrides = idp.overrides(
        "/github/login/oauth/authorize",
        "/github/login/oauth/access_token",
        "/github/",
    );
    let config = OAuth2Config::github(CLIENT_ID.into(), SECRET.into(), overrides);
    Ok(GitHubProvider::new(config, http(Duration::from_secs(5))?))
}

#[tokio::test]
async fn only_a_primary_verified_address_is_taken_as_verified() -> Result<()> {
    let idp = start().await?;
    let gh = github(&idp)?;
    ensure!(gh.info().id == "github" && gh.info().name == "GitHub" && gh.info().icon == "github");
    ensure!(gh.issuer() == "https://github.com");

    let ada = idp.sign_in(&gh, "ada", "").await??;
    ensure!(
        ada.subject.parse::<u64>().is_ok(),
        "the numeric id: {ada:?}"
    );
    ensure!(
        ada.email.as_deref() == Some("ada@example.com") && ada.email_verified,
        "{ada:?}"
    );
    ensure!(
        ada.name.as_deref() == Some("Ada Lovelace")
            && ada.picture_url.as_deref() == Some("https://pictures.example.com/ada.png"),
        "{ada:?}"
    );

    // Grace's primary address is unverified (her noreply address is verified, but not hers to
    // read): no address.
    let grace = idp.sign_in(&gh, "grace", "").await??;
    ensure!(grace.email.is_none() && !grace.email_verified, "{grace:?}");

    // Alan has no address and no name: the login stands in.
    let alan = idp.sign_in(&gh, "alan", "").await??;
    ensure!(
        alan.email.is_none() && alan.name.as_deref() == Some("alan"),
        "{alan:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_refusal_in_a_200_is_still_a_refusal() -> Result<()> {
    let idp = start().await?;
    let gh = github(&idp)?;

    // GitHub refuses a used code with HTTP 200 and `error`.
    let (code, flow) = idp.authorize(&gh, "ada", "").await?;
    ensure!(gh.finish(&flow.callback(&code)).await.is_ok());
    let replayed = gh.finish(&flow.callback(&code)).await;
    ensure!(
        matches!(&replayed, Err(ProviderError::Rejected(m)) if m.contains("bad_verification_code")),
        "a reused code: {replayed:?}"
    );
    // …and a verifier that is not the flow's.
    let (code, flow) = idp.authorize(&gh, "ada", "").await?;
    let mut callback = flow.callback(&code);
    let other = "another-verifier-of-forty-three-characters-0000";
    callback.pkce_verifier = other;
    let r = gh.finish(&callback).await;
    ensure!(is_rejected(&r), "a wrong verifier: {r:?}");

    let r = idp.sign_in(&gh, "ada", "server_error").await?;
    ensure!(is_unreachable(&r), "server_error: {r:?}");
    let r = idp.sign_in(&gh, "ada", "api_error").await?;
    ensure!(is_unreachable(&r), "api_error: {r:?}");
    Ok(())
}
