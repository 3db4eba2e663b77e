//! The Keycard service as a library: settings, wiring of store + domain + HTTP, and `serve`.
//! The binary is a thin CLI over this; the test kit starts servers through it.

#![forbid(unsafe_code)]

mod apple_settings;
mod backchannel;
mod brand;
mod client_seeds;
pub mod clients;
mod oauth_settings;
mod oidc_providers;
mod providers;
mod pwned;
mod settings;
mod webhooks;

pub use settings::{ConfigErrors, Environment, KEYS, LogFormat, Settings, all_keys};

use anyhow::Context;
use keycard_core::clock::SystemClock;
use keycard_core::passwords::{HashParams, PasswordHasher, PasswordPolicy};
use keycard_core::store::{Store, StoreError};
use keycard_core::throttle::{Lockout, ThrottlePolicy};
use keycard_core::tokens::SecretKey;
use keycard_core::{Keycard, Policy};
use keycard_http::{AppState, HttpConfig};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::AbortOnDropHandle;

/// Opens the configured database (SQLite or PostgreSQL), waiting up to `patience` for it.
pub async fn open_store(settings: &Settings, patience: Duration) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
    if url.starts_with("sqlite:")
        && let Some(parent) =
            sqlite_path(&url).and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let attempt: Result<Arc<dyn Store>, StoreError> = if url.starts_with("sqlite:") {
            keycard_store_sqlite::SqliteStore::connect(&url, settings.db_max_connections)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
        } else {
            keycard_store_postgres::PgStore::connect(&url, settings.db_max_connections)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
        };
        match attempt {
            Ok(store) => return Ok(store),
            Err(StoreError::Unavailable(e) | StoreError::Unreachable(e))
                if tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("cannot open the database: {e}")),
        }
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The key-encryption key: configured, or in development a generated one kept in the data dir.
pub fn resolve_secret_key(settings: &Settings) -> anyhow::Result<SecretKey> {
    if let Some(k) = &settings.secret_key {
        return SecretKey::parse(k).map_err(|e| anyhow::anyhow!("KEYCARD_SECRET_KEY {e}"));
    }
    if settings.env == Environment::Production {
        anyhow::bail!("KEYCARD_SECRET_KEY is required in production");
    }
    let path = settings.data_dir.join("secret.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        tracing::warn!(path = %path.display(), "DEVELOPMENT ONLY: using the secret key kept in the data directory; set KEYCARD_SECRET_KEY in production");
        return SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let key = SecretKey::generate()?;
    write_private(&path, &key.to_base64())?;
    tracing::warn!(path = %path.display(), "DEVELOPMENT ONLY: generated a secret key and stored it in the data directory; anyone who can read it can mint tokens. Set KEYCARD_SECRET_KEY in production");
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

fn policy(settings: &Settings) -> Policy {
    let mut p = Policy::new(settings.public_url());
    let secs =
        |d: Duration| time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2));
    p.access_token_ttl = secs(settings.access_token_ttl);
    p.session_idle_timeout = secs(settings.session_idle_timeout);
    p.session_absolute_lifetime = secs(settings.session_absolute_lifetime);
    p.key_retirement_grace = p.access_token_ttl + time::Duration::minutes(5);
    p.session_cache_ttl = settings.session_cache_ttl;
    p.refresh_reuse_grace = secs(settings.refresh_reuse_grace);
    p.password = PasswordPolicy {
        min_chars: settings.password_min_length,
        max_bytes: settings.password_max_bytes,
    };
    p.throttle = ThrottlePolicy {
        login_per_ip: settings.login_ip_limit,
        register_per_ip: settings.register_ip_limit,
        register_per_email: settings.register_email_limit,
        social_per_ip: settings.social_ip_limit,
        device_code_per_ip: settings.device_code_ip_limit,
        device_start_per_ip: settings.device_start_ip_limit,
        forgot_per_ip: settings.forgot_ip_limit,
        forgot_per_email: settings.forgot_email_limit,
        forgot_per_email_daily: settings.forgot_email_daily_limit,
        link_token_per_ip: settings.link_token_ip_limit,
        passkey_per_ip: settings.passkey_ip_limit,
        lockout: Lockout {
            free_failures: settings.login_free_failures,
            first_delay: settings.login_backoff,
            lockout: settings.login_lockout,
            max_failures: settings.login_max_failures,
            max_failures_lockout: settings.login_max_failures_lockout,
        },
    };
    p.browser_idle_timeout = secs(settings.browser_session_idle_timeout);
    p.browser_absolute_lifetime = secs(settings.browser_session_lifetime);
    p.social_flow_ttl = secs(settings.social_flow_ttl);
    p.authorization_code_ttl = secs(settings.authorization_code_ttl);
    p.device_code_ttl = secs(settings.device_code_ttl);
    p.email_verification_ttl = secs(settings.email_verification_ttl);
    p.email_verification_resend_pause = secs(settings.email_verification_resend_pause);
    p.password_reset_ttl = secs(settings.password_reset_ttl);
    p.signup_disclosure = settings.signup_disclosure;
    p.recent_sign_in = secs(settings.recent_sign_in);
    p.passkey_rp_id = settings.passkey_rp_id.clone();
    p.passkey_origins = settings.passkey_origins.clone();
    p.service_name = settings.brand_name.clone();
    p.hash = HashParams {
        memory_kib: settings.argon2_memory_kib,
        iterations: settings.argon2_iterations,
        parallelism: settings.argon2_parallelism,
    };
    p
}

/// Opens the store, migrates it and starts the domain service (creating the first key).
pub async fn build(settings: &Settings) -> anyhow::Result<Arc<Keycard>> {
    let store = open_store(settings, Duration::from_secs(30)).await?;
    store.migrate().await.context("running migrations")?;
    let policy = policy(settings);
    let hasher = PasswordHasher::new(policy.hash, settings.hash_workers, settings.hash_queue)?;
    let kek = resolve_secret_key(settings)?;
    let keycard = Keycard::start(store, Arc::new(SystemClock), hasher, kek, policy)
        .await
        .context("loading signing keys")?
        .with_providers(providers::enabled(settings)?)
        .with_logout_channel(Arc::new(backchannel::HttpLogoutChannel::new()?));
    let keycard = match &settings.pwned_url {
        Some(url) => keycard.with_breach_screen(pwned::screen(url)?),
        None => keycard,
    };
    Ok(Arc::new(keycard))
}

/// Where mail goes: the SMTP server of the settings, or (development only: the settings refuse
/// production without one) the log.
fn mail_sender(settings: &Settings) -> anyhow::Result<Arc<dyn keycard_core::mail::MailSender>> {
    let from = keycard_mail::From {
        name: settings.mail_from_name.clone(),
        address: settings.mail_from.clone(),
    };
    match &settings.smtp_url {
        Some(url) => Ok(Arc::new(
            keycard_mail::SmtpSender::new(url, &from).map_err(anyhow::Error::msg)?,
        )),
        None => {
            tracing::warn!(
                "DEVELOPMENT ONLY: no KEYCARD_SMTP_URL: mail is written to the log, links included"
            );
            Ok(Arc::new(keycard_mail::LogSender))
        }
    }
}

/// Applies the settings file's `[[clients]]` (checked when the settings were loaded): what every
/// start of the server does. The command line does not, so `keycard clients` never rewrites the
/// registry behind an operator's back.
pub async fn seed_clients(keycard: &Arc<Keycard>, settings: &Settings) -> anyhow::Result<()> {
    for (id, seed) in &settings.client_seeds {
        let (spec, secret) = client_seeds::spec(id, seed).map_err(anyhow::Error::msg)?;
        match keycard.clients().seed(&spec, secret.as_deref()).await {
            Ok(keycard_core::oidc::Seeded::Unchanged) => {}
            Ok(done) => {
                tracing::info!(client_id = %id, outcome = ?done, "client from the settings file applied")
            }
            // Another instance starting at the same moment registered it first.
            Err(keycard_core::Error::ClientExists) => {}
            Err(e) => return Err(e).with_context(|| format!("[[clients]] {id}")),
        }
    }
    Ok(())
}

/// Serves Keycard on `listener` until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let keycard = build(&settings).await?;
    // Before anything this start records, so that it is queued too.
    if settings.webhook_url.is_some() {
        keycard
            .enable_webhooks(true)
            .await
            .context("setting up webhooks")?;
    } else if keycard.webhooks_enabled().await? {
        tracing::warn!(
            "webhooks are on in the database (another instance has KEYCARD_WEBHOOK_URL) but not here:              this instance queues events and does not post them; `keycard webhooks off` stops queueing"
        );
    }
    seed_clients(&keycard, &settings).await?;
    let metrics = keycard_http::metrics_handle();
    let config = HttpConfig {
        public_url: settings.public_url(),
        allowed_origins: settings.allowed_origins.clone(),
        trust_forwarded_for: settings.trust_forwarded_for,
        trusted_proxy_hops: settings.trusted_proxy_hops,
        docs_enabled: settings.docs_enabled,
        brand: brand::load(&settings)?,
        native_redirect_uris: settings.native_redirect_uris.clone(),
        seeded_clients: settings.client_seeds.keys().cloned().collect(),
    };
    let _mail = AbortOnDropHandle::new(keycard_mail::spawn_delivery(
        keycard.clone(),
        mail_sender(&settings)?,
    ));
    let _webhooks = match (&settings.webhook_url, &settings.webhook_secret) {
        (Some(url), Some(secret)) => Some(AbortOnDropHandle::new(webhooks::spawn(
            keycard.clone(),
            Arc::new(webhooks::HttpWebhooks::new(url, secret)?),
        ))),
        _ => None,
    };
    // Aborted however serving ends, also when this future is dropped (an embedding test).
    let _background = AbortOnDropHandle::new(tokio::spawn(maintenance(
        keycard.clone(),
        metrics.clone(),
        settings.key_reload_interval,
    )));
    let app = keycard_http::router(AppState {
        keycard,
        config: Arc::new(config),
        metrics,
    });
    let docs = if settings.docs_enabled {
        format!("{}/docs/", settings.public_url())
    } else {
        "off (KEYCARD_DOCS_ENABLED=false)".to_owned()
    };
    tracing::info!(address = %listener.local_addr()?, public_url = %settings.public_url(), %docs, "keycard listening; API docs at {docs}");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    served.context("serving HTTP")
}

/// How often counters that no longer hold anything back are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Picks up keys rotated by another process, keeps histograms trimmed and prunes throttling
/// counters and abandoned social sign-ins.
async fn maintenance(
    keycard: Arc<Keycard>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            match keycard.prune_throttles().await {
                Ok(n) => tracing::debug!(rows = n, "pruned throttling counters"),
                Err(e) => tracing::warn!(error = %e, "pruning throttling counters failed"),
            }
            match keycard.social().prune().await {
                Ok(n) => tracing::debug!(rows = n, "pruned expired social sign-in flows"),
                Err(e) => tracing::warn!(error = %e, "pruning social sign-in flows failed"),
            }
            match keycard.devices().prune().await {
                Ok(n) => tracing::debug!(rows = n, "pruned expired device requests"),
                Err(e) => tracing::warn!(error = %e, "pruning device requests failed"),
            }
            match keycard.prune_mail().await {
                Ok(n) => {
                    tracing::debug!(rows = n, "pruned old mail and expired verification links")
                }
                Err(e) => tracing::warn!(error = %e, "pruning mail failed"),
            }
            match keycard.prune_webhooks().await {
                Ok(n) => tracing::debug!(rows = n, "pruned finished webhook deliveries"),
                Err(e) => tracing::warn!(error = %e, "pruning webhook deliveries failed"),
            }
            match keycard.provider().prune_codes().await {
                Ok(n) => tracing::debug!(rows = n, "pruned old authorization codes"),
                Err(e) => tracing::warn!(error = %e, "pruning authorization codes failed"),
            }
        }
        metrics.run_upkeep();
        if let Err(e) = keycard.reload_keys().await {
            tracing::warn!(error = %e, "reloading signing keys failed; keeping the current set");
        }
    }
}
