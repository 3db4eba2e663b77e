//! What goes back to the browser, the same for every provider: the authorization page, error
//! pages, and the redirect back to the client.

use crate::fault::Fault;
use crate::users;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `k=v&…`, each value percent-encoded.
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such provider").into_response()
}

/// A page for what cannot go back to the client: a redirect to an unverified URI would make
/// the provider an open redirector, so the real ones show an error instead.
pub(crate) fn error_page(status: StatusCode, what: &str) -> Response {
    let body = format!(
        "<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><p>{}</p>",
        escape(what)
    );
    (status, Html(body)).into_response()
}

/// The redirect back to the client's (already verified) URI, carrying `params`.
pub(crate) fn to_client(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{sep}{}", form_encode(params))).into_response()
}

/// The page where a person chooses a test user or denies. Every provider's page has the same
/// form (fields `request`, `user`, `deny`, `fault`; buttons `user-<id>` and `deny`), so one
/// piece of browser-driving code works with all of them.
pub(crate) fn authorization_page(
    provider: &str,
    action: &str,
    client_id: &str,
    request: &str,
    faults: &[Fault],
) -> Response {
    let mut choices = String::new();
    for u in users::USERS {
        let email = match (u.email, u.email_verified) {
            (Some(e), true) => format!("{e}, verified"),
            (Some(e), false) => format!("{e}, not verified"),
            (None, _) => "no email".to_owned(),
        };
        choices.push_str(&format!(
            "<li><button name=\"user\" value=\"{id}\" id=\"user-{id}\">{name}</button> ({email})</li>",
            id = escape(u.id),
            name = escape(u.name),
            email = escape(&email),
        ));
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign in with {p} (test double)</title>\
         <h1>Sign in with {p}</h1><p>Test double: choose who you are, or deny {c} access.</p>\
         <form method=\"post\" action=\"{a}\"><input type=\"hidden\" name=\"request\" value=\"{r}\">\
         <ul>{choices}</ul><button name=\"deny\" value=\"1\" id=\"deny\">Deny</button>\
         <p><label for=\"fault\">Simulate a provider failure</label> \
         <select name=\"fault\" id=\"fault\"><option value=\"\">none</option>{faults}</select></p></form></html>",
        p = escape(provider),
        a = escape(action),
        c = escape(client_id),
        r = escape(request),
        faults = faults
            .iter()
            .map(|f| format!("<option>{}</option>", f.name()))
            .collect::<String>(),
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}
