//! Access tokens (EdDSA JWTs published through the JWKS) and refresh tokens (rotated on every
//! use, with reuse detection revoking the whole session).

use crate::{b64url_json, decode_jwt, event_kinds, me_status, secs};
use anyhow::{Context, Result};
use keycard_testkit::{PASSWORD, TestApp};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

async fn refresh_rotates_the_refresh_token(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let r = app
        .refresh_raw(acct.tokens.refresh()?)
        .await?
        .expect_status(200)?;
    let body = r.json()?;
    assert_eq!(body["token_type"], "Bearer", "{r}");
    assert!(body["expires_in"].as_i64() > Some(0), "{r}");
    assert!(body["refresh_expires_in"].as_i64() > Some(0), "{r}");
    assert_eq!(
        body["session_id"].as_str(),
        Some(acct.tokens.session_id.as_str())
    );
    let next = body["refresh_token"].as_str().context("no refresh_token")?;
    assert_ne!(next, acct.tokens.refresh()?, "rotation issues a new token");
    let access = body["access_token"].as_str().context("no access_token")?;
    assert_eq!(me_status(&app, access).await?, 200);

    // The chain goes on: the rotated-in token rotates in turn.
    let third = app.refresh(next).await?;
    assert_ne!(third.refresh()?, next);
    Ok(())
}

async fn reused_refresh_token_revokes_the_session(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let bystander = app.login(&acct.email, PASSWORD).await?;
    let first = app.refresh(acct.tokens.refresh()?).await?;
    let rotated = app.refresh(first.refresh()?).await?;
    // Remembered by the server before it ends: ending it must reach that memory too.
    assert_eq!(me_status(&app, &rotated.access_token).await?, 200);

    // A token older than the last one is reuse, however soon (no retry returns it).
    app.refresh_raw(acct.tokens.refresh()?)
        .await?
        .expect_problem(401, "refresh_token_reused")?;

    let newest = app.refresh_raw(rotated.refresh()?).await?;
    assert_eq!(newest.status, 401, "the whole chain is revoked: {newest}");
    assert_eq!(me_status(&app, &rotated.access_token).await?, 401);
    assert_eq!(me_status(&app, &acct.tokens.access_token).await?, 401);

    // Only that session: the account's other session is untouched and sees the event.
    assert_eq!(me_status(&app, &bystander.access_token).await?, 200);
    let kinds = event_kinds(&app, &bystander.access_token).await?;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("refresh_token_reuse_detected"),
        "{kinds:?}"
    );
    Ok(())
}

async fn unknown_refresh_token_is_rejected(app: TestApp) -> Result<()> {
    for token in [
        "not-a-refresh-token",
        "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
    ] {
        app.refresh_raw(token)
            .await?
            .expect_problem(401, "invalid_refresh_token")?;
    }
    Ok(())
}

/// Two tabs refreshing at once: one rotation, and both get its successor (one chain, never two).
async fn concurrent_refreshes_share_one_successor(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    for round in 0..5 {
        let session = app.login(&acct.email, PASSWORD).await?;
        let token = session.refresh()?;
        let replies = futures::future::join_all((0..4).map(|_| app.refresh_raw(token))).await;
        let mut successors = Vec::new();
        for r in replies {
            let r = r?.expect_status(200)?;
            successors.push(
                r.json()?["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        successors.dedup();
        assert_eq!(successors.len(), 1, "round {round}: {successors:?}");
        app.refresh(&successors[0]).await?;
    }
    Ok(())
}

async fn jwks_publishes_one_public_key_per_algorithm(app: TestApp) -> Result<()> {
    let r = app
        .get("/.well-known/jwks.json")
        .await?
        .expect_status(200)?;
    let jwks = r.json()?;
    let keys = jwks["keys"].as_array().context("no keys array")?;
    let b64 = |k: &serde_json::Value, f: &str| {
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            k[f].as_str().unwrap_or_default(),
        )
    };
    let mut algs = Vec::new();
    for k in keys {
        assert_eq!(k["use"], "sig", "{k}");
        assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()), "{k}");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private key published: {k}");
        }
        match k["alg"].as_str() {
            Some("EdDSA") => {
                assert!(k["kty"] == "OKP" && k["crv"] == "Ed25519", "{k}");
                assert_eq!(b64(k, "x")?.len(), 32, "x is a 32-byte public key: {k}");
            }
            Some("RS256") => {
                assert_eq!(k["kty"], "RSA", "{k}");
                assert!(b64(k, "n")?.len() >= 256, "at least 2048 bits: {k}");
            }
            Some("ES256") => {
                assert!(k["kty"] == "EC" && k["crv"] == "P-256", "{k}");
                assert_eq!(b64(k, "x")?.len(), 32, "{k}");
                assert_eq!(b64(k, "y")?.len(), 32, "{k}");
            }
            other => panic!("unexpected algorithm {other:?}: {k}"),
        }
        algs.push(k["alg"].as_str().unwrap_or_default().to_owned());
    }
    algs.sort();
    assert_eq!(
        algs,
        ["ES256", "EdDSA", "RS256"],
        "one key per algorithm: {r}"
    );
    Ok(())
}

async fn access_token_claims(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let (header, claims) = decode_jwt(&acct.tokens.access_token)?;
    assert_eq!(header["alg"], "EdDSA", "{header}");
    assert_eq!(header["typ"], "at+jwt", "{header}");
    let jwks = app.get("/.well-known/jwks.json").await?.json()?;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        header["kid"]
            .as_str()
            .is_some_and(|kid| kids.contains(&kid)),
        "kid {} not in the JWKS {kids:?}",
        header["kid"]
    );

    assert_eq!(claims["iss"], app.base_url(), "{claims}");
    assert_eq!(
        claims["sub"].as_str(),
        Some(acct.tokens.user_id()?),
        "{claims}"
    );
    assert_eq!(
        claims["sid"].as_str(),
        Some(acct.tokens.session_id.as_str())
    );
    let aud_ok = match &claims["aud"] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    assert!(aud_ok, "aud: {claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|s| !s.is_empty()),
        "{claims}"
    );
    let (iat, exp, nbf) = (
        claims["iat"].as_i64().context("iat")?,
        claims["exp"].as_i64().context("exp")?,
        claims["nbf"].as_i64().context("nbf")?,
    );
    assert_eq!(exp - iat, 900, "{claims}");
    assert!(nbf <= iat, "{claims}");
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    assert!((iat - now).abs() < 60, "iat {iat} far from now {now}");

    let other = app.login(&acct.email, PASSWORD).await?;
    let (_, other_claims) = decode_jwt(&other.access_token)?;
    assert_ne!(claims["jti"], other_claims["jti"], "jti is unique");
    Ok(())
}

/// Re-assembles a token from a header, claims and a signature of our choosing.
fn forge(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64url_json(header),
        b64url_json(claims)
    )
}

async fn forged_access_tokens_are_rejected(app: TestApp) -> Result<()> {
    let victim = app.new_account().await?;
    let attacker = app.new_account().await?;
    let token = &attacker.tokens.access_token;
    assert_eq!(
        me_status(&app, token).await?,
        200,
        "the genuine token works"
    );
    let (header, claims) = decode_jwt(token)?;
    let signature = token.rsplit('.').next().unwrap_or_default();

    let mut other_user = claims.clone();
    other_user["sub"] = json!(victim.tokens.user_id()?);
    other_user["sid"] = json!(victim.tokens.session_id);
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().unwrap_or_default() + 86_400);
    let mut none = header.clone();
    none["alg"] = json!("none");
    let mut hs256 = header.clone();
    hs256["alg"] = json!("HS256");
    let mut plain_jwt = header.clone();
    plain_jwt["typ"] = json!("JWT");

    let forged = [
        (
            "claim changed (sub/sid)",
            forge(&header, &other_user, signature),
        ),
        ("claim changed (exp)", forge(&header, &longer, signature)),
        ("alg none, no signature", forge(&none, &claims, "")),
        ("alg none, old signature", forge(&none, &claims, signature)),
        ("alg HS256", forge(&hs256, &claims, signature)),
        ("typ JWT", forge(&plain_jwt, &claims, signature)),
        ("garbage", "abc.def.ghi".to_owned()),
        (
            "refresh token as bearer",
            attacker.tokens.refresh()?.to_owned(),
        ),
    ];
    for (what, bad) in &forged {
        app.bearer_get("/v1/me", bad)
            .await?
            .expect_problem(401, "invalid_token")
            .map_err(|e| e.context(*what))?;
    }
    Ok(())
}

async fn access_token_expires_after_its_ttl(app: TestApp) -> Result<()> {
    let Some(app) = app.reconfigure().access_token_ttl(secs(2)).start().await? else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    assert_eq!(acct.tokens.expires_in, 2);
    assert_eq!(me_status(&app, &acct.tokens.access_token).await?, 200);
    tokio::time::sleep(secs(3)).await;
    app.bearer_get("/v1/me", &acct.tokens.access_token)
        .await?
        .expect_problem(401, "invalid_token")?;
    // The session itself lives on: refreshing yields a working token.
    let fresh = app.refresh(acct.tokens.refresh()?).await?;
    assert_eq!(me_status(&app, &fresh.access_token).await?, 200);
    Ok(())
}

async fn idle_session_expires(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .session_idle_timeout(secs(2))
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    let rotated = app.refresh(acct.tokens.refresh()?).await?;
    tokio::time::sleep(secs(3)).await;
    app.refresh_raw(rotated.refresh()?)
        .await?
        .expect_problem(401, "invalid_refresh_token")?;
    Ok(())
}

async fn session_ends_at_its_absolute_lifetime(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .session_absolute_lifetime(secs(2))
        .start()
        .await?
    else {
        return Ok(());
    };
    let acct = app.new_account().await?;
    assert!(
        acct.tokens.expires_in <= 2,
        "access tokens never outlive their session: {:?}",
        acct.tokens
    );
    tokio::time::sleep(secs(3)).await;
    app.refresh_raw(acct.tokens.refresh()?)
        .await?
        .expect_problem(401, "invalid_refresh_token")?;
    assert_eq!(me_status(&app, &acct.tokens.access_token).await?, 401);
    Ok(())
}

backend_tests!(
    refresh_rotates_the_refresh_token,
    reused_refresh_token_revokes_the_session,
    unknown_refresh_token_is_rejected,
    concurrent_refreshes_share_one_successor,
    jwks_publishes_one_public_key_per_algorithm,
    access_token_claims,
    forged_access_tokens_are_rejected,
    access_token_expires_after_its_ttl,
    idle_session_expires,
    session_ends_at_its_absolute_lifetime,
);
