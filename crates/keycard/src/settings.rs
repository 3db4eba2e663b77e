//! Configuration: defaults, then an optional TOML file, then `KEYCARD_*` environment variables.
//! Every value is validated at start-up and every bad one is reported, by name, at once.

use crate::oauth_settings::OAuthSettings;
use keycard_core::throttle::Rate;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    /// Refuses unsafe settings: a missing secret key, plain-http public URL, weak hashing.
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen_addr: SocketAddr,
    /// Issuer and base of every link; defaults to `http://<listen_addr>` (`localhost` for a
    /// loopback or any-address listener).
    pub public_url: Option<String>,
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/keycard.db`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Base64 of 32 bytes: encrypts the signing keys at rest.
    pub secret_key: Option<String>,
    pub env: Environment,
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,keycard_http=debug`.
    pub log_filter: String,
    pub access_token_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub session_absolute_lifetime: Duration,
    pub password_min_length: usize,
    pub password_max_bytes: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Concurrent password hashes; defaults to the CPU count.
    pub hash_workers: usize,
    /// Requests allowed to wait for a hashing slot before 503.
    pub hash_queue: usize,
    pub allowed_origins: Vec<String>,
    pub trust_forwarded_for: bool,
    /// Proxies that append to X-Forwarded-For in front of Keycard.
    pub trusted_proxy_hops: usize,
    pub docs_enabled: bool,
    pub db_max_connections: u32,
    /// How often a server re-reads signing keys, picking up `keycard keys rotate` run elsewhere.
    pub key_reload_interval: Duration,
    pub session_cache_ttl: Duration,
    /// A retry of a refresh within this long after its rotation gets the same successor.
    pub refresh_reuse_grace: Duration,
    /// Failed sign-ins per client network (IPv4 address or IPv6 /64); `None`: no limit.
    pub login_ip_limit: Option<Rate>,
    /// Sign-ups per client network.
    pub register_ip_limit: Option<Rate>,
    /// Sign-up attempts per email address.
    pub register_email_limit: Option<Rate>,
    /// Social sign-ins started and native login codes exchanged, per client network.
    pub social_ip_limit: Option<Rate>,
    pub passkey_ip_limit: Option<Rate>,
    pub device_code_ip_limit: Option<Rate>,
    pub device_start_ip_limit: Option<Rate>,
    /// Password-reset links asked for per network, and per address (hourly and daily).
    pub forgot_ip_limit: Option<Rate>,
    pub forgot_email_limit: Option<Rate>,
    pub forgot_email_daily_limit: Option<Rate>,
    /// Tokens of mailed links tried per network.
    pub link_token_ip_limit: Option<Rate>,
    /// Consecutive failed sign-ins on one account before the next one must wait.
    pub login_free_failures: u32,
    /// The first wait; it doubles with each further failure…
    pub login_backoff: Duration,
    /// …up to this lock.
    pub login_lockout: Duration,
    /// From this many consecutive failures (NIST 800-63B: at most 100)…
    pub login_max_failures: u32,
    /// …each failure locks the account's password sign-in for this long.
    pub login_max_failures_lockout: Duration,
    /// A browser session ends when unused this long…
    pub browser_session_idle_timeout: Duration,
    /// …and this long after sign-in, whatever its activity.
    pub browser_session_lifetime: Duration,
    /// Every call to an identity provider gives up after this long.
    pub provider_timeout: Duration,
    /// How long a sign-in may stay at the provider before its state expires.
    pub social_flow_ttl: Duration,
    pub authorization_code_ttl: Duration,
    pub device_code_ttl: Duration,
    /// Where mail goes (`smtp://…`, `smtps://…`); without it, development writes mail to the log
    /// and production refuses to start.
    pub smtp_url: Option<String>,
    /// The sender of Keycard's mail.
    pub mail_from: String,
    pub mail_from_name: String,
    /// How long an email verification link holds.
    pub email_verification_ttl: Duration,
    /// The least time between two verification links mailed on request.
    pub email_verification_resend_pause: Duration,
    /// How long a password-reset link holds.
    pub password_reset_ttl: Duration,
    /// A Pwned-Passwords-compatible range API that screens new passwords (off without it).
    pub pwned_url: Option<String>,
    /// Where audit events are posted (off without it), and the secret that signs them.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// How recent a sign-in must be to change the account's address without the password.
    pub recent_sign_in: Duration,
    /// Whether sign-up says that an address is taken (`open`) or not (`hidden`).
    pub signup_disclosure: keycard_core::config::SignupDisclosure,
    /// Native apps' redirect URIs for social sign-in through the system browser.
    pub native_redirect_uris: Vec<String>,
    /// The passkeys' relying party id (a domain: the public URL's host by default, or the
    /// platform's apex so passkeys work across its subdomains)…
    pub passkey_rp_id: Option<String>,
    /// …and the origins besides the public URL's that may run passkey ceremonies (apps on
    /// the platform's subdomains calling the JSON API).
    pub passkey_origins: Vec<String>,
    /// Sign in with Google (enabled by its client id and secret).
    pub google_client_id: Option<String>,
    pub google_client_secret: Option<String>,
    /// Another issuer than Google's own (a stand-in such as keycard-mock-idp): read by discovery.
    pub google_issuer: Option<String>,
    /// Any OpenID Connect provider, by its issuer.
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<String>,
    /// Its button label.
    pub oidc_name: String,
    /// Facebook, GitHub and X: client credentials and endpoint overrides.
    pub facebook: OAuthSettings,
    pub github: OAuthSettings,
    pub x: OAuthSettings,
    /// Sign in with Apple.
    pub apple: crate::apple_settings::AppleSettings,
    /// More OpenID Connect providers, by id (`[providers.<id>]` in the TOML file).
    pub oidc_providers: BTreeMap<String, crate::oidc_providers::OidcProviderSettings>,
    /// Client applications applied at start, by id (`[[clients]]` in the TOML file).
    pub client_seeds: BTreeMap<String, crate::client_seeds::ClientSeed>,
    /// The hosted pages' name, primary colour (`#rrggbb`) and logo file (SVG, PNG or JPEG).
    pub brand_name: String,
    pub brand_color: String,
    pub brand_logo: Option<PathBuf>,
}

impl Settings {
    /// Development defaults: everything works with no configuration at all.
    pub fn defaults() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: None,
            data_dir: PathBuf::from("./data"),
            secret_key: None,
            env: Environment::Development,
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            session_idle_timeout: Duration::from_secs(30 * 86_400),
            session_absolute_lifetime: Duration::from_secs(90 * 86_400),
            password_min_length: 8,
            password_max_bytes: 1024,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            hash_queue: 1024,
            allowed_origins: Vec::new(),
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            docs_enabled: true,
            db_max_connections: 16,
            key_reload_interval: Duration::from_secs(30),
            session_cache_ttl: Duration::from_secs(10),
            refresh_reuse_grace: Duration::from_secs(5),
            login_ip_limit: Some(Rate::new(60, Duration::from_secs(60))),
            register_ip_limit: Some(Rate::new(30, Duration::from_secs(600))),
            register_email_limit: Some(Rate::new(5, Duration::from_secs(3600))),
            social_ip_limit: Some(Rate::new(120, Duration::from_secs(60))),
            passkey_ip_limit: Some(Rate::new(300, Duration::from_secs(60))),
            device_code_ip_limit: Some(Rate::new(20, Duration::from_secs(600))),
            device_start_ip_limit: Some(Rate::new(30, Duration::from_secs(600))),
            forgot_ip_limit: Some(Rate::new(20, Duration::from_secs(600))),
            forgot_email_limit: Some(Rate::new(3, Duration::from_secs(3600))),
            forgot_email_daily_limit: Some(Rate::new(10, Duration::from_secs(86_400))),
            link_token_ip_limit: Some(Rate::new(30, Duration::from_secs(600))),
            login_free_failures: 5,
            login_backoff: Duration::from_secs(1),
            login_lockout: Duration::from_secs(15 * 60),
            login_max_failures: 100,
            login_max_failures_lockout: Duration::from_secs(24 * 3600),
            browser_session_idle_timeout: Duration::from_secs(3 * 86_400),
            browser_session_lifetime: Duration::from_secs(30 * 86_400),
            provider_timeout: Duration::from_secs(10),
            social_flow_ttl: Duration::from_secs(600),
            authorization_code_ttl: Duration::from_secs(60),
            device_code_ttl: Duration::from_secs(600),
            smtp_url: None,
            mail_from: "keycard@localhost".into(),
            mail_from_name: "Keycard".into(),
            email_verification_ttl: Duration::from_secs(24 * 3600),
            email_verification_resend_pause: Duration::from_secs(60),
            password_reset_ttl: Duration::from_secs(30 * 60),
            pwned_url: None,
            signup_disclosure: keycard_core::config::SignupDisclosure::Open,
            recent_sign_in: Duration::from_secs(600),
            webhook_url: None,
            webhook_secret: None,
            native_redirect_uris: Vec::new(),
            passkey_rp_id: None,
            passkey_origins: Vec::new(),
            google_client_id: None,
            google_client_secret: None,
            google_issuer: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_name: "OpenID Connect".into(),
            facebook: OAuthSettings::default(),
            github: OAuthSettings::default(),
            x: OAuthSettings::default(),
            apple: Default::default(),
            oidc_providers: BTreeMap::new(),
            client_seeds: BTreeMap::new(),
            brand_name: "Keycard".into(),
            brand_color: "#2748b3".into(),
            brand_logo: None,
        }
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let addr = self.listen_addr;
                // A loopback or any-address listener is reached at `localhost`: a domain name,
                // which browsers require of a passkeys' relying party.
                let ip = addr.ip();
                let host = if ip.is_unspecified() || ip.is_loopback() {
                    "localhost".to_owned()
                } else if ip.is_ipv6() {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                format!("http://{host}:{}", addr.port())
            }
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("keycard.db").display()
            )
        })
    }

    /// Loads defaults ← `file` (TOML) ← `KEYCARD_*` variables from `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigErrors> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        let mut errors = Vec::new();
        if let Some(path) = file {
            match read_toml(path) {
                Ok(v) => values.extend(v),
                Err(e) => errors.push(e),
            }
        }
        for (k, v) in env {
            if let Some(key) = k.strip_prefix("KEYCARD_") {
                let key = key.to_ascii_lowercase();
                if is_known(&key) {
                    values.insert(key, v.clone());
                } else if !IGNORED_VARS.contains(&k.as_str()) {
                    tracing::warn!(variable = %k, "unknown KEYCARD_ variable ignored (typo?)");
                }
            }
        }
        let mut s = Self::defaults();
        for (key, raw) in &values {
            if let Err(msg) = s.set(key, raw) {
                errors.push(format!(
                    "{} (KEYCARD_{}): {msg}",
                    key,
                    key.to_ascii_uppercase()
                ));
            }
        }
        errors.extend(s.validate());
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Sets one setting by its name (`login_ip_limit`, …) from text, as the file or a
    /// `KEYCARD_*` variable would; what tools and tests use to configure one value.
    pub fn apply(&mut self, key: &str, raw: &str) -> Result<(), String> {
        self.set(key, raw)?;
        match self.validate().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Sets several settings, then checks them together (some only make sense in pairs, such
    /// as a provider's client id and secret).
    pub fn apply_all<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        for (key, raw) in pairs {
            self.set(key, raw)
                .map_err(|e| format!("{key} = {raw}: {e}"))?;
        }
        match self.validate().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        let v = raw.trim();
        match key {
            "listen_addr" => {
                self.listen_addr = v
                    .parse()
                    .map_err(|_| format!("`{v}` is not an address like 127.0.0.1:8080"))?
            }
            "public_url" => self.public_url = Some(v.to_owned()),
            "database_url" => self.database_url = Some(v.to_owned()),
            "data_dir" => self.data_dir = PathBuf::from(v),
            "secret_key" => self.secret_key = Some(v.to_owned()),
            "env" => {
                self.env = match v {
                    "development" | "dev" => Environment::Development,
                    "production" | "prod" => Environment::Production,
                    _ => return Err(format!("`{v}` is neither `development` nor `production`")),
                }
            }
            "log_format" => {
                self.log_format = match v {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(format!("`{v}` is neither `text` nor `json`")),
                }
            }
            "log" => self.log_filter = v.to_owned(),
            "access_token_ttl" => self.access_token_ttl = parse_duration(v)?,
            "session_idle_timeout" => self.session_idle_timeout = parse_duration(v)?,
            "session_absolute_lifetime" => self.session_absolute_lifetime = parse_duration(v)?,
            "password_min_length" => self.password_min_length = parse_num(v)?,
            "password_max_bytes" => self.password_max_bytes = parse_num(v)?,
            "argon2_memory_kib" => self.argon2_memory_kib = parse_num(v)?,
            "argon2_iterations" => self.argon2_iterations = parse_num(v)?,
            "argon2_parallelism" => self.argon2_parallelism = parse_num(v)?,
            "hash_workers" => self.hash_workers = parse_num(v)?,
            "hash_queue" => self.hash_queue = parse_num(v)?,
            "allowed_origins" => {
                self.allowed_origins = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "trust_forwarded_for" => self.trust_forwarded_for = parse_bool(v)?,
            "trusted_proxy_hops" => self.trusted_proxy_hops = parse_num(v)?,
            "docs_enabled" => self.docs_enabled = parse_bool(v)?,
            "db_max_connections" => self.db_max_connections = parse_num(v)?,
            "key_reload_interval" => self.key_reload_interval = parse_duration(v)?,
            "session_cache_ttl" => self.session_cache_ttl = parse_duration(v)?,
            "refresh_reuse_grace" => self.refresh_reuse_grace = parse_duration(v)?,
            "login_ip_limit" => self.login_ip_limit = parse_rate(v)?,
            "register_ip_limit" => self.register_ip_limit = parse_rate(v)?,
            "register_email_limit" => self.register_email_limit = parse_rate(v)?,
            "social_ip_limit" => self.social_ip_limit = parse_rate(v)?,
            "passkey_ip_limit" => self.passkey_ip_limit = parse_rate(v)?,
            "device_code_ip_limit" => self.device_code_ip_limit = parse_rate(v)?,
            "device_start_ip_limit" => self.device_start_ip_limit = parse_rate(v)?,
            "forgot_ip_limit" => self.forgot_ip_limit = parse_rate(v)?,
            "forgot_email_limit" => self.forgot_email_limit = parse_rate(v)?,
            "forgot_email_daily_limit" => self.forgot_email_daily_limit = parse_rate(v)?,
            "link_token_ip_limit" => self.link_token_ip_limit = parse_rate(v)?,
            "password_reset_ttl" => self.password_reset_ttl = parse_duration(v)?,
            "pwned_url" => self.pwned_url = non_empty(v),
            "recent_sign_in" => self.recent_sign_in = parse_duration(v)?,
            "webhook_url" => self.webhook_url = non_empty(v),
            "webhook_secret" => self.webhook_secret = non_empty(v),
            "signup_disclosure" => {
                self.signup_disclosure = match v.to_ascii_lowercase().as_str() {
                    "open" => keycard_core::config::SignupDisclosure::Open,
                    "hidden" => keycard_core::config::SignupDisclosure::Hidden,
                    _ => return Err(format!("`{v}` is neither open nor hidden")),
                }
            }
            "login_free_failures" => self.login_free_failures = parse_num(v)?,
            "login_backoff" => self.login_backoff = parse_duration(v)?,
            "login_lockout" => self.login_lockout = parse_duration(v)?,
            "login_max_failures" => self.login_max_failures = parse_num(v)?,
            "login_max_failures_lockout" => self.login_max_failures_lockout = parse_duration(v)?,
            "browser_session_idle_timeout" => {
                self.browser_session_idle_timeout = parse_duration(v)?
            }
            "browser_session_lifetime" => self.browser_session_lifetime = parse_duration(v)?,
            "provider_timeout" => self.provider_timeout = parse_duration(v)?,
            "social_flow_ttl" => self.social_flow_ttl = parse_duration(v)?,
            "authorization_code_ttl" => self.authorization_code_ttl = parse_duration(v)?,
            "device_code_ttl" => self.device_code_ttl = parse_duration(v)?,
            "smtp_url" => self.smtp_url = Some(v.to_owned()).filter(|s| !s.is_empty()),
            "mail_from" => self.mail_from = v.to_owned(),
            "mail_from_name" => self.mail_from_name = v.to_owned(),
            "email_verification_ttl" => self.email_verification_ttl = parse_duration(v)?,
            "email_verification_resend_pause" => {
                self.email_verification_resend_pause = parse_duration(v)?
            }
            "passkey_rp_id" => self.passkey_rp_id = non_empty(v).map(|d| d.to_ascii_lowercase()),
            "passkey_origins" => {
                self.passkey_origins = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim_end_matches('/').to_owned())
                    .collect()
            }
            "native_redirect_uris" => {
                self.native_redirect_uris = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "google_client_id" => self.google_client_id = non_empty(v),
            "google_client_secret" => self.google_client_secret = non_empty(v),
            "google_issuer" => self.google_issuer = non_empty(v),
            "oidc_issuer" => self.oidc_issuer = non_empty(v),
            "oidc_client_id" => self.oidc_client_id = non_empty(v),
            "oidc_client_secret" => self.oidc_client_secret = non_empty(v),
            "oidc_name" => self.oidc_name = v.to_owned(),
            "brand_name" => self.brand_name = v.to_owned(),
            "brand_color" => self.brand_color = v.to_owned(),
            "brand_logo" => self.brand_logo = non_empty(v).map(PathBuf::from),
            other => match crate::oauth_settings::split_key(other) {
                Some((provider, field)) => {
                    self.oauth_mut(provider).set(field, v);
                }
                None => match crate::apple_settings::split_key(other) {
                    Some(field) => {
                        self.apple.set(field, v);
                    }
                    None => match crate::oidc_providers::split_key(other) {
                        Some((id, field)) => {
                            crate::oidc_providers::set(&mut self.oidc_providers, id, field, v)
                        }
                        None => match crate::client_seeds::split_key(other) {
                            Some((id, field)) => {
                                self.client_seeds
                                    .entry(id.to_owned())
                                    .or_default()
                                    .insert(field.to_owned(), v.to_owned());
                            }
                            None => return Err("unknown setting".into()),
                        },
                    },
                },
            },
        }
        Ok(())
    }

    /// Cross-field and safety rules; production refuses what development only warns about.
    fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        let prod = self.env == Environment::Production;
        let public = self.public_url();
        if !(public.starts_with("http://") || public.starts_with("https://")) {
            e.push(format!(
                "public_url (KEYCARD_PUBLIC_URL): `{public}` must start with http:// or https://"
            ));
        } else if prod && public.starts_with("http://") && !is_loopback_url(&public) {
            e.push("public_url (KEYCARD_PUBLIC_URL): production requires https (plain http only for localhost)".into());
        }
        let db = self.database_url();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            e.push(
                "database_url (KEYCARD_DATABASE_URL): must start with sqlite: or postgres://"
                    .into(),
            );
        }
        match &self.secret_key {
            Some(k) => {
                if let Err(msg) = keycard_core::tokens::SecretKey::parse(k) {
                    e.push(format!("secret_key (KEYCARD_SECRET_KEY): {msg}"));
                }
            }
            None if prod => e.push(
                "secret_key (KEYCARD_SECRET_KEY): required in production (generate one with `openssl rand -base64 32`)"
                    .into(),
            ),
            None => {}
        }
        if self.access_token_ttl < Duration::from_secs(1)
            || self.access_token_ttl > Duration::from_secs(86_400)
        {
            e.push(
                "access_token_ttl (KEYCARD_ACCESS_TOKEN_TTL): must be between 1s and 24h".into(),
            );
        }
        if self.session_idle_timeout < Duration::from_secs(1) {
            e.push(
                "session_idle_timeout (KEYCARD_SESSION_IDLE_TIMEOUT): must be at least 1s".into(),
            );
        }
        if self.session_absolute_lifetime < Duration::from_secs(1) {
            e.push("session_absolute_lifetime (KEYCARD_SESSION_ABSOLUTE_LIFETIME): must be at least 1s".into());
        }
        if self.password_min_length < 8 {
            e.push(
                "password_min_length (KEYCARD_PASSWORD_MIN_LENGTH): at least 8 (NIST 800-63B)"
                    .into(),
            );
        }
        if self.password_max_bytes < 256 || self.password_max_bytes > 4096 {
            e.push("password_max_bytes (KEYCARD_PASSWORD_MAX_BYTES): between 256 and 4096, so 64+ characters always fit".into());
        }
        if self.password_min_length * 4 > self.password_max_bytes {
            e.push("password_min_length: must leave room below password_max_bytes".into());
        }
        // OWASP's equal-strength argon2id table: m·t ≥ 35 MiB·pass, m ≥ 7 MiB.
        let work = u64::from(self.argon2_memory_kib) * u64::from(self.argon2_iterations);
        if prod && (self.argon2_memory_kib < 7_168 || work < 35_840) {
            e.push("argon2_memory_kib / argon2_iterations: weaker than OWASP's minimum (e.g. 19456 KiB × 2)".into());
        }
        if self.argon2_parallelism == 0
            || self.argon2_iterations == 0
            || self.argon2_memory_kib < 8 * self.argon2_parallelism
        {
            e.push(
                "argon2 parameters: iterations and parallelism ≥ 1, memory ≥ 8 KiB per lane".into(),
            );
        }
        if self.hash_workers == 0 {
            e.push("hash_workers (KEYCARD_HASH_WORKERS): at least 1".into());
        }
        if self.key_reload_interval < Duration::from_secs(1) {
            e.push("key_reload_interval (KEYCARD_KEY_RELOAD_INTERVAL): at least 1s".into());
        }
        if self.session_cache_ttl > Duration::from_secs(300) {
            e.push(
                "session_cache_ttl (KEYCARD_SESSION_CACHE_TTL): at most 5m (0s turns the cache off)"
                    .into(),
            );
        }
        if self.db_max_connections == 0 {
            e.push("db_max_connections (KEYCARD_DB_MAX_CONNECTIONS): at least 1".into());
        }
        if !(1..=5).contains(&self.trusted_proxy_hops) {
            e.push("trusted_proxy_hops (KEYCARD_TRUSTED_PROXY_HOPS): between 1 and 5".into());
        }
        if self.refresh_reuse_grace > Duration::from_secs(300) {
            e.push(
                "refresh_reuse_grace (KEYCARD_REFRESH_REUSE_GRACE): at most 5m (0s turns it off)"
                    .into(),
            );
        }
        if !(1..=100).contains(&self.login_max_failures) {
            e.push("login_max_failures (KEYCARD_LOGIN_MAX_FAILURES): between 1 and 100 (NIST 800-63B allows at most 100 consecutive failures)".into());
        }
        if self.login_free_failures >= self.login_max_failures {
            e.push("login_free_failures (KEYCARD_LOGIN_FREE_FAILURES): must be below login_max_failures".into());
        }
        if self.login_backoff.is_zero() || self.login_backoff > self.login_lockout {
            e.push(
                "login_backoff (KEYCARD_LOGIN_BACKOFF): at least 1s and at most login_lockout"
                    .into(),
            );
        }
        if self.browser_session_idle_timeout < Duration::from_secs(1)
            || self.browser_session_idle_timeout > self.browser_session_lifetime
        {
            e.push("browser_session_idle_timeout (KEYCARD_BROWSER_SESSION_IDLE_TIMEOUT): at least 1s and at most browser_session_lifetime".into());
        }
        if self.provider_timeout < Duration::from_millis(100)
            || self.provider_timeout > Duration::from_secs(60)
        {
            e.push("provider_timeout (KEYCARD_PROVIDER_TIMEOUT): between 100ms and 60s".into());
        }
        if self.authorization_code_ttl < Duration::from_secs(1)
            || self.authorization_code_ttl > Duration::from_secs(600)
        {
            // RFC 6749 §4.1.2: ten minutes at most.
            e.push(
                "authorization_code_ttl (KEYCARD_AUTHORIZATION_CODE_TTL): between 1s and 10m"
                    .into(),
            );
        }
        match &self.smtp_url {
            None if prod => e.push(
                "smtp_url (KEYCARD_SMTP_URL): required in production: Keycard mails verification and reset links"
                    .into(),
            ),
            Some(u) if !(u.starts_with("smtp://") || u.starts_with("smtps://")) => e.push(
                "smtp_url (KEYCARD_SMTP_URL): must start with smtp:// or smtps://".into(),
            ),
            _ => {}
        }
        if !self.mail_from.contains('@') || self.mail_from.chars().any(char::is_whitespace) {
            e.push(
                "mail_from (KEYCARD_MAIL_FROM): an email address such as no-reply@example.com"
                    .into(),
            );
        }
        if self.email_verification_ttl < Duration::from_secs(600)
            || self.email_verification_ttl > Duration::from_secs(7 * 86_400)
        {
            e.push(
                "email_verification_ttl (KEYCARD_EMAIL_VERIFICATION_TTL): between 10m and 7d"
                    .into(),
            );
        }
        if self.email_verification_resend_pause < Duration::from_secs(1)
            || self.email_verification_resend_pause > Duration::from_secs(3600)
        {
            e.push("email_verification_resend_pause (KEYCARD_EMAIL_VERIFICATION_RESEND_PAUSE): between 1s and 1h".into());
        }
        if let Some(u) = &self.pwned_url
            && !(u.starts_with("https://") || (!prod && u.starts_with("http://")))
        {
            e.push(
                "pwned_url (KEYCARD_PWNED_URL): an https:// URL (http:// in development only), e.g. https://api.pwnedpasswords.com"
                    .into(),
            );
        }
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(u), _) if !(u.starts_with("https://") || (!prod && u.starts_with("http://"))) => {
                e.push(
                    "webhook_url (KEYCARD_WEBHOOK_URL): an https:// URL (http:// in development only)"
                        .into(),
                )
            }
            (Some(_), None) => e.push(
                "webhook_secret (KEYCARD_WEBHOOK_SECRET): required with webhook_url, at least 32 random characters"
                    .into(),
            ),
            (_, Some(s)) if s.chars().count() < 32 => e.push(
                "webhook_secret (KEYCARD_WEBHOOK_SECRET): at least 32 random characters (openssl rand -base64 32)"
                    .into(),
            ),
            _ => {}
        }
        if self.recent_sign_in < Duration::from_secs(1)
            || self.recent_sign_in > Duration::from_secs(3600)
        {
            e.push("recent_sign_in (KEYCARD_RECENT_SIGN_IN): between 1s and 1h".into());
        }
        if self.password_reset_ttl < Duration::from_secs(300)
            || self.password_reset_ttl > Duration::from_secs(86_400)
        {
            e.push("password_reset_ttl (KEYCARD_PASSWORD_RESET_TTL): between 5m and 24h".into());
        }
        if self.device_code_ttl < Duration::from_secs(1)
            || self.device_code_ttl > Duration::from_secs(1800)
        {
            e.push("device_code_ttl (KEYCARD_DEVICE_CODE_TTL): between 1s and 30m".into());
        }
        if self.social_flow_ttl < Duration::from_secs(1)
            || self.social_flow_ttl > Duration::from_secs(1800)
        {
            e.push("social_flow_ttl (KEYCARD_SOCIAL_FLOW_TTL): between 1s and 30m".into());
        }
        e.extend(self.validate_providers(prod));
        if let Some(rp) = &self.passkey_rp_id
            && (rp.contains(['/', ':', ' ']) || !rp.contains('.') && rp != "localhost")
        {
            e.push(format!("passkey_rp_id (KEYCARD_PASSKEY_RP_ID): `{rp}` is not a domain name such as example.com"));
        }
        // The relying party the origins must lie within: the one set, or the public URL's host.
        let rp = self.passkey_rp_id.clone().or_else(|| {
            url::Url::parse(&self.public_url())
                .ok()
                .and_then(|u| u.domain().map(str::to_owned))
        });
        for o in &self.passkey_origins {
            let parsed = url::Url::parse(o).ok().filter(|u| {
                matches!(u.scheme(), "https" | "http") && u.domain().is_some() && u.path() == "/"
            });
            let Some(u) = parsed else {
                e.push(format!("passkey_origins (KEYCARD_PASSKEY_ORIGINS): `{o}` is not an origin such as https://app.example.com"));
                continue;
            };
            let host = u.domain().unwrap_or_default();
            let within = rp
                .as_deref()
                .is_some_and(|rp| host == rp || host.ends_with(&format!(".{rp}")));
            if !within {
                e.push(format!("passkey_origins (KEYCARD_PASSKEY_ORIGINS): `{o}` does not lie within the passkeys' relying party ({}); set KEYCARD_PASSKEY_RP_ID to a domain above both", rp.as_deref().unwrap_or("none: the public URL has no domain name")));
            }
            if prod && u.scheme() == "http" && host != "localhost" {
                e.push(format!(
                    "passkey_origins (KEYCARD_PASSKEY_ORIGINS): `{o}` must be https in production"
                ));
            }
        }
        for uri in &self.native_redirect_uris {
            // RFC 8252: a private-use scheme (reverse domain, so it has a dot), a loopback
            // http address, or a claimed https URL; nothing with a fragment.
            let (scheme, _) = uri.split_once(':').unwrap_or(("", ""));
            let fine = !uri.contains('#')
                && (uri.starts_with("https://")
                    || uri.starts_with("http://127.0.0.1")
                    || uri.starts_with("http://[::1]")
                    || (scheme.contains('.') && !matches!(scheme, "http" | "https")));
            if !fine {
                e.push(format!("native_redirect_uris (KEYCARD_NATIVE_REDIRECT_URIS): `{uri}` is not a private-use scheme (com.example.app:/path), a loopback http or an https URI"));
            }
        }
        for p in crate::oauth_settings::PROVIDERS {
            e.extend(self.oauth(p).problems(p, prod, is_loopback_url));
        }
        e.extend(self.apple.problems(prod, is_loopback_url));
        e.extend(crate::client_seeds::problems(&self.client_seeds));
        e.extend(crate::oidc_providers::problems(
            &self.oidc_providers,
            prod,
            is_loopback_url,
        ));
        let hex = self.brand_color.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            e.push("brand_color (KEYCARD_BRAND_COLOR): a colour like #2748b3".into());
        }
        if self.brand_name.trim().is_empty() || self.brand_name.chars().count() > 60 {
            e.push("brand_name (KEYCARD_BRAND_NAME): 1 to 60 characters".into());
        }
        if let Some(logo) = &self.brand_logo
            && crate::brand::logo_type(logo).is_none()
        {
            e.push("brand_logo (KEYCARD_BRAND_LOGO): an .svg, .png or .jpg file".into());
        }
        if self.login_lockout > self.login_max_failures_lockout {
            e.push(
                "login_lockout (KEYCARD_LOGIN_LOCKOUT): at most login_max_failures_lockout".into(),
            );
        }
        e
    }
}

impl Settings {
    /// A provider is enabled by its client id and secret together; its issuer must be https in
    /// production (the ID token's keys are fetched from it).
    fn validate_providers(&self, prod: bool) -> Vec<String> {
        let mut e = Vec::new();
        let pairs = [
            (
                "google",
                &self.google_client_id,
                &self.google_client_secret,
                self.google_issuer.as_ref(),
            ),
            (
                "oidc",
                &self.oidc_client_id,
                &self.oidc_client_secret,
                self.oidc_issuer.as_ref(),
            ),
        ];
        for (id, client, secret, issuer) in pairs {
            let up = id.to_ascii_uppercase();
            if client.is_some() != secret.is_some() {
                e.push(format!("{id}_client_id and {id}_client_secret (KEYCARD_{up}_CLIENT_ID, KEYCARD_{up}_CLIENT_SECRET): set both or neither"));
            }
            if let Some(iss) = issuer {
                let https = iss.starts_with("https://");
                if !(https || iss.starts_with("http://")) {
                    e.push(format!(
                        "{id}_issuer (KEYCARD_{up}_ISSUER): `{iss}` must be an http(s) URL"
                    ));
                } else if prod && !https && !is_loopback_url(iss) {
                    e.push(format!(
                        "{id}_issuer (KEYCARD_{up}_ISSUER): production requires https"
                    ));
                }
            }
        }
        if self.oidc_client_id.is_some() && self.oidc_issuer.is_none() {
            e.push("oidc_issuer (KEYCARD_OIDC_ISSUER): required with oidc_client_id".into());
        }
        e
    }
}

impl Settings {
    pub fn oauth(&self, provider: &str) -> &OAuthSettings {
        match provider {
            "facebook" => &self.facebook,
            "github" => &self.github,
            _ => &self.x,
        }
    }

    fn oauth_mut(&mut self, provider: &str) -> &mut OAuthSettings {
        match provider {
            "facebook" => &mut self.facebook,
            "github" => &mut self.github,
            _ => &mut self.x,
        }
    }
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

fn is_known(key: &str) -> bool {
    KEYS.iter().any(|(name, _)| *name == key)
        || crate::oauth_settings::split_key(key).is_some()
        || crate::apple_settings::split_key(key).is_some()
        || crate::oidc_providers::split_key(key).is_some()
        || crate::client_seeds::split_key(key).is_some()
}

/// Every setting (the fixed ones, then the OAuth providers'), with its help text.
pub fn all_keys() -> Vec<(String, String)> {
    KEYS.iter()
        .map(|(k, h)| ((*k).to_owned(), (*h).to_owned()))
        .chain(crate::oauth_settings::keys())
        .chain(crate::apple_settings::keys())
        .collect()
}

/// Every setting, with the text `--help` shows for it.
pub const KEYS: &[(&str, &str)] = &[
    (
        "listen_addr",
        "address to listen on (default 127.0.0.1:8080)",
    ),
    (
        "public_url",
        "public base URL: token issuer and base of links (default http://<listen_addr>)",
    ),
    (
        "database_url",
        "sqlite://PATH or postgres://… (default sqlite in the data dir)",
    ),
    (
        "data_dir",
        "directory for the SQLite file and the dev secret key (default ./data)",
    ),
    (
        "secret_key",
        "base64 of 32 bytes that encrypts signing keys; required in production",
    ),
    ("env", "development (default) or production"),
    ("log_format", "text (default) or json"),
    (
        "log",
        "log filter, e.g. info or keycard_http=debug (default info)",
    ),
    (
        "access_token_ttl",
        "access token lifetime, e.g. 15m (default)",
    ),
    (
        "session_idle_timeout",
        "session ends when unused this long, e.g. 30d (default)",
    ),
    (
        "session_absolute_lifetime",
        "session ends this long after sign-in, e.g. 90d (default)",
    ),
    (
        "password_min_length",
        "minimum password length in characters (default 8)",
    ),
    (
        "password_max_bytes",
        "maximum password size in bytes (default 1024)",
    ),
    (
        "argon2_memory_kib",
        "argon2id memory in KiB (default 19456)",
    ),
    ("argon2_iterations", "argon2id passes (default 2)"),
    ("argon2_parallelism", "argon2id lanes (default 1)"),
    (
        "hash_workers",
        "concurrent password hashes (default: CPU count)",
    ),
    (
        "hash_queue",
        "requests that may wait for a hash slot before 503 (default 1024)",
    ),
    (
        "allowed_origins",
        "comma-separated browser origins allowed for cookie delivery and CORS",
    ),
    (
        "trust_forwarded_for",
        "take the client IP from the rightmost X-Forwarded-For hop (default false)",
    ),
    (
        "trusted_proxy_hops",
        "how many proxies in front of Keycard append to X-Forwarded-For, e.g. 2 for a CDN and a load balancer (default 1)",
    ),
    ("docs_enabled", "serve Swagger UI at /docs (default true)"),
    ("db_max_connections", "database pool size (default 16)"),
    (
        "key_reload_interval",
        "how often signing keys are re-read from the database, e.g. 30s (default)",
    ),
    (
        "session_cache_ttl",
        "how long a session check may be answered from memory, e.g. 10s (default); 0s turns it off",
    ),
    (
        "refresh_reuse_grace",
        "a refresh retried this soon after its rotation gets the same new token instead of revoking the session, e.g. 5s (default); 0s turns it off",
    ),
    (
        "login_ip_limit",
        "failed sign-ins per client network (IPv4 address, IPv6 /64), e.g. 60/1m (default); off for none",
    ),
    (
        "register_ip_limit",
        "sign-ups per client network, e.g. 30/10m (default); off for none",
    ),
    (
        "register_email_limit",
        "sign-up attempts per email address, e.g. 5/1h (default); off for none",
    ),
    (
        "social_ip_limit",
        "social sign-ins started, their callbacks and native login codes exchanged, per network, e.g. 120/1m (default) or off",
    ),
    (
        "passkey_ip_limit",
        "passkey ceremonies started per network (the sign-in page starts one per view for passkey autofill; second steps too), e.g. 300/1m (default) or off",
    ),
    (
        "device_code_ip_limit",
        "device user codes tried on the /device page per network, e.g. 20/10m (default) or off",
    ),
    (
        "device_start_ip_limit",
        "device sign-ins started (RFC 8628 device authorization requests) per network, e.g. 30/10m (default) or off",
    ),
    (
        "forgot_ip_limit",
        "password-reset links asked for per network, e.g. 20/10m (default) or off",
    ),
    (
        "forgot_email_limit",
        "password-reset links asked for per email address (whether or not it has an account), e.g. 3/1h (default) or off",
    ),
    (
        "forgot_email_daily_limit",
        "the same over a day, so no inbox can be filled, e.g. 10/1d (default) or off",
    ),
    (
        "link_token_ip_limit",
        "tokens of mailed links (password reset, email verification) tried per network, e.g. 30/10m (default) or off",
    ),
    (
        "login_free_failures",
        "consecutive failed sign-ins on one account before it must wait (default 5)",
    ),
    (
        "login_backoff",
        "first wait after those, doubling with each failure, e.g. 1s (default)",
    ),
    (
        "login_lockout",
        "longest wait of the doubling, e.g. 15m (default)",
    ),
    (
        "login_max_failures",
        "consecutive failures from which each one locks for login_max_failures_lockout (default and maximum 100)",
    ),
    (
        "login_max_failures_lockout",
        "lock after each failure from login_max_failures on, e.g. 24h (default)",
    ),
    (
        "browser_session_idle_timeout",
        "browser session (hosted pages, social sign-in) ends when unused this long, e.g. 3d (default)",
    ),
    (
        "browser_session_lifetime",
        "browser session ends this long after sign-in, e.g. 30d (default)",
    ),
    (
        "provider_timeout",
        "each call to an identity provider gives up after this long, e.g. 10s (default)",
    ),
    ("brand_name", "the hosted pages' name (default Keycard)"),
    (
        "brand_color",
        "the hosted pages' primary colour, #rrggbb (default #2748b3)",
    ),
    (
        "brand_logo",
        "path of the logo file the pages show (.svg, .png or .jpg, at most 256 KiB)",
    ),
    (
        "passkey_rp_id",
        "the passkeys' relying party: a domain, the public URL's host by default; set the platform's apex (example.com) so passkeys work across its subdomains",
    ),
    (
        "passkey_origins",
        "comma-separated origins besides the public URL's that may run passkey ceremonies through the API (https://app.example.com); each within passkey_rp_id",
    ),
    (
        "native_redirect_uris",
        "comma-separated redirect URIs of native apps (com.example.app:/oauth, http://127.0.0.1/…)",
    ),
    (
        "social_flow_ttl",
        "a sign-in may stay at the provider this long, e.g. 10m (default)",
    ),
    (
        "authorization_code_ttl",
        "an app must redeem its authorization code within this, e.g. 60s (default, at most 10m)",
    ),
    (
        "device_code_ttl",
        "a device may wait this long for the person to answer, e.g. 10m (default)",
    ),
    (
        "smtp_url",
        "outbound mail server: smtp://host:25, smtp://user:pass@host:587?tls=required or smtps://host:465; required in production (development writes mail to the log)",
    ),
    (
        "mail_from",
        "sender address of Keycard's mail (default keycard@localhost)",
    ),
    (
        "mail_from_name",
        "sender name of Keycard's mail (default Keycard)",
    ),
    (
        "email_verification_ttl",
        "an email verification link holds this long, e.g. 24h (default, 10m to 7d)",
    ),
    (
        "email_verification_resend_pause",
        "the least time between two verification links mailed on request, e.g. 60s (default)",
    ),
    (
        "password_reset_ttl",
        "a password-reset link holds this long, e.g. 30m (default, 5m to 24h)",
    ),
    (
        "webhook_url",
        "posts every audit event there (JSON, signed), with retries; off by default; needs webhook_secret",
    ),
    (
        "webhook_secret",
        "the secret the Keycard-Signature header of each webhook is an HMAC-SHA256 under, at least 32 random characters",
    ),
    (
        "recent_sign_in",
        "a sign-in this recent may change the account's email address without the current password, e.g. 10m (default, 1s to 1h)",
    ),
    (
        "signup_disclosure",
        "open (default): sign-up answers 409 for a taken address and signs a new account in at once; hidden: the same 202 for every address, a new account signs in once its address is proved, the owner of a taken one is mailed",
    ),
    (
        "pwned_url",
        "screens new passwords against a Pwned-Passwords-compatible range API (k-anonymity: 5 hex digits of the SHA-1 leave Keycard), e.g. https://api.pwnedpasswords.com; off by default, and a failure or a 2 s timeout never blocks",
    ),
    (
        "google_client_id",
        "Sign in with Google: OAuth client id (with google_client_secret)",
    ),
    ("google_client_secret", "Sign in with Google: client secret"),
    (
        "google_issuer",
        "another issuer than https://accounts.google.com (a stand-in), read by discovery",
    ),
    (
        "oidc_issuer",
        "any OpenID Connect provider: its issuer URL (endpoints by discovery)",
    ),
    ("oidc_client_id", "that provider's client id"),
    ("oidc_client_secret", "that provider's client secret"),
    (
        "oidc_name",
        "that provider's button label (default OpenID Connect)",
    ),
];

/// Variables that share the prefix but are not settings.
const IGNORED_VARS: &[&str] = &["KEYCARD_CONFIG", "KEYCARD_URL", "KEYCARD_TEST_DATABASE_URL"];

#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn read_toml(path: &std::path::Path) -> Result<BTreeMap<String, String>, String> {
    let cfg = config::Config::builder()
        .add_source(
            config::File::from(path)
                .format(config::FileFormat::Toml)
                .required(true),
        )
        .build()
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    let table = cfg
        .try_deserialize::<BTreeMap<String, config::Value>>()
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (k, v) in table {
        // `[providers.<id>]` tables, flattened to `providers.<id>.<field>`.
        if k == "providers" {
            out.extend(provider_tables(path, v)?);
            continue;
        }
        // `[[clients]]`, flattened to `clients.<id>.<field>`.
        if k == "clients" {
            out.extend(client_tables(path, v)?);
            continue;
        }
        if !is_known(&k) {
            return Err(format!(
                "config file {}: unknown setting `{k}`",
                path.display()
            ));
        }
        let s = match v.kind {
            config::ValueKind::Array(items) => items
                .into_iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(","),
            other => config::Value::new(None, other).to_string(),
        };
        out.insert(k, s);
    }
    Ok(out)
}

fn client_tables(
    path: &std::path::Path,
    v: config::Value,
) -> Result<Vec<(String, String)>, String> {
    let bad = |what: String| format!("config file {}: {what}", path.display());
    let config::ValueKind::Array(clients) = v.kind else {
        return Err(bad("`clients` must be [[clients]] tables".into()));
    };
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (n, table) in clients.into_iter().enumerate() {
        let config::ValueKind::Table(mut fields) = table.kind else {
            return Err(bad(format!("[[clients]] number {} must be a table", n + 1)));
        };
        let id = fields
            .remove("id")
            .map(|v| v.to_string())
            .ok_or_else(|| bad(format!("[[clients]] number {} has no id", n + 1)))?;
        if !seen.insert(id.clone()) {
            return Err(bad(format!("[[clients]] {id} appears twice")));
        }
        for (field, value) in fields {
            let key = format!("clients.{id}.{field}");
            if crate::client_seeds::split_key(&key).is_none() {
                return Err(bad(format!(
                    "[[clients]] {id}: unknown field `{field}` ({})",
                    crate::client_seeds::FIELDS.join(", ")
                )));
            }
            out.push((key, toml_text(value, " ")));
        }
    }
    Ok(out)
}

/// A value as settings text; arrays joined with `sep`.
fn toml_text(value: config::Value, sep: &str) -> String {
    match value.kind {
        config::ValueKind::Array(items) => items
            .into_iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(sep),
        other => config::Value::new(None, other).to_string(),
    }
}

fn provider_tables(
    path: &std::path::Path,
    v: config::Value,
) -> Result<Vec<(String, String)>, String> {
    let bad = |what: String| format!("config file {}: {what}", path.display());
    let config::ValueKind::Table(providers) = v.kind else {
        return Err(bad("`providers` must be tables: [providers.<id>]".into()));
    };
    let mut out = Vec::new();
    for (id, table) in providers {
        let config::ValueKind::Table(fields) = table.kind else {
            return Err(bad(format!("[providers.{id}] must be a table")));
        };
        for (field, value) in fields {
            let key = format!("providers.{id}.{field}");
            if crate::oidc_providers::split_key(&key).is_none() {
                return Err(bad(format!(
                    "[providers.{id}]: unknown field `{field}` (issuer, client_id, client_secret, name, scopes)"
                )));
            }
            // `scopes = ["openid", "email"]` reads as the space-separated list OAuth writes.
            out.push((key, toml_text(value, " ")));
        }
    }
    Ok(out)
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    ["localhost", "127.", "[::1]"]
        .iter()
        .any(|p| rest.starts_with(p))
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("`{v}` is not a valid number"))
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("`{v}` is not true or false")),
    }
}

/// `30/1m` (a count per duration) or `off`.
fn parse_rate(v: &str) -> Result<Option<Rate>, String> {
    if matches!(v.to_ascii_lowercase().as_str(), "off" | "none" | "0") {
        return Ok(None);
    }
    Rate::parse(v, parse_duration).map(Some)
}

/// `90`, `90s`, `15m`, `12h`, `30d`.
fn parse_duration(v: &str) -> Result<Duration, String> {
    let bad = || format!("`{v}` is not a duration like 90s, 15m, 12h or 30d");
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).map(Duration::from_secs).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::load(None, &env(&[])).unwrap();
        assert_eq!(s.public_url(), "http://localhost:8080");
        assert_eq!(s.database_url(), "sqlite://./data/keycard.db?mode=rwc");
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
    }

    #[test]
    fn env_overrides_and_durations() {
        let s = Settings::load(
            None,
            &env(&[
                ("KEYCARD_ACCESS_TOKEN_TTL", "5m"),
                ("KEYCARD_SESSION_IDLE_TIMEOUT", "2d"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(s.access_token_ttl, Duration::from_secs(300));
        assert_eq!(s.session_idle_timeout, Duration::from_secs(2 * 86_400));
    }

    #[test]
    fn session_cache_ttl_is_bounded_and_can_be_off() {
        let off = Settings::load(None, &env(&[("KEYCARD_SESSION_CACHE_TTL", "0s")])).unwrap();
        assert_eq!(off.session_cache_ttl, Duration::ZERO);
        let err = Settings::load(None, &env(&[("KEYCARD_SESSION_CACHE_TTL", "1h")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("KEYCARD_SESSION_CACHE_TTL"), "{err}");
    }

    #[test]
    fn every_bad_value_is_reported_by_name() {
        let err = Settings::load(
            None,
            &env(&[
                ("KEYCARD_LISTEN_ADDR", "nowhere"),
                ("KEYCARD_ACCESS_TOKEN_TTL", "soon"),
                ("KEYCARD_PASSWORD_MIN_LENGTH", "4"),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("KEYCARD_LISTEN_ADDR"), "{text}");
        assert!(text.contains("KEYCARD_ACCESS_TOKEN_TTL"), "{text}");
        assert!(text.contains("KEYCARD_PASSWORD_MIN_LENGTH"), "{text}");
    }

    #[test]
    fn passkey_origins_lie_within_the_relying_party() {
        let base = [("KEYCARD_PUBLIC_URL", "https://id.example.com")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            Settings::load(None, &env(&vars))
        };
        let err = with(&[("KEYCARD_PASSKEY_ORIGINS", "https://app.example.com")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not lie within"), "{err}");
        let ok = with(&[
            ("KEYCARD_PASSKEY_RP_ID", "example.com"),
            ("KEYCARD_PASSKEY_ORIGINS", "https://app.example.com"),
        ])
        .unwrap();
        assert_eq!(ok.passkey_origins, ["https://app.example.com"]);
        let err = with(&[("KEYCARD_PASSKEY_RP_ID", "https://example.com")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("KEYCARD_PASSKEY_RP_ID"), "{err}");
    }

    #[test]
    fn production_refuses_unsafe_settings() {
        let err = Settings::load(
            None,
            &env(&[
                ("KEYCARD_ENV", "production"),
                ("KEYCARD_PUBLIC_URL", "http://id.example.com"),
                ("KEYCARD_ARGON2_MEMORY_KIB", "1024"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("KEYCARD_SECRET_KEY"), "{err}");
        assert!(err.contains("https"), "{err}");
        assert!(err.contains("OWASP"), "{err}");
        assert!(err.contains("KEYCARD_SMTP_URL"), "{err}");
        let ok = Settings::load(
            None,
            &env(&[
                ("KEYCARD_ENV", "production"),
                ("KEYCARD_PUBLIC_URL", "http://localhost:8080"),
                (
                    "KEYCARD_SECRET_KEY",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
                ("KEYCARD_SMTP_URL", "smtp://mail.example.com:25"),
            ]),
        );
        assert!(ok.is_ok(), "{ok:?}");
        let bad = Settings::load(
            None,
            &env(&[
                ("KEYCARD_SMTP_URL", "http://mail.example.com"),
                ("KEYCARD_MAIL_FROM", "not an address"),
                ("KEYCARD_EMAIL_VERIFICATION_TTL", "1m"),
            ]),
        )
        .unwrap_err()
        .to_string();
        for name in [
            "KEYCARD_SMTP_URL",
            "KEYCARD_MAIL_FROM",
            "KEYCARD_EMAIL_VERIFICATION_TTL",
        ] {
            assert!(bad.contains(name), "{bad}");
        }
    }

    #[test]
    fn toml_file_then_env() {
        let dir = std::env::temp_dir().join(format!("keycard-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keycard.toml");
        std::fs::write(
            &path,
            "listen_addr = \"0.0.0.0:9000\"\naccess_token_ttl = \"10m\"\nhash_queue = 5\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[("KEYCARD_HASH_QUEUE", "7")])).unwrap();
        assert_eq!(s.listen_addr.port(), 9000);
        assert_eq!(s.access_token_ttl, Duration::from_secs(600));
        assert_eq!(s.hash_queue, 7);
        assert_eq!(s.public_url(), "http://localhost:9000");
        std::fs::write(
            &path,
            "[providers.corp]\nissuer = \"https://login.corp.example\"\nclient_id = \"kc\"\n\
             client_secret = \"s3cret\"\nname = \"Corp SSO\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[])).unwrap();
        let corp = &s.oidc_providers["corp"];
        assert_eq!(corp.issuer.as_deref(), Some("https://login.corp.example"));
        assert_eq!(corp.name.as_deref(), Some("Corp SSO"));
        std::fs::write(
            &path,
            "[providers.corp]\nissuer = \"https://i\"\nclient_id = \"kc\"\nclient_secret = \"s\"\n\
             scopes = [\"openid\", \"email\"]\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[])).unwrap();
        assert_eq!(
            s.oidc_providers["corp"].scopes.as_deref(),
            Some("openid email")
        );
        std::fs::write(
            &path,
            "[[clients]]\nid = \"shop\"\nname = \"Storefront\"\ntype = \"public\"\n\
             redirect_uris = [\"https://shop.example.com/cb\", \"com.example.shop:/cb\"]\n\
             enabled = false\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[])).unwrap();
        let shop = &s.client_seeds["shop"];
        assert_eq!(
            shop["redirect_uris"],
            "https://shop.example.com/cb com.example.shop:/cb"
        );
        assert_eq!(shop["enabled"], "false");
        std::fs::write(&path, "[[clients]]\nid = \"shop\"\ntype = \"public\"\n").unwrap();
        let err = Settings::load(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("redirect URI"), "{err}");
        std::fs::write(
            &path,
            "[providers.corp]\nissuer = \"https://i\"\ncolour = 1\n",
        )
        .unwrap();
        let err = Settings::load(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        std::fs::write(&path, "no_such_key = 1\n").unwrap();
        assert!(
            Settings::load(Some(&path), &env(&[]))
                .unwrap_err()
                .to_string()
                .contains("no_such_key")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
