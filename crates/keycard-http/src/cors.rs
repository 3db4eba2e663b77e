//! Cross-origin access, by path. Keycard's own API: the platform's allowed origins, with
//! credentials (cookie delivery). The provider's JSON endpoints (token, userinfo, revocation,
//! introspection, discovery, JWKS): those origins and every registered app's web origin, so a
//! single-page app can redeem its code. Pages and the authorization, consent and logout
//! endpoints: never — they are navigations, not calls.

use crate::csrf;
use crate::oauth;
use crate::state::{AppState, origin_of};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, header};
use keycard_core::service::Keycard;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

/// How long the registered apps' origins are reused before the registry is read again.
const APP_ORIGINS_TTL: Duration = Duration::from_secs(30);

/// The paths an app's browser code may call.
fn is_provider_call(path: &str) -> bool {
    path.starts_with("/.well-known/")
        || [
            oauth::TOKEN_PATH,
            oauth::USERINFO_PATH,
            oauth::REVOCATION_PATH,
            oauth::INTROSPECTION_PATH,
        ]
        .contains(&path)
}

fn is_api_call(path: &str) -> bool {
    path.starts_with("/v1/")
}

struct Origins {
    keycard: Arc<Keycard>,
    allowed: HashSet<String>,
    apps: Mutex<Option<(Instant, Arc<HashSet<String>>)>>,
}

impl Origins {
    async fn apps(&self) -> Arc<HashSet<String>> {
        let mut cached = self.apps.lock().await;
        if let Some((at, set)) = cached.as_ref()
            && at.elapsed() < APP_ORIGINS_TTL
        {
            return set.clone();
        }
        let fresh = match self.keycard.clients().web_origins().await {
            Ok(set) => Arc::new(set),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the apps' origins for CORS");
                // Keep what was known; an outage must not open anything.
                return cached.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
            }
        };
        *cached = Some((Instant::now(), fresh.clone()));
        fresh
    }

    async fn allows(&self, origin: &HeaderValue, path: &str) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if is_api_call(path) {
            return self.allowed.contains(origin);
        }
        if is_provider_call(path) {
            return self.allowed.contains(origin) || self.apps().await.contains(origin);
        }
        false
    }
}

pub fn layer(state: &AppState) -> CorsLayer {
    let origins = Arc::new(Origins {
        keycard: state.keycard.clone(),
        allowed: state
            .config
            .allowed_origins
            .iter()
            .map(|o| origin_of(o))
            .collect(),
        apps: Mutex::new(None),
    });
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, parts: &Parts| {
                let (origins, path) = (origins.clone(), parts.uri.path().to_owned());
                async move { origins.allows(&origin, &path).await }
            },
        ))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(csrf::CSRF_HEADER),
        ])
        // Only Keycard's own API takes the cookie; the provider's endpoints never read one.
        .allow_credentials(AllowCredentials::predicate(|_, parts: &Parts| {
            is_api_call(parts.uri.path())
        }))
        .max_age(Duration::from_secs(600))
}
