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

async fn a_body_over_the_limit_is_a_413_problem_however_it_is_sent(app: TestApp) -> Result<()> {
    let big = "x".repeat(70 * 1024);
    // With a Content-Length: refused before it is read.
    for path in ["/v1/auth/login", "/v1/auth/refresh"] {
        let r = send(
            app.request(Method::POST, path)
                .header("content-type", "application/json")
                .body(format!("{{\"email\":\"{big}\"}}")),
        )
        .await?;
        r.expect_problem(413, "payload_too_large")?;
    }
    // Chunked, so the size is only known while reading: the same answer.
    let addr = app
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    for path in ["/v1/auth/login", "/v1/auth/refresh"] {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await?;
        let chunk = format!("{{\"email\":\"{big}\"}}");
        let mut sent = 0;
        // The server may answer and close before everything is sent.
        for part in chunk.as_bytes().chunks(8 * 1024) {
            let frame = [format!("{:x}\r\n", part.len()).as_bytes(), part, b"\r\n"].concat();
            if tcp.write_all(&frame).await.is_err() {
                break;
            }
            sent += part.len();
        }
        let _ = tcp.write_all(b"0\r\n\r\n").await;
        let mut raw = Vec::new();
        let _ = tcp.read_to_end(&mut raw).await;
        let raw = String::from_utf8_lossy(&raw);
        expect_problem_text(413, "payload_too_large", &raw)
            .with_context(|| format!("chunked POST {path} ({sent} bytes sent)"))?;
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
