//! The OpenID Connect adapter against the double: discovery, the verified ID token, and the
//! forgeries it must refuse.

mod common;

use anyhow::{Result, ensure};
use common::{CLIENT_ID, Double, SECRET, http, is_rejected, is_unreachable, start};
use keycard_core::social::IdentityProvider;
use keycard_providers::{OidcConfig, OidcProvider};
use std::time::Duration;

fn generic(idp: &Double) -> Result<OidcProvider> {
    let config = OidcConfig::generic(
        "oidc".into(),
        "Test OpenID".into(),
        format!("{}/oidc/", idp.origin),
        CLIENT_ID.into(),
        SECRET.into(),
    );
    Ok(OidcProvider::new(config, http(Duration::from_secs(5))?))
}

#[tokio::test]
async fn a_sign_in_yields_the_verified_claims() -> Result<()> {
    let idp = start().await?;
    let oidc = generic(&idp)?;
    ensure!(oidc.issuer() == format!("{}/oidc", idp.origin));

    let ada = idp.sign_in(&oidc, "ada", "").await??;
    ensure!(ada.subject == "oidc-ada-0001", "{ada:?}");
    ensure!(
        ada.email.as_deref() == Some("ada@example.com") && ada.email_verified,
        "{ada:?}"
    );
    ensure!(ada.name.as_deref() == Some("Ada Lovelace"), "{ada:?}");
    let grace = idp.sign_in(&oidc, "grace", "").await??;
    ensure!(
        grace.email.as_deref() == Some("grace@example.com") && !grace.email_verified,
        "{grace:?}"
    );

    // Google, pointed at its stand-in.
    let google = OidcProvider::new(
        OidcConfig::google(
            CLIENT_ID.into(),
            SECRET.into(),
            Some(format!("{}/google", idp.origin)),
        ),
        http(Duration::from_secs(5))?,
    );
    let ada = idp.sign_in(&google, "ada", "").await??;
    ensure!(ada.subject == "google-ada-0001", "{ada:?}");
    Ok(())
}

#[tokio::test]
async fn forged_or_failed_answers_are_refused() -> Result<()> {
    let idp = start().await?;
    let oidc = generic(&idp)?;
    for fault in [
        "alg_none",
        "wrong_nonce",
        "bad_signature",
        "hmac_with_public_key",
        "wrong_audience",
        "wrong_issuer",
        "expired",
        "garbage",
    ] {
        let r = idp.sign_in(&oidc, "ada", fault).await?;
        ensure!(is_rejected(&r), "{fault}: {r:?}");
    }
    let r = idp.sign_in(&oidc, "ada", "server_error").await?;
    ensure!(is_unreachable(&r), "server_error: {r:?}");

    let (code, flow) = idp.authorize(&oidc, "ada", "").await?;
    ensure!(oidc.finish(&flow.callback(&code)).await.is_ok());
    let replayed = oidc.finish(&flow.callback(&code)).await;
    ensure!(is_rejected(&replayed), "a reused code: {replayed:?}");
    Ok(())
}
