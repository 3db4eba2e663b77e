//! `keycard clients …`: the registry of the apps that sign people in through Keycard, from the
//! command line. A confidential client's secret is printed once, when it is made; Keycard keeps
//! only its hash.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use keycard_core::ClientInfo;
use keycard_core::Keycard;
use keycard_core::oidc::{Client, ClientKind, ClientSpec, GrantType, IdTokenAlg};
use std::fmt::Write as _;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register an app; prints a confidential client's secret once.
    Add(AddArgs),
    /// Every registered app, one per line.
    List,
    /// One app's registration.
    Show { id: String },
    /// Remove an app: it can no longer sign anyone in.
    Remove { id: String },
    /// Give a confidential app a new secret (printed once); the old one stops working at once.
    RotateSecret { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Public,
    Confidential,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The client id the app presents (1–64 of A–Z, a–z, 0–9, `.`, `_`, `-`).
    #[arg(long)]
    pub id: String,
    /// The name people see on the consent page.
    #[arg(long)]
    pub name: String,
    /// `confidential`: a server that keeps a secret; `public`: a browser or native app (PKCE).
    #[arg(long = "type", value_enum)]
    pub kind: KindArg,
    /// Where authorization answers may go, compared exactly; repeat for more.
    #[arg(long = "redirect-uri", num_args = 1..)]
    pub redirect_uris: Vec<String>,
    /// Where the app may ask to land after signing out; repeat for more.
    #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Receives a signed logout token when a person's session ends.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// The app's logo, shown on the consent page (https).
    #[arg(long)]
    pub logo_url: Option<String>,
    /// One of the platform's own apps: people are not asked to consent.
    #[arg(long)]
    pub first_party: bool,
    /// Grant types (default: authorization_code refresh_token); also device_code,
    /// client_credentials.
    #[arg(long = "grant", num_args = 1..)]
    pub grants: Vec<String>,
    /// Scopes it may ask for (default: openid profile email offline_access).
    #[arg(long = "scope", num_args = 1..)]
    pub scopes: Vec<String>,
    /// How its ID tokens are signed: RS256 (the default every OpenID Connect library takes),
    /// ES256 or EdDSA.
    #[arg(long)]
    pub id_token_alg: Option<String>,
}

impl AddArgs {
    fn spec(&self) -> anyhow::Result<ClientSpec> {
        let kind = match self.kind {
            KindArg::Public => ClientKind::Public,
            KindArg::Confidential => ClientKind::Confidential,
        };
        let mut spec = ClientSpec::new(&self.id, &self.name, kind, self.redirect_uris.clone());
        spec.post_logout_redirect_uris = self.post_logout_redirect_uris.clone();
        spec.backchannel_logout_uri = self.backchannel_logout_uri.clone();
        spec.logo_url = self.logo_url.clone();
        spec.first_party = self.first_party;
        if !self.grants.is_empty() {
            spec.grant_types = self
                .grants
                .iter()
                .map(|g| {
                    GrantType::parse(g).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--grant {g}: one of authorization_code, refresh_token, device_code, \
                             client_credentials (the password grant is not offered)"
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        if !self.scopes.is_empty() {
            spec.scopes = self.scopes.clone();
        }
        if let Some(alg) = &self.id_token_alg {
            spec.id_token_alg = IdTokenAlg::parse(alg).ok_or_else(|| {
                anyhow::anyhow!("--id-token-alg {alg}: one of RS256, ES256, EdDSA")
            })?;
        }
        Ok(spec)
    }
}

/// `clients …` as the command line gives it (`["add", "--id", …]`), for tools and tests.
pub fn parse(args: &[&str]) -> Result<ClientsCommand, clap::Error> {
    #[derive(clap::Parser)]
    #[command(name = "keycard clients")]
    struct Line {
        #[command(subcommand)]
        command: ClientsCommand,
    }
    use clap::Parser as _;
    let line = std::iter::once("clients").chain(args.iter().copied());
    Line::try_parse_from(line).map(|l| l.command)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// A registration, as `clients show` prints it.
pub fn describe(c: &Client) -> String {
    let mut out = String::new();
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    let lines = [
        ("id", c.id.clone()),
        ("name", c.name.clone()),
        ("type", c.kind.as_str().to_owned()),
        ("enabled", c.enabled.to_string()),
        ("first party", c.first_party.to_string()),
        ("redirect URIs", c.redirect_uris.join(" ")),
        (
            "post-logout redirect URIs",
            c.post_logout_redirect_uris.join(" "),
        ),
        (
            "back-channel logout URI",
            c.backchannel_logout_uri.clone().unwrap_or_default(),
        ),
        ("logo URL", c.logo_url.clone().unwrap_or_default()),
        ("grants", grants.join(" ")),
        ("scopes", c.scopes.join(" ")),
        ("ID token algorithm", c.id_token_alg.as_str().to_owned()),
        ("created", rfc3339(c.created_at)),
        ("updated", rfc3339(c.updated_at)),
    ];
    for (k, v) in lines {
        let _ = writeln!(out, "{k:<26} {v}");
    }
    out
}

/// Refuses to change by hand a client the settings file defines: the next start would put the
/// file's version back (a removed client, a rotated-away secret).
fn not_seeded(settings: &crate::Settings, id: &str) -> anyhow::Result<()> {
    if settings.client_seeds.contains_key(id) {
        anyhow::bail!(
            "client {id} comes from the settings file ([[clients]]); change it there and restart"
        );
    }
    Ok(())
}

/// Runs one command; returns what to print.
pub async fn run(
    keycard: &Arc<Keycard>,
    settings: &crate::Settings,
    command: ClientsCommand,
) -> anyhow::Result<String> {
    let clients = keycard.clients();
    let by = ClientInfo {
        ip: None,
        user_agent: Some("keycard clients (command line)".into()),
        locale: None,
    };
    Ok(match command {
        ClientsCommand::Add(args) => {
            let registered = clients
                .add(&args.spec()?, &by)
                .await
                .with_context(|| format!("client {}", args.id))?;
            let mut out = format!("registered client {}\n", registered.client.id);
            if let Some(secret) = registered.secret {
                let _ = writeln!(
                    out,
                    "client secret (shown this once; Keycard keeps only its hash):\n{secret}"
                );
            }
            out
        }
        ClientsCommand::List => {
            let mut out = String::new();
            for c in clients.list().await? {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    c.id,
                    c.kind.as_str(),
                    if c.enabled { "enabled" } else { "disabled" },
                    c.name
                );
            }
            out
        }
        ClientsCommand::Show { id } => describe(
            &clients
                .get(&id)
                .await
                .with_context(|| format!("client {id}"))?,
        ),
        ClientsCommand::Remove { id } => {
            not_seeded(settings, &id)?;
            clients
                .remove(&id, &by)
                .await
                .with_context(|| format!("client {id}"))?;
            format!("removed client {id}\n")
        }
        ClientsCommand::RotateSecret { id } => {
            not_seeded(settings, &id)?;
            let secret = clients
                .rotate_secret(&id, &by)
                .await
                .with_context(|| format!("client {id}"))?;
            format!(
                "new client secret for {id} (shown this once; the old one no longer works):\n{secret}\n"
            )
        }
    })
}
