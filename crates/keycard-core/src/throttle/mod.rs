//! Brute-force and flood protection for the endpoints that spend a password hash (sign-in and
//! sign-up). Every check here runs **before** any hash, costs the same whether the account
//! exists or not (counters are keyed by the email as typed, never by a looked-up user), and is
//! authoritative in the database, so instances sharing one database enforce one limit. An
//! in-memory memo in front absorbs floods without a database round trip.
//!
//! - Sign-in, per client network: failed attempts at a [`Rate`] (an attempt is counted when it
//!   starts and given back when it succeeds, so busy shared addresses are not punished for their
//!   successful users).
//! - Sign-in, per account: consecutive failures slow down and lock ([`Lockout`]). The attempt is
//!   counted as a failure *before* the hash runs, so a burst of concurrent guesses cannot slip
//!   past the count; a success clears it.
//! - Sign-up, per client network and per email address: attempts at a [`Rate`].
//! - Password-reset requests, per client network and per email address (an hourly and a daily
//!   rate, so nobody's inbox can be filled); the tokens of mailed links, per network.

mod keys;
mod local;
mod lockout;
mod rate;
mod store;

pub use lockout::Lockout;
pub use rate::Rate;
pub use store::{Counted, FailureRecord, ThrottleStore};

use crate::accounts::Email;
use crate::clock::Clock;
use crate::error::Result;
use keys::Keys;
use local::LocalMemo;
use std::sync::Arc;
use std::time::Duration;

/// Failure records within the free allowance (typos, one-off guesses in a spray) and untouched
/// this long are forgotten; records that impose waits are kept until a success clears them.
const FAILURE_MEMORY_MS: i64 = 30 * 86_400 * 1_000;
/// The memo trusts a lock it learned for at most this long before asking the database again, so
/// a lock cleared elsewhere (a password change on another instance) is not kept here for hours.
const MEMO_LOCK_MS: i64 = 30_000;

/// The limits; each rate can be turned off (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub login_per_ip: Option<Rate>,
    pub register_per_ip: Option<Rate>,
    pub register_per_email: Option<Rate>,
    /// Social sign-ins started (each stores a flow), their callbacks, and native login codes
    /// tried, per network.
    pub social_per_ip: Option<Rate>,
    /// Device user codes tried on the `/device` page, per network (RFC 8628 §5.1: the codes
    /// are short enough to guess, so guessing must be slow).
    pub device_code_per_ip: Option<Rate>,
    /// Device sign-ins started (RFC 8628 device authorization requests), per network: each
    /// stores a request and a live user code, and more live codes make a guess likelier to hit.
    pub device_start_per_ip: Option<Rate>,
    /// Password-reset links asked for, per network…
    pub forgot_per_ip: Option<Rate>,
    /// …per address and network (whether or not the address has an account) over an hour, and
    /// per address over a day.
    pub forgot_per_email: Option<Rate>,
    pub forgot_per_email_daily: Option<Rate>,
    /// Tokens of mailed links (reset, verification) presented, per network.
    pub link_token_per_ip: Option<Rate>,
    /// Passkey ceremonies started (each stores its state; the sign-in page starts one per
    /// view, for the email field's autofill), per network.
    pub passkey_per_ip: Option<Rate>,
    pub lockout: Lockout,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            login_per_ip: Some(Rate::new(60, Duration::from_secs(60))),
            register_per_ip: Some(Rate::new(30, Duration::from_secs(600))),
            register_per_email: Some(Rate::new(5, Duration::from_secs(3600))),
            social_per_ip: Some(Rate::new(120, Duration::from_secs(60))),
            device_code_per_ip: Some(Rate::new(20, Duration::from_secs(600))),
            device_start_per_ip: Some(Rate::new(30, Duration::from_secs(600))),
            forgot_per_ip: Some(Rate::new(20, Duration::from_secs(600))),
            forgot_per_email: Some(Rate::new(3, Duration::from_secs(3600))),
            forgot_per_email_daily: Some(Rate::new(10, Duration::from_secs(86_400))),
            link_token_per_ip: Some(Rate::new(30, Duration::from_secs(600))),
            passkey_per_ip: Some(Rate::new(300, Duration::from_secs(60))),
            lockout: Lockout::default(),
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    LoginPerIp,
    LoginPerAccount,
    RegisterPerIp,
    RegisterPerEmail,
    SocialPerIp,
    DeviceCodePerIp,
    DeviceStartPerIp,
    /// A new verification link asked for too soon after the last one.
    VerificationResend,
    ForgotPerIp,
    ForgotPerEmail,
    /// Too many tokens of mailed links tried from one network.
    LinkTokenPerIp,
    /// Consecutive wrong second-step codes on one account.
    MfaPerAccount,
    /// Wrong second-step codes from one network.
    MfaPerIp,
    /// Too many passkey ceremonies started from one network.
    PasskeyPerIp,
}

impl Limit {
    /// The problem `code` clients see. A locked account and a locked unknown email share it.
    pub fn code(self) -> &'static str {
        match self {
            Self::LoginPerAccount | Self::MfaPerAccount => "account_locked",
            _ => "rate_limited",
        }
    }

    /// Metric label and audit detail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginPerIp => "login_per_ip",
            Self::LoginPerAccount => "login_per_account",
            Self::RegisterPerIp => "register_per_ip",
            Self::RegisterPerEmail => "register_per_email",
            Self::SocialPerIp => "social_per_ip",
            Self::DeviceCodePerIp => "device_code_per_ip",
            Self::DeviceStartPerIp => "device_start_per_ip",
            Self::VerificationResend => "verification_resend",
            Self::ForgotPerIp => "forgot_per_ip",
            Self::ForgotPerEmail => "forgot_per_email",
            Self::LinkTokenPerIp => "link_token_per_ip",
            Self::MfaPerAccount => "mfa_per_account",
            Self::MfaPerIp => "mfa_per_ip",
            Self::PasskeyPerIp => "passkey_per_ip",
        }
    }
}

/// A refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    pub retry_after_secs: u64,
    /// Worth an audit event and a log line: the first refusal of this key in this process, then
    /// one a minute while refusals go on; the rest of a flood is only counted.
    pub report: bool,
}

#[derive(Debug)]
pub enum Gate<T> {
    Open(T),
    Closed(Refusal),
}

/// A sign-in attempt that passed the gate and has been counted as a failure until it succeeds.
#[derive(Debug)]
pub struct LoginAttempt {
    account: String,
    /// The network buckets this attempt took one from (given back on success).
    networks: Vec<(String, Rate)>,
    previous: Option<FailureRecord>,
    counted: FailureRecord,
}

impl LoginAttempt {
    /// The consecutive failures this attempt makes if it fails.
    pub fn failures(&self) -> u32 {
        self.counted.failures
    }

    /// How long the account stays locked if this attempt fails (zero: not locked).
    pub fn locks_for(&self) -> Duration {
        let ms = self.counted.locked_until_ms - self.counted.last_failure_ms;
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

pub struct Throttle {
    store: Arc<dyn ThrottleStore>,
    clock: Arc<dyn Clock>,
    policy: ThrottlePolicy,
    memo: LocalMemo,
    keys: Keys,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn secs_ceil(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1_000).unwrap_or(1).max(1)
}

impl Throttle {
    /// `secret` keys the hashes counters are stored under (see `keys`).
    pub fn new(
        store: Arc<dyn ThrottleStore>,
        clock: Arc<dyn Clock>,
        policy: ThrottlePolicy,
        secret: [u8; 32],
    ) -> Self {
        Self {
            store,
            clock,
            policy,
            memo: LocalMemo::default(),
            keys: Keys::new(secret),
        }
    }

    /// The buckets of the client's networks under `scope` for `rate` (see `keys::networks`).
    fn network_buckets(
        &self,
        scope: &str,
        ip: Option<&str>,
        rate: Option<Rate>,
    ) -> Vec<(String, Rate)> {
        let Some(rate) = rate else {
            return Vec::new();
        };
        let (own, wide) = keys::networks(ip);
        let mut out = vec![(self.keys.key(scope, &own), rate)];
        if let Some(wide) = wide {
            let wider = Rate::new(rate.count.saturating_mul(keys::WIDE_FACTOR), rate.period);
            out.push((self.keys.key(scope, &wide), wider));
        }
        out
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    fn refuse<T>(&self, limit: Limit, key: &str, now: i64, wait_ms: i64) -> Gate<T> {
        let endpoint = match limit {
            Limit::LoginPerIp | Limit::LoginPerAccount => "login",
            Limit::RegisterPerIp | Limit::RegisterPerEmail => "register",
            Limit::SocialPerIp => "social",
            Limit::DeviceCodePerIp => "device",
            Limit::DeviceStartPerIp => "device_authorization",
            Limit::VerificationResend => "verification",
            Limit::ForgotPerIp | Limit::ForgotPerEmail => "password_forgot",
            Limit::LinkTokenPerIp => "link_token",
            Limit::MfaPerAccount | Limit::MfaPerIp => "mfa",
            Limit::PasskeyPerIp => "passkey",
        };
        metrics::counter!("keycard_throttled_total", "endpoint" => endpoint, "limit" => limit.as_str())
            .increment(1);
        Gate::Closed(Refusal {
            limit,
            retry_after_secs: secs_ceil(wait_ms),
            report: self.memo.first_refusal(key, now),
        })
    }

    /// One event on a rate key: `Some(wait_ms)` when refused. The memo answers a flood alone.
    async fn take(&self, key: &str, rate: &Rate, now: i64) -> Result<Option<i64>> {
        if let Err(wait) = self.memo.take(key, rate, now) {
            return Ok(Some(wait));
        }
        let taken = self
            .store
            .take_rate(key, now, rate.interval_ms(), rate.window_ms())
            .await;
        let taken = match taken {
            Ok(t) => t,
            Err(e) => {
                // Not counted where it matters: not here either.
                self.memo.give_back(key, rate);
                return Err(e.into());
            }
        };
        match taken {
            None => Ok(None),
            Some(tat) => {
                self.memo.learn_tat(key, tat);
                Ok(Some(rate.wait_ms(tat, now)))
            }
        }
    }

    /// Lets a sign-in attempt through, counted, or refuses it — before any hash is spent.
    pub async fn begin_login(&self, email: &str, ip: Option<&str>) -> Result<Gate<LoginAttempt>> {
        let account = self.keys.key("login-account", &keys::account(email));
        self.begin_counted(
            ("login-ip", Limit::LoginPerIp),
            ip,
            account,
            Limit::LoginPerAccount,
        )
        .await
    }

    /// Lets a second-step code through, counted like a password guess, or refuses it: wrong
    /// codes slow down and lock the account's second step (whatever challenge they come with,
    /// since a held password mints new challenges) and are limited per network at the sign-in
    /// rate. The outcome is reported like a sign-in's ([`Self::login_succeeded`]…).
    pub async fn begin_second_factor(
        &self,
        user: crate::ids::UserId,
        ip: Option<&str>,
    ) -> Result<Gate<LoginAttempt>> {
        let account = self.keys.key("mfa-account", &user.to_string());
        self.begin_counted(
            ("mfa-ip", Limit::MfaPerIp),
            ip,
            account,
            Limit::MfaPerAccount,
        )
        .await
    }

    async fn begin_counted(
        &self,
        (scope, network_limit): (&str, Limit),
        ip: Option<&str>,
        account: String,
        account_limit: Limit,
    ) -> Result<Gate<LoginAttempt>> {
        let now = self.now_ms();
        let networks = self.network_buckets(scope, ip, self.policy.login_per_ip);
        for (key, rate) in &networks {
            if let Some(wait) = self.take(key, rate, now).await? {
                // A refused attempt stays counted in the buckets it passed: it was an attempt.
                return Ok(self.refuse(network_limit, key, now, wait));
            }
        }
        if let Some(wait) = self.memo.locked_for(&account, now) {
            return Ok(self.refuse(account_limit, &account, now, wait));
        }
        match self
            .store
            .count_login_failure(&account, now, &self.policy.lockout)
            .await?
        {
            Counted::Locked { until_ms } => {
                self.memo
                    .learn_lock(&account, until_ms.min(now + MEMO_LOCK_MS));
                Ok(self.refuse(account_limit, &account, now, until_ms - now))
            }
            Counted::Counted { previous, counted } => {
                if counted.locked_until_ms > now {
                    // Until this attempt's verdict, the next one is refused here already.
                    self.memo
                        .learn_lock(&account, counted.locked_until_ms.min(now + MEMO_LOCK_MS));
                }
                Ok(Gate::Open(LoginAttempt {
                    account,
                    networks,
                    previous,
                    counted,
                }))
            }
        }
    }

    /// The attempt's password was right: its account starts over and its network gets its
    /// attempt back. Failing to record that only leaves the count higher; it is logged, not
    /// returned, since the person is signed in already.
    pub async fn login_succeeded(&self, attempt: LoginAttempt) {
        self.memo.forget_lock(&attempt.account);
        if let Err(e) = self.store.clear_login_failures(&attempt.account).await {
            tracing::warn!(error = %e, "could not clear the failure count after a sign-in");
        }
        self.give_back(&attempt).await;
    }

    /// The attempt ended without a verdict (the service was busy, the database failed): it does
    /// not count. Best effort; a failure to undo only leaves one failure too many counted.
    pub async fn login_abandoned(&self, attempt: LoginAttempt) {
        self.memo.forget_lock(&attempt.account);
        if let Err(e) = self
            .store
            .uncount_login_failure(
                &attempt.account,
                &attempt.counted,
                attempt.previous.as_ref(),
            )
            .await
        {
            tracing::warn!(error = %e, "could not undo an unfinished sign-in attempt's count");
        }
        self.give_back(&attempt).await;
    }

    async fn give_back(&self, attempt: &LoginAttempt) {
        for (key, rate) in &attempt.networks {
            self.memo.give_back(key, rate);
            if let Err(e) = self.store.give_back_rate(key, rate.interval_ms()).await {
                tracing::warn!(error = %e, "could not give back a network's sign-in attempt");
            }
        }
    }

    /// The owner got back in through their inbox: wrong second-step codes (perhaps a thief's
    /// who held the old password) no longer hold the account's second step back.
    pub async fn forget_second_factor_failures(&self, user: crate::ids::UserId) -> Result<()> {
        let account = self.keys.key("mfa-account", &user.to_string());
        self.memo.forget_lock(&account);
        Ok(self.store.clear_login_failures(&account).await?)
    }

    /// The password changed: earlier failures against the account no longer mean anything.
    pub async fn forget_failures(&self, email: &Email) -> Result<()> {
        let account = self.keys.key("login-account", email.as_str());
        self.memo.forget_lock(&account);
        Ok(self.store.clear_login_failures(&account).await?)
    }

    /// Lets a sign-up through or refuses it — before its hash is spent.
    pub async fn begin_register(&self, email: &Email, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in self.network_buckets("register-ip", ip, self.policy.register_per_ip) {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::RegisterPerIp, &key, now, wait));
            }
        }
        if let Some(rate) = &self.policy.register_per_email {
            let key = self.keys.key("register-email", email.as_str());
            if let Some(wait) = self.take(&key, rate, now).await? {
                return Ok(self.refuse(Limit::RegisterPerEmail, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Lets a social sign-in start (or a native login code's exchange) through, or refuses it:
    /// each start stores a flow, so a flood of them is refused before it fills the table.
    pub async fn begin_social(&self, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in self.network_buckets("social-ip", ip, self.policy.social_per_ip) {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::SocialPerIp, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Lets a passkey ceremony start, or refuses it.
    pub async fn begin_passkey(&self, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in self.network_buckets("passkey-ip", ip, self.policy.passkey_per_ip) {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::PasskeyPerIp, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Lets a device start a sign-in (a device authorization request), or refuses it.
    pub async fn begin_device_start(&self, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in
            self.network_buckets("device-start-ip", ip, self.policy.device_start_per_ip)
        {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::DeviceStartPerIp, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Lets a device user code be tried, or refuses it.
    pub async fn begin_device_code(&self, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in self.network_buckets("device-ip", ip, self.policy.device_code_per_ip) {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::DeviceCodePerIp, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Lets a password-reset request through or refuses it. Keyed by the address as typed, so
    /// the answer is the same for an address with an account and one without.
    pub async fn begin_forgot(&self, email: &Email, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in self.network_buckets("forgot-ip", ip, self.policy.forgot_per_ip) {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::ForgotPerIp, &key, now, wait));
            }
        }
        // The hourly allowance is per address *and network*, so nobody can spend an owner's
        // allowance from elsewhere; the daily cap is the address's alone, so no inbox can be
        // filled from many networks either (the price: a flood from many networks can hold an
        // owner's links back for a day — the sign-in itself is never blocked by it).
        let (network, _) = keys::networks(ip);
        let per_email = [
            (
                "forgot-email",
                format!("{}|{network}", email.as_str()),
                self.policy.forgot_per_email,
            ),
            (
                "forgot-email-day",
                email.as_str().to_owned(),
                self.policy.forgot_per_email_daily,
            ),
        ];
        for (scope, subject, rate) in per_email {
            let Some(rate) = rate else { continue };
            let key = self.keys.key(scope, &subject);
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::ForgotPerEmail, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Lets the token of a mailed link be tried, or refuses it. The tokens cannot be guessed
    /// (256 bits); this keeps a client that tries anyway from costing the database.
    pub async fn begin_link_token(&self, ip: Option<&str>) -> Result<Gate<()>> {
        let now = self.now_ms();
        for (key, rate) in self.network_buckets("link-ip", ip, self.policy.link_token_per_ip) {
            if let Some(wait) = self.take(&key, &rate, now).await? {
                return Ok(self.refuse(Limit::LinkTokenPerIp, &key, now, wait));
            }
        }
        Ok(Gate::Open(()))
    }

    /// Deletes counters that no longer hold anything back.
    pub async fn prune(&self) -> Result<u64> {
        let now = self.now_ms();
        Ok(self
            .store
            .prune_throttles(
                now,
                now - FAILURE_MEMORY_MS,
                self.policy.lockout.free_failures,
            )
            .await?)
    }
}
