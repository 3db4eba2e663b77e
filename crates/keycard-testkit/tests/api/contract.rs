//! The error contract: every error is an RFC 9457 problem with a stable `code` — also those the
//! HTTP machinery produces before any handler runs (a body over the limit, however it is sent; a
//! bad query string; a method the route does not have; a body that is not a JSON object).

use anyhow::{Context, Result, ensure};
use keycard_testkit::{Reply, TestApp, send};
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

backend_tests!(
    a_body_over_the_limit_is_a_413_problem_however_it_is_sent,
    bad_query_strings_are_400_problems,
    a_method_a_route_does_not_have_is_a_405_problem_with_allow,
    bodies_must_be_json_objects,
    unknown_paths_are_404_problems,
);

fn expect_problem_text(status: u16, code: &str, raw: &str) -> Result<()> {
    let (head, body) = raw.split_once("\r\n\r\n").context("no end of headers")?;
    let first = head.lines().next().unwrap_or_default();
    ensure!(
        first.contains(&format!(" {status} ")),
        "status line {first:?}"
    );
    ensure!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "not a problem: {head}"
    );
    ensure!(
        body.contains(&format!("\"code\":\"{code}\"")),
        "body {body}"
    );
    Ok(())
}

/// A raw HTTP/1.1 exchange: what a client sees when the server answers before the whole body
/// has been sent (as it should for a body that is too large), which an HTTP client library may
/// report as a broken connection instead.
async fn raw_post(app: &TestApp, path: &str, head_extra: &str, body: &[u8]) -> Result<String> {
    let addr = app
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Forwarded-For: {}\r\nConnection: close\r\n{head_extra}\r\n",
        app.client_ip()
    );
    tcp.write_all(head.as_bytes()).await?;
    // The server may answer and close before everything is sent.
    for part in body.chunks(8 * 1024) {
        if tcp.write_all(part).await.is_err() {
            break;
        }
    }
    let mut raw = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await.context("no answer within 10 s")?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

async fn a_body_over_the_limit_is_a_413_problem_however_it_is_sent(app: TestApp) -> Result<()> {
    let big = format!("{{\"email\":\"{}\"}}", "x".repeat(70 * 1024));
    for path in ["/v1/auth/login", "/v1/auth/refresh"] {
        // With a Content-Length: refused from the header alone, before the body is read (so
        // none is sent here: a server that waited for it would time the test out).
        let raw = raw_post(
            &app,
            path,
            &format!("Content-Length: {}\r\n", big.len()),
            b"",
        )
        .await?;
        expect_problem_text(413, "payload_too_large", &raw)
            .with_context(|| format!("POST {path} with Content-Length {}", big.len()))?;
        // Chunked, so the size is only known while reading: the same answer.
        let mut chunked = Vec::new();
        for part in big.as_bytes().chunks(8 * 1024) {
            chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            chunked.extend_from_slice(part);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let raw = raw_post(&app, path, "Transfer-Encoding: chunked\r\n", &chunked).await?;
        expect_problem_text(413, "payload_too_large", &raw)
            .with_context(|| format!("chunked POST {path}"))?;
    }
    Ok(())
}

async fn bad_query_strings_are_400_problems(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let token = &acct.tokens.access_token;
    for q in ["abc", "0", "201", "-1", "2981804340", "1.5"] {
        let r = app
            .bearer_get(&format!("/v1/me/events?limit={q}"), token)
            .await?;
        r.expect_problem(400, "malformed_request")
            .with_context(|| format!("limit={q}"))?;
    }
    for q in ["1", "200"] {
        app.bearer_get(&format!("/v1/me/events?limit={q}"), token)
            .await?
            .expect_status(200)?;
    }
    Ok(())
}

async fn a_method_a_route_does_not_have_is_a_405_problem_with_allow(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let r = send(
        app.request(Method::PUT, "/v1/me")
            .bearer_auth(&acct.tokens.access_token)
            .json(&json!({"name": "Ada"})),
    )
    .await?;
    r.expect_problem(405, "method_not_allowed")?;
    let allow = r.header("allow").unwrap_or_default().to_ascii_uppercase();
    ensure!(
        allow.contains("GET") && allow.contains("PATCH"),
        "Allow: {allow:?} in {r:?}"
    );
    let r = app.get("/v1/auth/login").await?;
    r.expect_problem(405, "method_not_allowed")?;
    Ok(())
}

async fn bodies_must_be_json_objects(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let send_body = |method: Method, path: &'static str, body: &'static str| {
        let app = &app;
        let token = acct.tokens.access_token.clone();
        async move {
            send(
                app.request(method, path)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await
        }
    };
    let cases: [(Method, &str, &str); 5] = [
        (Method::PATCH, "/v1/me", "[null, null]"),
        (Method::POST, "/v1/auth/login", "[\"a@b.co\", \"password\"]"),
        (Method::POST, "/v1/auth/refresh", "[\"kcrt_x\"]"),
        (Method::POST, "/v1/auth/logout", "{\"refresh_token\": 1}"),
        (Method::POST, "/v1/auth/logout", "{\"unknown\": true}"),
    ];
    for (method, path, body) in cases {
        let r: Reply = send_body(method.clone(), path, body).await?;
        r.expect_problem(400, "malformed_request")
            .with_context(|| format!("{method} {path} {body}"))?;
    }
    // An absent or `null` body is fine where the body is optional.
    send_body(Method::POST, "/v1/auth/logout", "null")
        .await?
        .expect_status(204)?;
    Ok(())
}

async fn unknown_paths_are_404_problems(app: TestApp) -> Result<()> {
    app.get("/v1/nothing-here")
        .await?
        .expect_problem(404, "not_found")?;
    Ok(())
}
