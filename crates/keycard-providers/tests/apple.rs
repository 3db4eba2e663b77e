//! Sign in with Apple against the double: the ES256 client secret, the `form_post` answer with
//! the name on the first sign-in only, and the forgeries the OpenID Connect checks refuse.

mod common;

use anyhow::{Result, ensure};
use common::{CLIENT_ID, Double, http, is_rejected, start};
use keycard_core::social::IdentityProvider;
use keycard_mock_idp::apple::{DEMO_KEY_ID, DEMO_PRIVATE_KEY, DEMO_TEAM_ID};
use keycard_providers::{AppleConfig, AppleKey, AppleProvider};
use std::time::Duration;

fn apple_with(idp: &Double, team: &str, key_id: &str) -> Result<AppleProvider> {
    let config = AppleConfig {
        client_id: CLIENT_ID.into(),
        key: AppleKey::new(team.into(), key_id.into(), DEMO_PRIVATE_KEY)?,
        issuer: Some(format!("{}/apple", idp.origin)),
    };
    Ok(AppleProvider::new(config, http(Duration::from_secs(5))?))
}

#[tokio::test]
async fn the_first_sign_in_brings_the_name_and_the_next_only_the_id_token() -> Result<()> {
    let idp = start().await?;
    let apple = apple_with(&idp, DEMO_TEAM_ID, DEMO_KEY_ID)?;
    ensure!(apple.issuer() == format!("{}/apple", idp.origin));

    let url = apple
        .authorization_url(&keycard_core::social::Authorization {
            state: "s",
            nonce: "n",
            pkce_challenge: "c",
            redirect_uri: &common::redirect("apple"),
        })
        .await?;
    ensure!(url.contains("response_mode=form_post"), "{url}");
    ensure!(url.contains("scope=name%20email"), "{url}");
    ensure!(
        !url.contains("code_challenge"),
        "Apple takes no PKCE: {url}"
    );

    let first = idp.sign_in(&apple, "ada+apple1", "").await??;
    ensure!(first.subject == "apple-ada+apple1-0001", "{first:?}");
    ensure!(
        first.email.as_deref() == Some("ada+apple1@example.com") && first.email_verified,
        "{first:?}"
    );
    ensure!(first.name.as_deref() == Some("Ada Lovelace"), "{first:?}");
    ensure!(first.picture_url.is_none(), "{first:?}");

    let again = idp.sign_in(&apple, "ada+apple1", "").await??;
    ensure!(again.subject == first.subject, "{again:?}");
    ensure!(again.name.is_none(), "the name comes once: {again:?}");

    let grace = idp.sign_in(&apple, "grace+apple1", "").await??;
    ensure!(!grace.email_verified, "{grace:?}");
    Ok(())
}

#[tokio::test]
async fn a_client_secret_signed_for_another_team_or_key_is_refused() -> Result<()> {
    let idp = start().await?;
    for (team, key) in [("OTHERTEAM1", DEMO_KEY_ID), (DEMO_TEAM_ID, "OTHERKEY01")] {
        let apple = apple_with(&idp, team, key)?;
        let r = idp.sign_in(&apple, "ada", "").await?;
        ensure!(is_rejected(&r), "{team}/{key}: {r:?}");
    }
    Ok(())
}

#[tokio::test]
async fn forged_id_tokens_are_refused() -> Result<()> {
    let idp = start().await?;
    let apple = apple_with(&idp, DEMO_TEAM_ID, DEMO_KEY_ID)?;
    for fault in [
        "alg_none",
        "wrong_nonce",
        "bad_signature",
        "wrong_audience",
        "wrong_issuer",
        "expired",
    ] {
        let r = idp.sign_in(&apple, "ada", fault).await?;
        ensure!(is_rejected(&r), "{fault}: {r:?}");
    }
    Ok(())
}
