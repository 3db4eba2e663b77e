//! `keycard-mock-idp`: serves the provider double (see the library) until interrupted.

#![forbid(unsafe_code)]

use clap::Parser;
use keycard_mock_idp::{Client, Config, router};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    about = "A strict stand-in of the identity providers Keycard signs in with",
    long_about = "A strict stand-in of the identity providers Keycard signs in with, each under a \
                  path of its own: /google and /oidc (OpenID Connect: discovery at \
                  /.well-known/openid-configuration), /facebook, /github and /x (OAuth 2.0, at \
                  the real providers' paths: /facebook/dialog/oauth, \
                  /github/login/oauth/authorize, /x/i/oauth2/authorize…)."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOCK_IDP_LISTEN", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// `scheme://host:port` clients reach this server at (default: http://<listen>).
    #[arg(long, env = "MOCK_IDP_ORIGIN")]
    origin: Option<String>,
    /// A registered client, `ID:SECRET:REDIRECT_URI[,REDIRECT_URI…]`; repeat for more. Every
    /// provider (google, oidc, facebook, github, x) knows every client.
    #[arg(
        long = "client",
        env = "MOCK_IDP_CLIENTS",
        value_delimiter = ' ',
        default_value = "keycard:keycard-test-secret:http://localhost:8080/v1/auth/social/google/callback,http://localhost:8080/v1/auth/social/oidc/callback,http://localhost:8080/v1/auth/social/facebook/callback,http://localhost:8080/v1/auth/social/github/callback,http://localhost:8080/v1/auth/social/x/callback"
    )]
    clients: Vec<String>,
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
    let app = router(Config::new(origin.clone(), clients))?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(
        %origin,
        "provider double listening: {origin}/google, {origin}/oidc, {origin}/facebook, \
         {origin}/github and {origin}/x"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
