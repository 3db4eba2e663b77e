//! Checks Keycard's JWTs as an app would: with the key the JWKS publishes under the token's
//! `kid`, for the algorithm that key is for (aws-lc-rs, independent of the server's code).

use anyhow::{Context, Result, anyhow, ensure};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keycard_testkit::TestApp;

fn b64(v: &serde_json::Value, field: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(
            v[field]
                .as_str()
                .with_context(|| format!("no {field} in {v}"))?,
        )
        .with_context(|| format!("{field} is not base64url"))
}

/// Verifies `token`'s signature with the published key it names.
pub async fn verify(app: &TestApp, token: &str) -> Result<()> {
    let (header, _) = crate::decode_jwt(token)?;
    let jwks = app
        .get("/.well-known/jwks.json")
        .await?
        .expect_status(200)?
        .json()?;
    let kid = header["kid"].as_str().context("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid)
        .with_context(|| format!("kid {kid} is not published: {jwks}"))?;
    ensure!(
        jwk["alg"] == header["alg"],
        "the key {jwk} is not for {header}"
    );
    let (signed, sig) = token.rsplit_once('.').context("not a JWS")?;
    let sig = URL_SAFE_NO_PAD.decode(sig).context("signature")?;
    let bad = |_| anyhow!("the signature of a {} token does not verify", header["alg"]);
    match header["alg"].as_str() {
        Some("RS256") => RsaPublicKeyComponents {
            n: b64(jwk, "n")?,
            e: b64(jwk, "e")?,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &sig)
        .map_err(bad),
        Some("ES256") => {
            let mut point = vec![4u8];
            point.extend(b64(jwk, "x")?);
            point.extend(b64(jwk, "y")?);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(signed.as_bytes(), &sig)
                .map_err(bad)
        }
        Some("EdDSA") => UnparsedPublicKey::new(&ED25519, b64(jwk, "x")?)
            .verify(signed.as_bytes(), &sig)
            .map_err(bad),
        other => Err(anyhow!("unexpected alg {other:?}")),
    }
}

/// `at_hash` for an RS256 ID token (OpenID Connect Core §3.1.3.6).
pub fn at_hash_rs256(access_token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}
