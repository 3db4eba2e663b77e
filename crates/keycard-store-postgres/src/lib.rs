//! PostgreSQL backend: for deployments that run more than one Keycard instance or already operate
//! PostgreSQL. Native types throughout (UUID, TIMESTAMPTZ, BYTEA, JSONB), embedded migrations.
//! Transactions run at the default READ COMMITTED; the few places where that is not enough take
//! row locks explicitly (see `sessions::rotate_refresh_token`).

#![forbid(unsafe_code)]

mod accounts;
mod admin;
mod audit;
mod browser;
mod clients;
mod devices;
mod email_changes;
mod grants;
mod keys;
mod lifecycle;
pub(crate) mod mfa;
mod notices;
mod passkeys;
mod resets;
mod rows;
mod sessions;
mod social;
mod throttle;
mod webhooks;

use async_trait::async_trait;
use keycard_core::store::{ChangeNotice, Store, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Holds the password: never printed.
    opts: PgConnectOptions,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the server at `url` (`postgres://user:pass@host/db?sslmode=...`) and checks
    /// that one connection can be made: `Unavailable` if the server cannot be reached in time.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?
            // Lets an operator tell Keycard's connections apart in pg_stat_activity.
            .application_name("keycard");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts.clone())
            .await
            .map_err(|e| match e {
                // sqlx retries a refused connection until the deadline (the server may be
                // starting) and then reports only the timeout, which alone tells an operator
                // nothing about where to look.
                sqlx::Error::PoolTimedOut => StoreError::Unreachable(format!(
                    "no connection to PostgreSQL within {}s: server down or refusing connections",
                    ACQUIRE_TIMEOUT.as_secs()
                )),
                e => db_err(e),
            })?;
        Ok(Self { pool, opts })
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        // sqlx holds a PostgreSQL advisory lock while migrating, so instances starting together
        // do not race each other.
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            // An unreachable server stays retryable; anything else is a broken migration.
            sqlx::migrate::MigrateError::Execute(inner) => match db_err(inner) {
                retry @ (StoreError::Unavailable(_) | StoreError::Unreachable(_)) => retry,
                other => StoreError::Other(format!("migration failed: {other}")),
            },
            e => StoreError::Other(format!("migration failed: {e}")),
        })
    }

    /// A connection of its own, not one from the pool: an exhausted pool says nothing about
    /// whether the server can be reached.
    async fn probe(&self) -> StoreResult<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.opts)
            .await
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        sqlx::query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
        let _ = conn.close().await;
        Ok(())
    }

    fn change_notices(&self) -> Option<tokio::sync::mpsc::Receiver<ChangeNotice>> {
        Some(notices::spawn(self.opts.clone(), self.pool.clone()))
    }
}

/// Maps sqlx errors to the domain's: connection trouble is retryable, a duplicate email is a
/// conflict, the rest is a bug.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unreachable(e.to_string()),
        // No connection within the pool's wait: the server may be down, or every connection busy
        // under load. Only a probe on a connection of its own can tell (see `probe`), so this
        // alone trips nothing.
        sqlx::Error::PoolTimedOut => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d)
            if d.is_unique_violation() && d.constraint() == Some("users_email_key") =>
        {
            StoreError::EmailTaken
        }
        sqlx::Error::Database(d)
            if d.is_unique_violation()
                && d.constraint() == Some("identities_issuer_subject_key") =>
        {
            StoreError::IdentityTaken
        }
        // Raised by the trigger of migration 0009.
        sqlx::Error::Database(d) if d.code().as_deref() == Some("KC403") => {
            StoreError::AccountDisabled
        }
        sqlx::Error::Database(d) if d.code().as_deref().is_some_and(unreachable_sqlstate) => {
            StoreError::Unreachable(e.to_string())
        }
        sqlx::Error::Database(d) if d.code().as_deref().is_some_and(retryable_sqlstate) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// SQLSTATEs that mean the server cannot be used at all for now.
fn unreachable_sqlstate(code: &str) -> bool {
    // Class 08: connection exception.
    code.starts_with("08")
        // admin_shutdown, crash_shutdown, cannot_connect_now: the server is restarting.
        || matches!(code, "57P01" | "57P02" | "57P03")
}

/// SQLSTATEs after which the same request can succeed if simply tried again.
fn retryable_sqlstate(code: &str) -> bool {
    // too_many_connections: another client holds the slots for now.
    code == "53300"
        // serialization_failure, deadlock_detected: the transaction was rolled back whole and a
        // retry starts afresh; the counterpart of SQLite's BUSY.
        || matches!(code, "40001" | "40P01")
}
