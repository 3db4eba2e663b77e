//! Signing-key rotation: `keycard keys rotate` run by another process against the same database
//! is picked up by a running server within its reload interval, and tokens signed by the previous
//! key stay valid. Also: the stored keys are useless without the right `KEYCARD_SECRET_KEY`.

use crate::{decode_jwt, secs};
use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keycard_testkit::{PASSWORD, TestApp, random_secret_key};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The reload interval under test, and how long a rotation may take to show (2.5 intervals).
const RELOAD: Duration = Duration::from_secs(1);
const PICKUP: Duration = Duration::from_millis(2500);

async fn jwks(app: &TestApp) -> Result<Value> {
    app.get("/.well-known/jwks.json")
        .await?
        .expect_status(200)?
        .json()
}

/// The ids of the EdDSA keys, which sign Keycard's own access tokens.
fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["alg"] == "EdDSA")
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect();
    kids.sort_unstable();
    kids
}

fn kid_of(token: &str) -> Result<String> {
    let (header, _) = decode_jwt(token)?;
    header["kid"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no kid in the JWT header {header}"))
}

/// Checks the EdDSA signature of `token` with the JWKS key `kid`, as a relying party would.
fn verify_with(token: &str, jwks: &Value, kid: &str) -> Result<()> {
    let jwk = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid)
        .with_context(|| format!("kid {kid} is not in the JWKS {jwks}"))?;
    let x = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap_or_default())
        .with_context(|| format!("x of {jwk} is not base64url"))?;
    let (signed, signature) = token
        .rsplit_once('.')
        .with_context(|| format!("not a compact JWS: {token}"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .context("the JWT signature is not base64url")?;
    UnparsedPublicKey::new(&ED25519, &x)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| anyhow!("the token's signature does not verify with JWKS key {kid}"))
}

/// Verifies `token` with the key its header names.
fn verify(token: &str, jwks: &Value) -> Result<()> {
    verify_with(token, jwks, &kid_of(token)?)
}

async fn rotated_key_is_picked_up_and_old_tokens_stay_valid(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .key_reload_interval(RELOAD)
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let token_a = app.login(&acct.email, PASSWORD).await?.access_token;
    let k1 = kid_of(&token_a)?;
    let before = jwks(&app).await?;
    assert_eq!(
        kids(&before),
        [k1.as_str()],
        "a fresh database has one EdDSA key"
    );
    let mut algs: Vec<&str> = before["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    algs.sort_unstable();
    assert_eq!(
        algs,
        ["ES256", "EdDSA", "RS256"],
        "one key per algorithm: {before}"
    );
    verify(&token_a, &before)?;

    // What `keycard keys rotate` does: another Keycard on the same database adds a key.
    let settings = app.settings().context("an in-process app has settings")?;
    let k2 = keycard::build(settings)
        .await
        .context("keycard::build on the app's database")?
        .rotate_keys()
        .await
        .context("rotating the signing keys")?
        .into_iter()
        .find_map(|(alg, kid)| (alg.as_str() == "EdDSA").then_some(kid))
        .context("the rotation made no EdDSA key")?;
    assert_ne!(k2, k1, "rotation makes a new key");

    // The running server re-reads its keys every RELOAD: K2 must show within PICKUP.
    let started = Instant::now();
    let after = loop {
        let doc = jwks(&app).await?;
        if kids(&doc).contains(&k2) {
            break doc;
        }
        if started.elapsed() > PICKUP {
            bail!(
                "the JWKS still lacks the rotated-in key {k2} {:?} after a rotation, with \
                 key_reload_interval = {RELOAD:?}: {doc}",
                started.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut both = vec![k1.clone(), k2.clone()];
    both.sort_unstable();
    assert_eq!(
        kids(&after),
        both,
        "the old key stays published next to the new one"
    );

    // New tokens are signed with K2; K1's tokens are still accepted (until they expire).
    let token_b = app.login(&acct.email, PASSWORD).await?.access_token;
    assert_eq!(
        kid_of(&token_b)?,
        k2,
        "a login after the rotation signs with the new key"
    );
    for (name, token) in [("A (K1)", &token_a), ("B (K2)", &token_b)] {
        let me = app.bearer_get("/v1/me", token).await?;
        assert_eq!(me.status, 200, "token {name} on GET /v1/me: {me}");
        verify(token, &after).with_context(|| format!("token {name}"))?;
    }
    // The check above can fail: each key verifies only its own tokens.
    assert!(
        verify_with(&token_a, &after, &k2).is_err(),
        "token A verifies with K2 too: the signature check proves nothing"
    );

    // The private keys are stored encrypted: with another KEYCARD_SECRET_KEY the same database
    // cannot be opened, and the error says which setting is wrong.
    let mut wrong = settings.clone();
    wrong.secret_key = Some(random_secret_key());
    match keycard::build(&wrong).await {
        Ok(_) => bail!("keycard::build with a different KEYCARD_SECRET_KEY opened the keys"),
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(
                msg.contains("KEYCARD_SECRET_KEY"),
                "the error of a start with the wrong secret key does not name \
                 KEYCARD_SECRET_KEY: {msg:?}"
            );
        }
    }

    // That failed start changed nothing: after another reload the set is still {K1, K2}.
    tokio::time::sleep(RELOAD + secs(1) / 2).await;
    assert_eq!(kids(&jwks(&app).await?), both, "after the failed start");
    let token_c = app.login(&acct.email, PASSWORD).await?.access_token;
    assert_eq!(kid_of(&token_c)?, k2);
    Ok(())
}

backend_tests!(rotated_key_is_picked_up_and_old_tokens_stay_valid);
