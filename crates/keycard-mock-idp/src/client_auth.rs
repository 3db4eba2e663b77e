//! Who is calling the token endpoint: client credentials from HTTP Basic or the request's
//! parameters, checked against the registered clients.

use crate::{Client, Idp};
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The credentials of an `Authorization: Basic` header, form-decoded.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((urldecode(id), urldecode(secret)))
        })
}

/// The client's credentials, from exactly one of HTTP Basic or the parameters (a `client_id`
/// parameter may accompany Basic if it names the same client).
pub(crate) fn either(
    headers: &HeaderMap,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Option<(String, String)> {
    match (basic(headers), client_id, client_secret) {
        (Some(creds), None, None) => Some(creds),
        (Some((id, secret)), Some(param_id), None) if id == param_id => Some((id, secret)),
        (None, Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    }
}

/// Only HTTP Basic (a `client_id` parameter may accompany it if it names the same client).
pub(crate) fn basic_only(headers: &HeaderMap, client_id: Option<&str>) -> Option<(String, String)> {
    basic(headers).filter(|(id, _)| client_id.is_none_or(|p| p == id))
}

/// The registered client with this id, if `secret` is its secret (compared in constant time).
pub(crate) fn authenticate<'a>(idp: &'a Idp, id: &str, secret: &str) -> Option<&'a Client> {
    idp.client(id).filter(|c| {
        aws_lc_rs::constant_time::verify_slices_are_equal(c.secret.as_bytes(), secret.as_bytes())
            .is_ok()
    })
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
