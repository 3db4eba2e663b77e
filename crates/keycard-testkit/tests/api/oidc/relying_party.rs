//! Keycard as a relying-party library it did not write sees it: the `openidconnect` crate does
//! discovery, the code flow with PKCE (through the hosted pages, as a browser), ID-token
//! validation (signature from the JWKS, issuer, audience, nonce, `at_hash`), userinfo,
//! refresh, revocation and logout — for a public app (RS256) and a confidential one (ES256).

use super::*;
use keycard_testkit::apps::{DESK, DESK_REDIRECT, DESK_SECRET, SHOP, SHOP_REDIRECT};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    ProviderMetadata, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

backend_tests!(
    a_public_app_signs_in_with_the_openidconnect_crate,
    a_confidential_app_signs_in_with_the_openidconnect_crate,
);

#[derive(Clone, Debug, Deserialize, Serialize)]
struct MoreMetadata {
    revocation_endpoint: String,
    end_session_endpoint: String,
}
impl AdditionalProviderMetadata for MoreMetadata {}

type Metadata = ProviderMetadata<
    MoreMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The library's HTTP, through the suite's reqwest (redirects not followed, as it asks).
async fn send(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, std::io::Error> {
    let fail = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let (parts, body) = request.into_parts();
    let mut req = http.request(parts.method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        req = req.header(name, value);
    }
    let resp = req.send().await.map_err(|e| fail(&e))?;
    let mut out = http::Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        out = out.header(name, value);
    }
    let bytes = resp.bytes().await.map_err(|e| fail(&e))?;
    out.body(bytes.to_vec()).map_err(|e| fail(&e))
}

fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

async fn discover(app: &TestApp, http: &reqwest::Client) -> Result<Metadata> {
    let issuer = IssuerUrl::new(issuer(app).await?)?;
    let client = |r| send(http.clone(), r);
    Metadata::discover_async(issuer, &client)
        .await
        .map_err(|e| anyhow::anyhow!("discovery: {e:?}"))
}

/// Follows the authorization URL in `browser` (signed in, consenting when asked) to the
/// app's redirect URI; returns the code after checking `state`.
async fn code_at(
    app: &TestApp,
    browser: &Browser,
    url: &str,
    state: &CsrfToken,
    redirect: &str,
) -> Result<AuthorizationCode> {
    let reply = browser.navigate(url).await?;
    let answer = if reply.status.is_redirection() {
        location(&reply)?
    } else {
        answer_consent(app, browser, url, "allow").await?
    };
    ensure!(answer.starts_with(redirect), "{answer}");
    let q = query_of(&answer)?;
    ensure!(q.get("state") == Some(state.secret()), "state: {answer}");
    Ok(AuthorizationCode::new(
        q.get("code").context("no code")?.clone(),
    ))
}

async fn a_public_app_signs_in_with_the_openidconnect_crate(app: TestApp) -> Result<()> {
    let http = http_client()?;
    let call = |r| send(http.clone(), r);
    let browser = app.browser()?;
    let email = signed_up(&app, &browser, "Ada Lovelace").await?;

    let metadata = discover(&app, &http).await?;
    let more = metadata.additional_metadata().clone();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(SHOP.into()), None)
        .set_redirect_uri(RedirectUrl::new(SHOP_REDIRECT.into())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let code = code_at(&app, &browser, url.as_str(), &state, SHOP_REDIRECT).await?;

    let tokens = client
        .exchange_code(code)?
        .set_pkce_verifier(verifier)
        .request_async(&call)
        .await
        .map_err(|e| anyhow::anyhow!("code exchange: {e:?}"))?;
    let verifier = client.id_token_verifier();
    let id_token = tokens.id_token().context("no ID token")?;
    let claims = id_token
        .claims(&verifier, &nonce)
        .map_err(|e| anyhow::anyhow!("ID token refused: {e:?}"))?;
    ensure!(claims.email().map(|e| e.as_str()) == Some(email.as_str()));
    ensure!(claims.email_verified() == Some(false));
    let alg = id_token.signing_alg()?;
    let key = id_token.signing_key(&verifier)?;
    let expected = AccessTokenHash::from_token(tokens.access_token(), alg, key)?;
    ensure!(claims.access_token_hash() == Some(&expected), "at_hash");

    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )?
        .request_async(&call)
        .await
        .map_err(|e| anyhow::anyhow!("userinfo: {e:?}"))?;
    ensure!(info.email().map(|e| e.as_str()) == Some(email.as_str()));

    // Refresh: the ID token that comes with it verifies too (it has no nonce).
    let refresh = tokens.refresh_token().context("no refresh token")?;
    let refreshed = client
        .exchange_refresh_token(refresh)?
        .request_async(&call)
        .await
        .map_err(|e| anyhow::anyhow!("refresh: {e:?}"))?;
    let again = refreshed
        .id_token()
        .context("no ID token on refresh")?
        .claims(&verifier, |n: Option<&Nonce>| {
            n.is_none()
                .then_some(())
                .ok_or_else(|| "nonce on a refresh".to_owned())
        })
        .map_err(|e| anyhow::anyhow!("refreshed ID token refused: {e:?}"))?;
    ensure!(again.subject() == claims.subject());

    // Revocation ends the grant: the refresh token is refused afterwards. (The library sends
    // revocations to https endpoints only; the suite's Keycard speaks plain http on loopback,
    // so this one request is made by hand, as the library would make it.)
    let newest = refreshed
        .refresh_token()
        .context("no rotated refresh token")?;
    ensure!(more.revocation_endpoint.ends_with("/oauth2/revoke"));
    let r = keycard_testkit::send(http.post(&more.revocation_endpoint).form(&[
        ("token", newest.secret().as_str()),
        ("token_type_hint", "refresh_token"),
        ("client_id", SHOP),
    ]))
    .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    let refused = client
        .exchange_refresh_token(newest)?
        .request_async(&call)
        .await;
    ensure!(refused.is_err(), "a revoked grant refreshed");

    // Logout at the announced end_session_endpoint, vouched for by the ID token.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", &id_token.to_string());
    let out = browser
        .navigate(&format!("{}?{}", more.end_session_endpoint, q.finish()))
        .await?;
    ensure!(out.status.as_u16() == 200, "{out}");
    ensure!(
        browser.cookie("__Host-keycard_session").is_none(),
        "still signed in"
    );
    Ok(())
}

async fn a_confidential_app_signs_in_with_the_openidconnect_crate(app: TestApp) -> Result<()> {
    let http = http_client()?;
    let call = |r| send(http.clone(), r);
    let browser = app.browser()?;
    signed_up(&app, &browser, "Grace Hopper").await?;
    let metadata = discover(&app, &http).await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(DESK.into()),
        Some(ClientSecret::new(DESK_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(DESK_REDIRECT.into())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    // First-party: straight back with a code, no page.
    let code = code_at(&app, &browser, url.as_str(), &state, DESK_REDIRECT).await?;
    let tokens = client
        .exchange_code(code)?
        .set_pkce_verifier(verifier)
        .request_async(&call)
        .await
        .map_err(|e| anyhow::anyhow!("code exchange: {e:?}"))?;
    // desk registered ES256; the library accepts it once told to.
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens
        .id_token()
        .context("no ID token")?
        .claims(&verifier, &nonce)
        .map_err(|e| anyhow::anyhow!("ES256 ID token refused: {e:?}"))?;
    ensure!(claims.email().is_some());
    // An RS256-only verifier refuses it: the algorithm really is ES256.
    let rs256_only = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let strict = tokens
        .id_token()
        .context("no ID token")?
        .claims(&rs256_only, &nonce);
    ensure!(
        strict.is_err(),
        "an ES256 token passed an RS256-only verifier"
    );
    Ok(())
}
