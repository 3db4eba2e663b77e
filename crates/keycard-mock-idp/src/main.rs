//! `keycard-mock-idp`: serves the provider double (see the library) until interrupted.

#![forbid(unsafe_code)]

use anyhow::Context;
use clap::Parser;
use keycard_mock_idp::{Client, Config, router};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    about = "A strict stand-in of the identity providers Keycard signs in with",
    long_about = "A strict stand-in of the identity providers Keycard signs in with, each under a \
                  path of its own: /google, /oidc and /corp (OpenID Connect: discovery at \
                  /.well-known/openid-configuration), /facebook, /github and /x (OAuth 2.0, at \
                  the real providers' paths: /facebook/dialog/oauth, \
                  /github/login/oauth/authorize, /x/i/oauth2/authorize…) and /apple (Sign in with \
                  Apple: form_post, ES256 client secrets)."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOCK_IDP_LISTEN", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// `scheme://host:port` clients reach this server at (default: http://<listen>).
    #[arg(long, env = "MOCK_IDP_ORIGIN")]
    origin: Option<String>,
    /// A registered client, `ID:SECRET:REDIRECT_URI[,REDIRECT_URI…]`; repeat for more. Every
    /// provider (google, oidc, corp, facebook, github, x, apple) knows every client.
    #[arg(
        long = "client",
        env = "MOCK_IDP_CLIENTS",
        value_delimiter = ' ',
        default_value = "keycard:keycard-test-secret:http://localhost:8080/v1/auth/social/google/callback,http://localhost:8080/v1/auth/social/oidc/callback,http://localhost:8080/v1/auth/social/facebook/callback,http://localhost:8080/v1/auth/social/github/callback,http://localhost:8080/v1/auth/social/x/callback,http://localhost:8080/v1/auth/social/apple/callback,http://localhost:8080/v1/auth/social/corp/callback"
    )]
    clients: Vec<String>,
    /// Apple: the developer team whose key signs the clients' secrets.
    #[arg(long, env = "MOCK_IDP_APPLE_TEAM_ID", default_value = keycard_mock_idp::apple::DEMO_TEAM_ID)]
    apple_team_id: String,
    /// Apple: the id of that key.
    #[arg(long, env = "MOCK_IDP_APPLE_KEY_ID", default_value = keycard_mock_idp::apple::DEMO_KEY_ID)]
    apple_key_id: String,
    /// Apple: the team's `.p8` key file (only its public half is used); default: the demo key
    /// published with this double.
    #[arg(long, env = "MOCK_IDP_APPLE_KEY_FILE")]
    apple_key_file: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let clients = args
        .clients
        .iter()
        .map(|c| Client::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let origin = args
        .origin
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let pem = match &args.apple_key_file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => keycard_mock_idp::apple::DEMO_PRIVATE_KEY.to_owned(),
    };
    let mut config = Config::new(origin.clone(), clients);
    config.apple = Some(keycard_mock_idp::apple::AppleTeam::from_p8(
        &args.apple_team_id,
        &args.apple_key_id,
        &pem,
    )?);
    let app = router(config)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(
        %origin,
        "provider double listening: {origin}/google, {origin}/oidc, {origin}/facebook, \
         {origin}/github, {origin}/x and {origin}/apple"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
