//! Change notices from other Keycard processes: a dedicated connection LISTENs on the channel the
//! triggers of migration 0002 notify, and every notice names a user whose cached sessions are
//! now stale (or `*`: everyone).
//!
//! The connection is the listener's alone (its own one-connection pool), so it never takes a
//! slot that requests need. When it is lost the receiver is told `Deaf` at once, since notices
//! sent meanwhile are gone for good, and `Listening` again once a new connection LISTENs.
//!
//! A connection can also go quiet without failing: a half-open TCP connection after a partition
//! or a failover, or a pooler in transaction mode that accepts LISTEN and never delivers. So the
//! listener probes itself: every few seconds it sends a notice of its own through the main pool
//! and treats the connection as lost when that notice has not come back in time.

use keycard_core::ids::UserId;
use keycard_core::store::ChangeNotice;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

const CHANNEL: &str = "keycard_user_changed";
/// Payloads with this prefix are probes; each process ignores the others'.
const PROBE: &str = "probe:";
const PROBE_EVERY: Duration = Duration::from_secs(5);
/// A probe not back within this is a lost connection.
const PROBE_DEADLINE: Duration = Duration::from_secs(5);
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Failed attempts in a row before they are worth a warning rather than a debug line.
const WARN_AFTER: u32 = 5;

pub(crate) fn spawn(opts: PgConnectOptions, main: PgPool) -> mpsc::Receiver<ChangeNotice> {
    let (tx, rx) = mpsc::channel(1024);
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(opts.application_name("keycard-listener"));
    tokio::spawn(async move {
        // Ends when the receiver goes: nobody is left to tell.
        tokio::select! {
            () = listen(own, main, &tx) => {}
            () = tx.closed() => {}
        }
    });
    rx
}

async fn listen(own: PgPool, main: PgPool, tx: &mpsc::Sender<ChangeNotice>) {
    let me = Uuid::new_v4().simple().to_string();
    let mut retry = RETRY_MIN;
    let mut failures = 0u32;
    let mut was_lost = false;
    loop {
        match subscribe(&own).await {
            Ok(mut listener) => {
                if was_lost {
                    tracing::info!("listening for changes made by other Keycard processes again");
                }
                if tx.send(ChangeNotice::Listening).await.is_err() {
                    return;
                }
                retry = RETRY_MIN;
                failures = 0;
                let why = match hear(&mut listener, &main, &me, tx).await {
                    Some(why) => why,
                    None => return,
                };
                tracing::warn!(reason = %why, "stopped hearing of changes made by other Keycard processes; sessions are read from the database until this recovers");
                if tx.send(ChangeNotice::Deaf).await.is_err() {
                    return;
                }
                was_lost = true;
            }
            Err(e) => {
                failures += 1;
                if failures == WARN_AFTER {
                    tracing::warn!(error = %e, attempts = failures, "cannot LISTEN for changes made by other Keycard processes; sessions are read from the database until this works");
                } else {
                    tracing::debug!(error = %e, "cannot listen for change notices yet");
                }
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// Forwards notices until the connection is lost or stops echoing probes; returns why, or `None`
/// when the receiver is gone.
async fn hear(
    listener: &mut PgListener,
    main: &PgPool,
    me: &str,
    tx: &mpsc::Sender<ChangeNotice>,
) -> Option<String> {
    let mut probes = tokio::time::interval(PROBE_EVERY);
    let mut sequence = 0u64;
    // The probe in flight: its payload and when it was sent.
    let mut awaited: Option<(String, Instant)> = None;
    loop {
        // `try_recv` is cancel-safe (sqlx reads whole messages only), so a tick may interrupt it.
        tokio::select! {
            received = listener.try_recv() => {
                let n = match received {
                    Ok(Some(n)) => n,
                    Ok(None) => return Some("connection lost".to_owned()),
                    Err(e) => return Some(e.to_string()),
                };
                let payload = n.payload();
                let notice = if payload == "*" {
                    ChangeNotice::AllChanged
                } else if payload.starts_with(PROBE) {
                    if awaited.as_ref().is_some_and(|(p, _)| p == payload) {
                        awaited = None;
                    }
                    continue;
                } else {
                    match Uuid::parse_str(payload) {
                        Ok(id) => ChangeNotice::UserChanged(UserId(id)),
                        Err(_) => return Some(format!("unexpected payload {payload:?}")),
                    }
                };
                tx.send(notice).await.ok()?;
            }
            _ = probes.tick() => {
                if let Some((_, sent)) = &awaited {
                    if sent.elapsed() > PROBE_DEADLINE {
                        return Some(format!("a probe notice did not come back within {PROBE_DEADLINE:?}"));
                    }
                    continue;
                }
                sequence += 1;
                let payload = format!("{PROBE}{me}:{sequence}");
                let sent = tokio::time::timeout(
                    PROBE_DEADLINE,
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(&payload)
                        .execute(main),
                )
                .await;
                match sent {
                    Ok(Ok(_)) => awaited = Some((payload, Instant::now())),
                    Ok(Err(e)) => return Some(format!("cannot send a probe notice: {e}")),
                    Err(_) => return Some("cannot send a probe notice in time".to_owned()),
                }
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Report a lost connection at once instead of silently reconnecting: the gap matters here.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
