//! Refresh-token rotation with group commit.
//!
//! A rotation is three statements in a write transaction, and SQLite has one writer: run one
//! by one, throughput is bounded by the round trips to the connection's thread, not by work.
//! So rotations are queued to one task that runs whatever has accumulated (up to `MAX_BATCH`)
//! in a single transaction. Semantics are unchanged: jobs run in arrival order, each sees the
//! previous ones' writes, so two rotations of the same token in one batch still yield exactly
//! one `Rotated` and one `Reused`. Any error fails the whole batch (nothing is committed) and
//! every caller gets it.

use crate::db_err;
use crate::rows::{self, SESSION_COLS, ts};
use crate::sessions::insert_refresh;
use keycard_core::ids::{SessionId, UserId};
use keycard_core::store::{NextRefreshToken, Rotation, StoreError, StoreResult};
use keycard_core::tokens::TokenHash;
use sqlx::{Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 64;

pub(crate) struct Job {
    pub presented: TokenHash,
    pub next: NextRefreshToken,
    pub now: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub replay_since: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rotator {
    jobs: mpsc::Sender<(Job, oneshot::Sender<StoreResult<Rotation>>)>,
}

impl Rotator {
    /// Starts the batching task on the current runtime; it ends when the last handle is dropped.
    pub(crate) fn start(writer: SqlitePool) -> Self {
        let (jobs, mut rx) =
            mpsc::channel::<(Job, oneshot::Sender<StoreResult<Rotation>>)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                match run_batch(&writer, &batch).await {
                    Ok(outcomes) => {
                        for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(duplicate(&e)));
                        }
                    }
                }
            }
        });
        Self { jobs }
    }

    pub(crate) async fn rotate(&self, job: Job) -> StoreResult<Rotation> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((job, tx))
            .await
            .map_err(|_| StoreError::Unavailable("rotation task stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("rotation task stopped".into()))?
    }
}

fn duplicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Unreachable(m) => StoreError::Unreachable(m.clone()),
        StoreError::EmailTaken => StoreError::EmailTaken,
        StoreError::IdentityTaken => StoreError::IdentityTaken,
        StoreError::ClientTaken => StoreError::ClientTaken,
        StoreError::AccountDisabled => StoreError::AccountDisabled,
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Other(m) => StoreError::Other(m.clone()),
    }
}

async fn run_batch(
    writer: &SqlitePool,
    batch: &[(Job, oneshot::Sender<StoreResult<Rotation>>)],
) -> StoreResult<Vec<Rotation>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let mut out = Vec::with_capacity(batch.len());
    for (job, _) in batch {
        out.push(rotate_one(&mut tx, job).await?);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}

async fn rotate_one(conn: &mut SqliteConnection, job: &Job) -> StoreResult<Rotation> {
    // The conditional update is the race arbiter: of concurrent calls, only one sees a row.
    let spent = sqlx::query(
        "UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL RETURNING session_id",
    )
    .bind(&job.presented.0[..])
    .bind(ts(job.now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(spent) = spent else {
        let owner = sqlx::query(
            "SELECT s.id, s.user_id, r.spent_at FROM refresh_tokens r \
             JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1",
        )
        .bind(&job.presented.0[..])
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(r) = owner else {
            return Ok(Rotation::Unknown);
        };
        let session_id: String = r.try_get("id").map_err(db_err)?;
        let spent_at: Option<i64> = r.try_get("spent_at").map_err(db_err)?;
        if let Some(since) = job.replay_since
            && spent_at.is_some_and(|at| at >= ts(since))
            && let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SESSION_COLS} FROM sessions WHERE id = $1 AND revoked_at IS NULL \
                 AND expires_at > $2 AND idle_expires_at > $2 AND EXISTS (SELECT 1 FROM \
                 refresh_tokens t WHERE t.token_hash = $3 AND t.session_id = $1 AND t.spent_at IS NULL)"
            )))
            .bind(&session_id)
            .bind(ts(job.now))
            .bind(&job.next.hash.0[..])
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
        {
            return Ok(Rotation::Replayed(rows::session(&row)?));
        }
        return Ok(Rotation::Reused {
            session_id: SessionId(rows::uuid_col(&r, "id")?),
            user_id: UserId(rows::uuid_col(&r, "user_id")?),
        });
    };
    let session_id: String = spent.try_get("session_id").map_err(db_err)?;
    // Check and extend the session in one statement: no row means it has ended. A session with
    // an idle window of its own (a browser session) keeps it; the others take the given one.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE sessions SET last_used_at = $2, \
         idle_expires_at = MIN(COALESCE($2 + idle_timeout_secs, $3), expires_at) \
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2 \
         RETURNING {SESSION_COLS}"
    )))
    .bind(&session_id)
    .bind(ts(job.now))
    .bind(ts(job.idle_expires_at))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(Rotation::SessionEnded);
    };
    let session = rows::session(&row)?;
    insert_refresh(conn, job.next.id, session.id, &job.next.hash, job.now).await?;
    Ok(Rotation::Rotated(session))
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;
    use keycard_core::accounts::{Email, User};
    use keycard_core::ids::{RefreshTokenId, SessionId, UserId};
    use keycard_core::sessions::{RevokeReason, Session, SessionKind};
    use keycard_core::store::{
        AccountStore, NewRefreshToken, NextRefreshToken, Rotation, SessionStore, Store,
    };
    use keycard_core::tokens::{RefreshToken, TokenHash};
    use time::{Duration, OffsetDateTime, macros::datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

    async fn store_with_session() -> (SqliteStore, Session, TokenHash) {
        let store = SqliteStore::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let user = User {
            id: UserId::new(),
            email: Some(Email::parse("rotation@example.com").unwrap()),
            email_verified: false,
            name: None,
            picture_url: None,
            created_at: NOW,
            updated_at: NOW,
            disabled_at: None,
        };
        let session = Session {
            id: SessionId::new(),
            user_id: user.id,
            kind: SessionKind::Api,
            client_id: None,
            device: "test".into(),
            user_agent: None,
            ip: None,
            created_at: NOW,
            last_used_at: NOW,
            idle_expires_at: NOW + Duration::days(30),
            expires_at: NOW + Duration::days(90),
            revoked_at: None,
            amr: vec!["pwd".into()],
            auth_time: NOW,
            scopes: Vec::new(),
            origin: None,
        };
        let first = RefreshToken::generate().unwrap().hash();
        let refresh = NewRefreshToken {
            id: RefreshTokenId::new(),
            session_id: session.id,
            hash: first,
            issued_at: NOW,
        };
        store
            .create_account(&user, "$argon2id$x", &session, &refresh, None, &[])
            .await
            .unwrap();
        (store, session, first)
    }

    fn next() -> NextRefreshToken {
        NextRefreshToken {
            id: RefreshTokenId::new(),
            hash: RefreshToken::generate().unwrap().hash(),
        }
    }

    #[tokio::test]
    async fn rotates_then_detects_reuse_and_unknown_tokens() {
        let (store, session, first) = store_with_session().await;
        let later = NOW + Duration::hours(1);
        let second = next();
        let Rotation::Rotated(s) = store
            .rotate_refresh_token(&first, &second, later, later + Duration::days(30), None)
            .await
            .unwrap()
        else {
            panic!("first use must rotate");
        };
        assert_eq!(s.id, session.id);
        assert_eq!(s.last_used_at, later);
        assert_eq!(s.idle_expires_at, later + Duration::days(30));
        assert!(matches!(
            store.rotate_refresh_token(&first, &next(), later, later, None).await.unwrap(),
            Rotation::Reused { session_id, .. } if session_id == session.id
        ));
        assert!(matches!(
            store
                .rotate_refresh_token(&TokenHash([7; 32]), &next(), later, later, None)
                .await
                .unwrap(),
            Rotation::Unknown
        ));
        // The idle deadline moves forward but never past the absolute end.
        let Rotation::Rotated(s) = store
            .rotate_refresh_token(
                &second.hash,
                &next(),
                later,
                later + Duration::days(365),
                None,
            )
            .await
            .unwrap()
        else {
            panic!("the successor must rotate");
        };
        assert_eq!(s.idle_expires_at, session.expires_at);
    }

    #[tokio::test]
    async fn a_replay_needs_the_window_and_the_same_successor_still_current() {
        let (store, session, first) = store_with_session().await;
        let second = next();
        let since = Some(NOW - Duration::seconds(5));
        assert!(matches!(
            store
                .rotate_refresh_token(&first, &second, NOW, NOW + Duration::days(30), since)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ));
        // The same rotation again (the same successor): a replay, nothing written.
        let Rotation::Replayed(s) = store
            .rotate_refresh_token(&first, &second, NOW, NOW + Duration::days(30), since)
            .await
            .unwrap()
        else {
            panic!("a retry within the window must replay");
        };
        assert_eq!(s.id, session.id);
        // Another successor than the one issued is no retry of that rotation.
        assert!(matches!(
            store
                .rotate_refresh_token(&first, &next(), NOW, NOW + Duration::days(30), since)
                .await
                .unwrap(),
            Rotation::Reused { .. }
        ));
        // Outside the window: reuse.
        let late = Some(NOW + Duration::seconds(1));
        assert!(matches!(
            store
                .rotate_refresh_token(&first, &second, NOW, NOW + Duration::days(30), late)
                .await
                .unwrap(),
            Rotation::Reused { .. }
        ));
        // Once the successor has been used, the first token is older than the last one.
        assert!(matches!(
            store
                .rotate_refresh_token(&second.hash, &next(), NOW, NOW + Duration::days(30), since)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ));
        assert!(matches!(
            store
                .rotate_refresh_token(&first, &second, NOW, NOW + Duration::days(30), since)
                .await
                .unwrap(),
            Rotation::Reused { .. }
        ));
    }

    #[tokio::test]
    async fn ended_sessions_do_not_rotate() {
        let (store, session, first) = store_with_session().await;
        let ev = keycard_core::audit::AuditEvent {
            id: keycard_core::ids::AuditId::new(),
            at: NOW,
            kind: keycard_core::audit::AuditKind::Logout,
            user_id: Some(session.user_id),
            session_id: Some(session.id),
            ip: None,
            user_agent: None,
            detail: serde_json::json!({}),
        };
        assert!(
            store
                .revoke_session(session.user_id, session.id, RevokeReason::Logout, NOW, &ev)
                .await
                .unwrap()
        );
        assert!(matches!(
            store
                .rotate_refresh_token(&first, &next(), NOW, NOW + Duration::days(30), None)
                .await
                .unwrap(),
            Rotation::SessionEnded
        ));
    }

    #[tokio::test]
    async fn idle_expired_sessions_do_not_rotate() {
        let (store, session, first) = store_with_session().await;
        let too_late = session.idle_expires_at;
        assert!(matches!(
            store
                .rotate_refresh_token(
                    &first,
                    &next(),
                    too_late,
                    too_late + Duration::days(30),
                    None
                )
                .await
                .unwrap(),
            Rotation::SessionEnded
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_rotations_of_one_token_yield_exactly_one_winner() {
        let (store, _, first) = store_with_session().await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .rotate_refresh_token(&first, &next(), NOW, NOW + Duration::days(30), None)
                    .await
                    .unwrap()
            }));
        }
        let mut rotated = 0;
        let mut reused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Rotation::Rotated(_) => rotated += 1,
                Rotation::Reused { .. } => reused += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((rotated, reused), (1, 19));
    }
}
