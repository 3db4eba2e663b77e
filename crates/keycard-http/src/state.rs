use keycard_core::Keycard;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// What the HTTP layer needs to know beyond the domain's policy.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Keycard's public base URL; its origin is the one always trusted for cookie requests.
    pub public_url: String,
    /// Further origins (browser apps) allowed to use cookie delivery and CORS.
    pub allowed_origins: Vec<String>,
    /// Take the client IP from X-Forwarded-For (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How many trusted proxies append to X-Forwarded-For (a CDN, then a load balancer: 2); the
    /// client is the entry that many places from the right.
    pub trusted_proxy_hops: usize,
    /// Serve the Swagger UI at /docs.
    pub docs_enabled: bool,
    /// How the hosted pages look.
    pub brand: Brand,
    /// Redirect URIs of native apps (custom schemes, loopback), compared exactly: where a sign-in
    /// started with a PKCE challenge may send its one-time login code.
    pub native_redirect_uris: Vec<String>,
    /// Apps defined in the settings file (`[[clients]]`): the admin API leaves them alone.
    pub seeded_clients: Vec<String>,
}

/// The hosted pages' name, colour and logo.
#[derive(Debug, Clone)]
pub struct Brand {
    pub name: String,
    /// `#rrggbb`, checked at start-up (it is written into a style).
    pub color: String,
    /// The logo file's bytes and content type; Keycard's own when `None`.
    pub logo: Option<Arc<(Vec<u8>, &'static str)>>,
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            name: "Keycard".into(),
            color: "#2748b3".into(),
            logo: None,
        }
    }
}

impl HttpConfig {
    /// Keycard at https://id.example.com with one app origin, https://shop.example.com.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        Self {
            public_url: "https://id.example.com/".into(),
            allowed_origins: vec!["https://shop.example.com".into()],
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            docs_enabled: false,
            brand: Brand::default(),
            native_redirect_uris: vec!["com.example.shop:/oauth".into()],
            seeded_clients: Vec::new(),
        }
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        origin_of(&self.public_url)
    }
}

pub(crate) fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_owned(),
    }
}

#[derive(Clone)]
pub struct AppState {
    pub keycard: Arc<Keycard>,
    pub config: Arc<HttpConfig>,
    pub metrics: PrometheusHandle,
}
