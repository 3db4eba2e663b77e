//! `keycard`: the authentication service's command line.

#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use keycard::{LogFormat, Settings};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "keycard",
    version,
    about = "Keycard: sign-up, login, sessions and tokens for the platform.",
    after_help = "Configuration comes from KEYCARD_* environment variables (and an optional TOML file). \
                  Run `keycard settings` for the full list."
)]
struct Cli {
    /// TOML configuration file; environment variables override it.
    #[arg(long, short, env = "KEYCARD_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default): migrates the database, creates the first signing key
    /// if there is none, and serves until SIGINT/SIGTERM.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Signing-key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The apps that sign people in through Keycard (OpenID Connect clients).
    Clients {
        #[command(subcommand)]
        command: keycard::clients::ClientsCommand,
    },
    /// Probe the local server's /readyz (for container health checks); exit 0 when ready.
    Healthcheck {
        /// Address to probe; defaults to the listen address.
        #[arg(long)]
        addr: Option<SocketAddr>,
    },
    /// List every setting with its environment variable.
    Settings,
    /// Webhooks: `off` stops queueing audit events for them (an instance with
    /// KEYCARD_WEBHOOK_URL turns it on again when it starts).
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Stop queueing audit events for webhooks (after removing KEYCARD_WEBHOOK_URL everywhere).
    Off,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key and sign with it from now on. Servers pick it up within 30 s; the
    /// previous key stays published in the JWKS until the tokens it signed have expired.
    Rotate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let settings = match Settings::load(cli.config.as_deref(), &env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Healthcheck { addr }) = &cli.command {
        return healthcheck(addr.unwrap_or(settings.listen_addr));
    }
    if let Some(Command::Settings) = &cli.command {
        for (key, help) in keycard::all_keys() {
            println!("KEYCARD_{:<28} {help}", key.to_ascii_uppercase());
        }
        return ExitCode::SUCCESS;
    }
    init_tracing(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("keycard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.listen_addr)
                .await
                .with_context(|| format!("cannot listen on {}", settings.listen_addr))?;
            println!(
                "Keycard listening on {}: open {} (its public URL; pages refuse forms from another origin)",
                listener.local_addr()?,
                settings.public_url()
            );
            keycard::serve(settings, listener, shutdown_signal()).await
        }
        Command::Migrate => {
            let store = keycard::open_store(&settings, Duration::from_secs(30)).await?;
            store.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let keycard = keycard::build(&settings).await?;
            for (alg, kid) in keycard.rotate_keys().await? {
                println!("new {} signing key {kid} is active", alg.as_str());
            }
            println!("previous keys stay published until their tokens expire");
            Ok(())
        }
        Command::Clients { command } => {
            let keycard = keycard::build(&settings).await?;
            print!(
                "{}",
                keycard::clients::run(&keycard, &settings, command).await?
            );
            Ok(())
        }
        Command::Webhooks {
            command: WebhooksCommand::Off,
        } => {
            let keycard = keycard::build(&settings).await?;
            keycard.enable_webhooks(false).await?;
            println!("audit events are no longer queued for webhooks");
            Ok(())
        }
        Command::Healthcheck { .. } | Command::Settings => Ok(()),
    }
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// A dependency-free HTTP/1.1 probe: the runtime image has no shell or curl.
fn healthcheck(addr: SocketAddr) -> ExitCode {
    let addr = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let probe = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        write!(
            s,
            "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = [0u8; 16];
        s.read_exact(&mut buf[..12])?;
        Ok(buf.starts_with(b"HTTP/1.1 200"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("not ready");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck failed: {e}");
            ExitCode::FAILURE
        }
    }
}
