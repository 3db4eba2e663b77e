//! The identity providers the settings enable, each an adapter from keycard-providers.

use crate::Settings;
use anyhow::Context;
use keycard_core::social::{IdentityProvider, Providers};
use keycard_providers::{
    AppleConfig, AppleKey, AppleProvider, EndpointOverrides, FacebookProvider, GitHubProvider,
    OAuth2Config, OidcConfig, OidcProvider, XProvider, outbound_client,
};
use std::sync::Arc;

/// The enabled providers, in button order. Nothing is fetched here: a provider that is down at
/// start-up only fails the sign-ins that need it.
pub fn enabled(settings: &Settings) -> anyhow::Result<Providers> {
    let http = outbound_client(settings.provider_timeout).context("building the HTTP client")?;
    let mut providers = Providers::default();
    if let (Some(id), Some(secret)) = (&settings.google_client_id, &settings.google_client_secret) {
        let config = OidcConfig::google(id.clone(), secret.clone(), settings.google_issuer.clone());
        providers.add(Arc::new(OidcProvider::new(config, http.clone())));
    }
    if let Some(a) = settings.apple.enabled()? {
        let key = AppleKey::new(a.team_id.to_owned(), a.key_id.to_owned(), &a.private_key)
            .context("apple_private_key (KEYCARD_APPLE_PRIVATE_KEY)")?;
        let config = AppleConfig {
            client_id: a.client_id.to_owned(),
            key,
            issuer: a.issuer.map(str::to_owned),
        };
        providers.add(Arc::new(AppleProvider::new(config, http.clone())));
    }
    for p in crate::oauth_settings::PROVIDERS {
        let o = settings.oauth(p);
        let Some((id, secret)) = o.enabled() else {
            continue;
        };
        let overrides = EndpointOverrides {
            authorization: o.auth_url.clone(),
            token: o.token_url.clone(),
            api: o.api_url.clone(),
        };
        let (id, secret) = (id.to_owned(), secret.to_owned());
        let provider: Arc<dyn IdentityProvider> = match *p {
            "facebook" => Arc::new(FacebookProvider::new(
                OAuth2Config::facebook(id, secret, overrides),
                http.clone(),
            )),
            "github" => Arc::new(GitHubProvider::new(
                OAuth2Config::github(id, secret, overrides),
                http.clone(),
            )),
            _ => Arc::new(XProvider::new(
                OAuth2Config::x(id, secret, overrides),
                http.clone(),
            )),
        };
        providers.add(provider);
    }
    if let (Some(issuer), Some(id), Some(secret)) = (
        &settings.oidc_issuer,
        &settings.oidc_client_id,
        &settings.oidc_client_secret,
    ) {
        let config = OidcConfig::generic(
            "oidc".into(),
            settings.oidc_name.clone(),
            issuer.clone(),
            id.clone(),
            secret.clone(),
        );
        providers.add(Arc::new(OidcProvider::new(config, http.clone())));
    }
    for (id, p) in &settings.oidc_providers {
        // Checked complete when the settings were loaded.
        let (Some(issuer), Some(client_id), Some(secret)) =
            (&p.issuer, &p.client_id, &p.client_secret)
        else {
            continue;
        };
        let mut config = OidcConfig::generic(
            id.clone(),
            p.name.clone().unwrap_or_else(|| id.clone()),
            issuer.clone(),
            client_id.clone(),
            secret.clone(),
        );
        if let Some(scopes) = &p.scopes {
            config.scopes = scopes.clone();
        }
        providers.add(Arc::new(OidcProvider::new(config, http.clone())));
    }
    if !providers.is_empty() {
        tracing::info!(providers = ?providers, "social sign-in enabled");
    }
    Ok(providers)
}
