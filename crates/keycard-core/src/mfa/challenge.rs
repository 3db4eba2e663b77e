//! The second step of a password sign-in.

use super::store::MfaChallenge;
use super::{Mfa, recovery, totp};
use crate::accounts::User;
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::service::{ClientInfo, Keycard, SignedIn};
use crate::sessions::SessionKind;
use crate::throttle::{Gate, LoginAttempt};
use crate::tokens::{TokenHash, random_secret};
use time::Duration;

/// Challenge ids start with this, so a leaked one is recognisable.
pub const CHALLENGE_PREFIX: &str = "kcmf_";
/// Long enough to open the app and type; short enough that a password alone is soon worthless.
const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// Wrong codes one challenge takes before it is gone (the account's own limit spans challenges).
const CHALLENGE_MAX_FAILURES: u32 = 5;

/// A right password on an account with a second factor: what the client needs for the step.
#[derive(Debug, Clone)]
pub struct MfaRequired {
    /// The challenge's id (a secret: it stands for the password just proved).
    pub challenge_id: String,
    /// `totp`, `passkey`, `recovery_code`.
    pub methods: Vec<&'static str>,
    pub expires_in: i64,
}

/// What completes a second step.
#[derive(Debug, Clone)]
pub enum SecondStep {
    /// Six digits from the authenticator app, or a recovery code.
    Code(String),
    /// A passkey's answer to the ceremony started for this challenge.
    Passkey {
        ceremony_id: String,
        credential: serde_json::Value,
    },
}

/// What a step would prove, before it is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Candidate {
    Totp {
        step: i64,
    },
    RecoveryCode {
        hash: String,
        left: usize,
    },
    /// Proved (and its use recorded) already: a passkey's ceremony is single use by itself.
    Passkey {
        backup_eligible: bool,
    },
}

/// The challenge a passkey ceremony of the second step is bound to.
fn binding_of(challenge: &MfaChallenge) -> String {
    challenge
        .token_hash
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a second step was proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Totp,
    RecoveryCode { left: usize },
    Passkey { backup_eligible: bool },
}

impl Keycard {
    /// The challenge for a sign-in of `user` who just proved a first factor (`amr`: the
    /// password, or a provider), when the account has a second factor; `None` when the first
    /// is enough.
    pub(crate) async fn mfa_challenge(
        &self,
        user: &User,
        kind: SessionKind,
        client: &ClientInfo,
        amr: Vec<String>,
    ) -> Result<Option<MfaRequired>> {
        let kc = self;
        let status = kc.mfa_status(user.id).await?;
        if !status.enabled() {
            return Ok(None);
        }
        let id = random_secret(CHALLENGE_PREFIX)?;
        let now = kc.now();
        let c = MfaChallenge {
            token_hash: TokenHash::of(&id),
            user_id: user.id,
            kind,
            amr,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
        };
        let ev = kc.audit_event(AuditKind::MfaChallenged, Some(user.id), None, client);
        kc.store().create_mfa_challenge(&c, &ev).await?;
        Ok(Some(MfaRequired {
            challenge_id: id,
            methods: status.methods(),
            expires_in: CHALLENGE_TTL.whole_seconds(),
        }))
    }
}

impl Mfa<'_> {
    /// Completes a challenge with a code from the authenticator app or a recovery code: the
    /// session the password sign-in would have opened. Runs to its end even if the caller goes
    /// away, so a code is never left spent without its session or counted half-way. `kind`
    /// is the session the caller opens (a challenge of the API cannot open a browser session).
    pub async fn complete(
        &self,
        challenge_id: &str,
        step: SecondStep,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let (kc, id, code, client) = (
            self.kc.clone(),
            challenge_id.to_owned(),
            step,
            client.clone(),
        );
        let outcome = crate::service::detached(async move {
            kc.mfa().complete_now(&id, &code, kind, &client).await
        })
        .await;
        let label = match &outcome {
            Ok(_) => "success",
            Err(Error::InvalidMfaCode) => "invalid_code",
            Err(Error::InvalidPasskey) => "invalid_passkey",
            Err(Error::InvalidMfaChallenge) => "invalid_challenge",
            Err(Error::Throttled { .. }) => "throttled",
            Err(_) => "error",
        };
        metrics::counter!("keycard_mfa_attempts_total", "outcome" => label).increment(1);
        outcome
    }

    /// Starts the passkey ceremony that completes the challenge `challenge_id`: options for
    /// `navigator.credentials.get()` with the account's passkeys.
    pub async fn passkey_options(
        &self,
        challenge_id: &str,
        client: &ClientInfo,
    ) -> Result<crate::passkeys::CeremonyStart> {
        let kc = self.kc;
        if let Gate::Closed(r) = kc.throttle().begin_passkey(client.ip.as_deref()).await? {
            return Err(kc.refused(r, client).await);
        }
        let challenge = kc
            .store()
            .find_mfa_challenge(&TokenHash::of(challenge_id), kc.now())
            .await?
            .ok_or(Error::InvalidMfaChallenge)?;
        kc.passkeys()
            .begin_second_factor(challenge.user_id, binding_of(&challenge))
            .await
    }

    async fn complete_now(
        &self,
        challenge_id: &str,
        step: &SecondStep,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let kc = self.kc;
        let hash = TokenHash::of(challenge_id);
        let challenge = kc
            .store()
            .find_mfa_challenge(&hash, kc.now())
            .await?
            .filter(|c| c.kind == kind)
            .ok_or(Error::InvalidMfaChallenge)?;
        let user = challenge.user_id;
        let attempt = match kc
            .throttle()
            .begin_second_factor(user, client.ip.as_deref())
            .await?
        {
            Gate::Open(a) => a,
            Gate::Closed(r) => return Err(kc.refused(r, client).await),
        };
        let candidate = match self.check(&challenge, step).await {
            Ok(c) => c,
            Err(e) => {
                kc.throttle().login_abandoned(attempt).await;
                return Err(e);
            }
        };
        let Some(candidate) = candidate else {
            self.failed(&challenge, &attempt, client).await?;
            return Err(match step {
                SecondStep::Code(_) => Error::InvalidMfaCode,
                SecondStep::Passkey { .. } => Error::InvalidPasskey,
            });
        };
        kc.throttle().login_succeeded(attempt).await;
        // The challenge is claimed before the code is spent: of two completions racing, or one
        // racing the challenge's end, the loser spends nothing.
        if !kc.store().spend_mfa_challenge(&hash, kc.now()).await? {
            return Err(Error::InvalidMfaChallenge);
        }
        let Some(proof) = self.spend(&challenge, candidate, client).await? else {
            // The same code won elsewhere meanwhile (seen once, worthless).
            return Err(Error::InvalidMfaCode);
        };
        let account = kc
            .store()
            .find_user(user)
            .await?
            .ok_or(Error::InvalidMfaChallenge)?;
        if account.disabled_at.is_some() {
            return Err(Error::AccountDisabled);
        }
        let mut amr = challenge.amr.clone();
        let detail = match proof {
            Proof::Totp => {
                amr.push("otp".to_owned());
                serde_json::json!({ "second_factor": "totp" })
            }
            Proof::RecoveryCode { left } => {
                serde_json::json!({ "second_factor": "recovery_code", "recovery_codes_left": left })
            }
            Proof::Passkey { backup_eligible } => {
                amr.push(if backup_eligible { "swk" } else { "hwk" }.to_owned());
                serde_json::json!({ "second_factor": "passkey" })
            }
        };
        amr.push("mfa".to_owned());
        kc.open_signed_in(account, challenge.kind, client, amr, Some(detail))
            .await
    }

    /// Which factor `step` would prove, without spending it; `None` when it proves none.
    async fn check(
        &self,
        challenge: &MfaChallenge,
        step: &SecondStep,
    ) -> Result<Option<Candidate>> {
        let kc = self.kc;
        let user = challenge.user_id;
        let code = match step {
            SecondStep::Code(code) => code.as_str(),
            SecondStep::Passkey {
                ceremony_id,
                credential,
            } => {
                let proved = kc
                    .passkeys()
                    .prove_second_factor(user, &binding_of(challenge), ceremony_id, credential)
                    .await?;
                return Ok(proved.map(|p| Candidate::Passkey {
                    backup_eligible: p.backup_eligible,
                }));
            }
        };
        if let Some(code) = totp::as_code(code) {
            let Some(factor) = kc.store().find_totp(user).await? else {
                return Ok(None);
            };
            if factor.confirmed_at.is_none() {
                return Ok(None);
            }
            let secret = kc
                .mfa_key()
                .open(&user.to_string(), &factor.sealed_secret)?;
            let Some(step) = totp::matched_step(&secret, &code, kc.now()) else {
                return Ok(None);
            };
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            // A code seen once (by a shoulder, a phishing page) is worth nothing afterwards;
            // checked here already so that it counts as wrong, and again when spent.
            if factor.last_step.is_some_and(|last| step <= last) {
                return Ok(None);
            }
            return Ok(Some(Candidate::Totp { step }));
        }
        let Some(normalized) = recovery::normalize(code) else {
            return Ok(None);
        };
        let stored = kc.store().recovery_codes(user).await?;
        let found = kc
            .password_hasher()
            .match_lookup_secret(normalized, stored.clone())
            .await?;
        Ok(found.map(|i| Candidate::RecoveryCode {
            left: stored.len().saturating_sub(1),
            hash: stored[i].clone(),
        }))
    }

    /// Spends what [`Self::check`] found, once: `None` when it was spent meanwhile.
    async fn spend(
        &self,
        challenge: &MfaChallenge,
        candidate: Candidate,
        client: &ClientInfo,
    ) -> Result<Option<Proof>> {
        let kc = self.kc;
        let user = challenge.user_id;
        match candidate {
            Candidate::Passkey { backup_eligible } => Ok(Some(Proof::Passkey { backup_eligible })),
            Candidate::Totp { step } => {
                let fresh = kc.store().accept_totp_step(user, step).await?;
                Ok(fresh.then_some(Proof::Totp))
            }
            Candidate::RecoveryCode { hash, left } => {
                let account = kc.store().find_user(user).await?;
                let mut ev = kc.audit_event(AuditKind::RecoveryCodeUsed, Some(user), None, client);
                ev.detail = serde_json::json!({ "recovery_codes_left": left });
                let mail = match &account {
                    Some(u) => kc.security_notice(
                        u,
                        "recovery_code_used",
                        client,
                        &[("codes_left", left.into())],
                    )?,
                    None => None,
                };
                let now = kc.now();
                let spent = kc
                    .changing_user(user, move |store| async move {
                        store
                            .use_recovery_code(user, &hash, now, &ev, mail.as_ref())
                            .await
                    })
                    .await?;
                if spent {
                    kc.mail_queued();
                }
                Ok(spent.then_some(Proof::RecoveryCode { left }))
            }
        }
    }

    /// A wrong code: counted against the challenge (and, through the attempt, the account).
    async fn failed(
        &self,
        challenge: &MfaChallenge,
        attempt: &LoginAttempt,
        client: &ClientInfo,
    ) -> Result<()> {
        let kc = self.kc;
        kc.store()
            .fail_mfa_challenge(&challenge.token_hash, CHALLENGE_MAX_FAILURES)
            .await?;
        let user = Some(challenge.user_id);
        let mut ev = kc.audit_event(AuditKind::MfaFailed, user, None, client);
        ev.detail = serde_json::json!({ "consecutive_failures": attempt.failures() });
        kc.store().record_audit(&ev).await?;
        let locked = attempt.locks_for();
        if !locked.is_zero() {
            let mut ev = kc.audit_event(AuditKind::AccountLocked, user, None, client);
            ev.detail = serde_json::json!({
                "second_factor": true,
                "consecutive_failures": attempt.failures(),
                "locked_secs": u64::try_from(locked.as_millis().div_ceil(1000)).unwrap_or(u64::MAX),
            });
            kc.store().record_audit(&ev).await?;
        }
        Ok(())
    }
}
