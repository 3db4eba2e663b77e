//! A stand-in for the Pwned Passwords range API (`/pwned/range/{prefix}`): a few passwords are
//! "breached", every answer is padded with zero-count decoys as the real one is when asked, and
//! one password's range never answers in time, so a test can show that a slow screen blocks
//! nobody.

use aws_lc_rs::digest;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write as _;
use std::time::Duration;

/// What the double lists as breached (with made-up counts).
pub const BREACHED: &[&str] = &["breached passphrase 2024", "Tr0ub4dor&3-leaked"];
/// A password whose range answers only after 30 seconds.
pub const SLOW: &str = "slow screen passphrase";

fn sha1_hex(password: &str) -> String {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    d.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

async fn range(Path(prefix): Path<String>, headers: HeaderMap) -> Response {
    if prefix.len() != 5 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return (
            StatusCode::BAD_REQUEST,
            "The hash prefix was not in a valid format",
        )
            .into_response();
    }
    let prefix = prefix.to_ascii_uppercase();
    if sha1_hex(SLOW).starts_with(&prefix) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let mut body = String::new();
    for (n, p) in BREACHED.iter().enumerate() {
        let h = sha1_hex(p);
        if let Some(suffix) = h.strip_prefix(&prefix) {
            let _ = write!(body, "{suffix}:{}\r\n", 1000 * (n + 1));
        }
    }
    if headers.get("add-padding").is_some() {
        for i in 0..20u32 {
            let _ = write!(body, "{:035X}:0\r\n", u128::from(i) * 0x1_0000_0001);
        }
    }
    body.into_response()
}

pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/pwned/range/{prefix}", get(range))
}
