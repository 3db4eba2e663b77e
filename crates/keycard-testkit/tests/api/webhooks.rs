//! Webhooks: every audit event is posted to the platform's endpoint, signed so that the
//! receiver can check it came from Keycard, and posted again when the receiver fails. The
//! receiver here is the test's own HTTP server; the signature is checked with aws-lc-rs, not
//! with Keycard's code.

use anyhow::{Context, Result, bail, ensure};
use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use keycard_testkit::{Backend, PASSWORD, TestApp, unique_email};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "a webhook secret of at least thirty-two characters";

macro_rules! webhook_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Err(e) = super::$name(keycard_testkit::Backend::Sqlite).await {
                        panic!("{e:#}");
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Err(e) = super::$name(keycard_testkit::Backend::Postgres).await {
                        panic!("{e:#}");
                    }
                }
            )+
        }
    };
}

webhook_tests!(
    every_event_is_posted_signed,
    a_receiver_that_fails_gets_the_event_again,
);

/// One post the receiver got.
#[derive(Debug, Clone)]
struct Post {
    headers: HeaderMap,
    body: Bytes,
}

/// The platform's endpoint: records every post; answers 503 to the first `failing` ones.
struct Receiver {
    url: String,
    posts: Arc<Mutex<Vec<Post>>>,
    _server: tokio_util::task::AbortOnDropHandle<()>,
}

impl Receiver {
    async fn start(failing: usize) -> Result<Self> {
        let posts: Arc<Mutex<Vec<Post>>> = Arc::default();
        let left = Arc::new(AtomicUsize::new(failing));
        let (seen, left2) = (posts.clone(), left.clone());
        let app = axum::Router::new().route(
            "/hooks/keycard",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (seen, left) = (seen.clone(), left2.clone());
                async move {
                    if let Ok(mut s) = seen.lock() {
                        s.push(Post { headers, body });
                    }
                    let failing = left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hooks/keycard", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            posts,
            _server: tokio_util::task::AbortOnDropHandle::new(server),
        })
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The posts of events of `kind` for `user`, once there are `n` of them.
    async fn wait_for(
        &self,
        kind: &str,
        user: &str,
        n: usize,
        within: Duration,
    ) -> Result<Vec<Post>> {
        let started = Instant::now();
        loop {
            let found: Vec<Post> = self
                .posts()
                .into_iter()
                .filter(|p| {
                    serde_json::from_slice::<Value>(&p.body)
                        .is_ok_and(|v| v["type"] == kind && v["user_id"] == user)
                })
                .collect();
            if found.len() >= n {
                return Ok(found);
            }
            if started.elapsed() > within {
                bail!(
                    "{n} {kind} posts for {user} did not come within {within:?}; got {:?}",
                    self.posts()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn app_posting_to(backend: Backend, receiver: &Receiver) -> Result<Option<TestApp>> {
    TestApp::builder(backend)
        .setting("webhook_url", &receiver.url)
        .setting("webhook_secret", SECRET)
        .start()
        .await
}

/// Checks `Keycard-Signature` the way a receiver would: the HMAC-SHA256 under the secret of
/// `"<t>.<body>"`, and `t` near now.
fn verify(post: &Post, secret: &str) -> Result<()> {
    let header = post
        .headers
        .get("keycard-signature")
        .and_then(|v| v.to_str().ok())
        .context("no Keycard-Signature")?;
    let (t, v1) = header
        .split_once(",v1=")
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v)))
        .with_context(|| format!("malformed signature header {header}"))?;
    let sent: i64 = t.parse()?;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    ensure!((now - sent).abs() < 300, "signed at {sent}, now {now}");
    let tag: Vec<u8> = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16))
        .collect::<Result<_, _>>()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&post.body);
    hmac::verify(&key, &signed, &tag).map_err(|_| anyhow::anyhow!("the signature does not verify"))
}

async fn every_event_is_posted_signed(backend: Backend) -> Result<()> {
    let receiver = Receiver::start(0).await?;
    let Some(app) = app_posting_to(backend, &receiver).await? else {
        return Ok(());
    };
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    let user = tokens.user_id()?.to_owned();
    let registered = receiver
        .wait_for("registered", &user, 1, Duration::from_secs(15))
        .await?;
    receiver
        .wait_for("login_succeeded", &user, 1, Duration::from_secs(15))
        .await?;
    let post = &registered[0];
    verify(post, SECRET)?;
    let body: Value = serde_json::from_slice(&post.body)?;
    ensure!(
        post.headers
            .get("keycard-event-id")
            .and_then(|v| v.to_str().ok())
            == body["id"].as_str(),
        "{body}"
    );
    ensure!(
        body["occurred_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
            && body["detail"].is_object(),
        "{body}"
    );
    // Nothing secret travels: no password, no token.
    let text = String::from_utf8_lossy(&post.body);
    ensure!(!text.contains(PASSWORD) && !text.contains(&tokens.access_token));
    // Another secret, or a body changed on the way, does not verify.
    ensure!(verify(post, "another secret of at least thirty-two characters").is_err());
    let mut tampered = post.clone();
    tampered.body = Bytes::from(text.replace("registered", "registered "));
    ensure!(verify(&tampered, SECRET).is_err());

    // A failed sign-in is posted too, with its reason.
    app.login_raw(&email, "not the password").await?;
    let failed = receiver
        .wait_for("login_failed", &user, 1, Duration::from_secs(15))
        .await?;
    let body: Value = serde_json::from_slice(&failed[0].body)?;
    ensure!(body["detail"]["reason"] == "invalid_credentials", "{body}");
    Ok(())
}

async fn a_receiver_that_fails_gets_the_event_again(backend: Backend) -> Result<()> {
    let receiver = Receiver::start(1).await?;
    let Some(app) = app_posting_to(backend, &receiver).await? else {
        return Ok(());
    };
    let tokens = app.register(&unique_email(), PASSWORD).await?;
    let user = tokens.user_id()?.to_owned();
    // The first post is refused; its event is posted again after its pause (5 s).
    let ids = |posts: &[Post]| -> Vec<String> {
        posts
            .iter()
            .filter_map(|p| serde_json::from_slice::<Value>(&p.body).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect()
    };
    let started = Instant::now();
    let posts = loop {
        let all = receiver.posts();
        let seen = ids(&all);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        if unique.len() < seen.len() {
            break all;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(25),
            "the refused event was not posted again: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    receiver
        .wait_for("registered", &user, 1, Duration::from_secs(1))
        .await?;
    receiver
        .wait_for("login_succeeded", &user, 1, Duration::from_secs(1))
        .await?;
    verify(&posts[0], SECRET)?;
    Ok(())
}
