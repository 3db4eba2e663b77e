//! SQLite backend: the zero-setup default. One file, WAL mode, embedded migrations.
//! Times are unix seconds (INTEGER) and ids hyphenated text, so rows stay readable with the
//! `sqlite3` shell and comparisons in SQL are plain integer comparisons.

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
mod passkeys;
mod resets;
mod rotation;
mod rows;
mod sessions;
mod social;
mod throttle;
mod webhooks;

use async_trait::async_trait;
use keycard_core::store::{Store, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Two pools over one file: SQLite allows one writer at a time, and a writer that finds the
/// lock taken sleeps in SQLite's busy handler. Funnelling every write transaction through a
/// one-connection pool makes writers queue fairly in async code instead; readers (WAL) never
/// wait for the writer.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    rotator: rotation::Rotator,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across application crashes; only an OS crash can lose the
            // last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // After a checkpoint resets the WAL, shrink the file back to this size instead of
            // keeping its high-water mark on disk.
            .pragma("journal_size_limit", "67108864")
            .busy_timeout(Duration::from_secs(5));
        // A local file connection does not go stale: skip sqlx's ping before every acquire.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.clone())
            .await
            .map_err(db_err)?;
        // An in-memory database exists once per connection: it cannot be shared by two pools.
        let pool = if url.contains(":memory:") {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await
                .map_err(db_err)?
        };
        let rotator = rotation::Rotator::start(writer.clone());
        Ok(Self {
            pool,
            writer,
            rotator,
        })
    }

    /// Write transactions take the write lock up front (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads first could fail to upgrade under concurrency.
    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }
}

/// Maps sqlx errors to the domain's: connection trouble is retryable, a duplicate email is a
/// conflict, the rest is a bug.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            StoreError::Unreachable(e.to_string())
        }
        // Every connection busy for the whole wait: load, not an outage.
        sqlx::Error::PoolTimedOut => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d)
            if d.is_unique_violation() && d.message().contains("users.email") =>
        {
            StoreError::EmailTaken
        }
        sqlx::Error::Database(d)
            if d.is_unique_violation() && d.message().contains("identities.issuer") =>
        {
            StoreError::IdentityTaken
        }
        // Raised by the trigger of migration 0009.
        sqlx::Error::Database(d) if d.message() == "account_disabled" => {
            StoreError::AccountDisabled
        }
        sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("5" | "6" | "517")) => {
            // SQLITE_BUSY / SQLITE_LOCKED: the write lock was not granted in time.
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}
