//! GitHub (`/github`): the OAuth app authorization, the code exchange (which refuses with HTTP
//! 200 and an `error` field, and answers in form encoding unless asked for JSON), and the REST
//! API's `/user` and `/user/emails` (which refuse requests without a `User-Agent`).

use crate::Idp;
use crate::fault::Fault;
use crate::grants::{Holder, Refusal};
use crate::oauth::{
    self, ClientAuth, NO_STORE, Provider, ResponseType, Rules, TokenAnswer, TokenRefusal,
};
use crate::users::Person;
use crate::web::form_encode;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) struct GitHub;

const DOCS: &str = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";

impl Provider for GitHub {
    const ID: &'static str = "github";
    const NAME: &'static str = "GitHub";
    const AUTHORIZE_PATH: &'static str = "/github/login/oauth/authorize";
    const TOKEN_PATH: &'static str = "/github/login/oauth/access_token";
    const RULES: Rules = Rules {
        response_type: ResponseType::Ignored,
        state_required: false,
        pkce_required: false,
        scopes: &["read:user", "user:email", "user"],
        scope_separators: &[' ', ','],
        client_auth: ClientAuth::ParamsOrBasic,
        grant_type_required: false,
        params_in_query: false,
    };
    const DENIED: &'static [(&'static str, &'static str)] = &[
        (
            "error_description",
            "The user has denied your application access.",
        ),
        (
            "error_uri",
            "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
        ),
    ];
    const TOKEN_PREFIX: &'static str = "gho_";

    /// HTTP 200 whatever went wrong: a client must look for `error` in a successful answer.
    fn refuse(refusal: TokenRefusal, request: &HeaderMap) -> Response {
        let (error, description) = match refusal {
            TokenRefusal::InvalidClient(_) => (
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            ),
            TokenRefusal::Grant(Refusal::RedirectMismatch) => (
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            ),
            TokenRefusal::Grant(Refusal::UnknownCode | Refusal::Expired | Refusal::OtherClient) => {
                (
                    "bad_verification_code",
                    "The code passed is incorrect or expired.",
                )
            }
            TokenRefusal::Grant(r) => ("bad_verification_code", r.why()),
            TokenRefusal::UnsupportedGrantType => ("unsupported_grant_type", refusal.why()),
        };
        let error_uri = format!("{DOCS}/#{}", error.replace('_', "-"));
        answer(
            request,
            &[
                ("error", error),
                ("error_description", description),
                ("error_uri", &error_uri),
            ],
        )
    }

    fn grant(t: &TokenAnswer<'_>, request: &HeaderMap) -> Response {
        // GitHub lists granted scopes with commas.
        let scope = t.scope.replace(' ', ",");
        answer(
            request,
            &[
                ("access_token", t.access_token),
                ("scope", &scope),
                ("token_type", "bearer"),
            ],
        )
    }
}

/// A token endpoint answer: JSON if the request's `Accept` asks for it, else form-encoded.
fn answer(request: &HeaderMap, fields: &[(&str, &str)]) -> Response {
    let wants_json = request
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("json"));
    if wants_json {
        let body: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        ([NO_STORE], Json(body)).into_response()
    } else {
        (
            [
                NO_STORE,
                (header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            ],
            form_encode(fields),
        )
            .into_response()
    }
}

pub(crate) fn routes() -> Router<Arc<Idp>> {
    oauth::routes::<GitHub>()
        .route("/github/user", get(user))
        .route("/github/user/emails", get(emails))
}

fn api_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

/// Why the REST API turned a call away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiRefusal {
    NoUserAgent,
    NoToken,
    BadToken,
    Simulated,
}

impl IntoResponse for ApiRefusal {
    fn into_response(self) -> Response {
        match self {
            ApiRefusal::NoUserAgent => (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain")],
                "Request forbidden by administrative rules. Please make sure your request has a \
                 User-Agent header (https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required).",
            )
                .into_response(),
            ApiRefusal::NoToken => api_error(StatusCode::UNAUTHORIZED, "Requires authentication"),
            ApiRefusal::BadToken => api_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
            ApiRefusal::Simulated => api_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
        }
    }
}

/// The checks every REST API call passes first: a `User-Agent`, a live token (`Bearer` or
/// GitHub's older `token` scheme), no simulated failure.
fn authorized(idp: &Idp, headers: &HeaderMap) -> Result<Holder, ApiRefusal> {
    if headers.get(header::USER_AGENT).is_none() {
        return Err(ApiRefusal::NoUserAgent);
    }
    let token = oauth::presented_token(headers, &["Bearer", "token"]).ok_or(ApiRefusal::NoToken)?;
    let h = oauth::holder::<GitHub>(idp, Some(&token)).ok_or(ApiRefusal::BadToken)?;
    if h.fault == Some(Fault::ApiError) {
        return Err(ApiRefusal::Simulated);
    }
    Ok(h)
}

/// GitHub tells which scopes the token carries.
fn with_scopes(h: &Holder, mut r: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&h.scope.replace(' ', ", ")) {
        r.headers_mut().insert("x-oauth-scopes", v);
    }
    r
}

fn login(person: &Person) -> String {
    match &person.tag {
        Some(t) => format!("{}-{t}", person.user.id),
        None => person.user.id.to_owned(),
    }
}

async fn user(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
    let h = match authorized(&idp, &headers) {
        Ok(h) => h,
        Err(refused) => return refused.into_response(),
    };
    let p = &h.person;
    let id = p.numeric_id(GitHub::ID);
    let login = login(p);
    // `name` is optional on GitHub; Alan never filled his in, so clients meet a null one.
    let name = (p.user.id != "alan").then_some(p.user.name);
    // `email` is the address the person chose to show publicly, which must be verified.
    let public_email = p.email().filter(|_| p.user.email_verified);
    let body = json!({
        "login": login,
        "id": id,
        "node_id": format!("U_mock{id}"),
        "avatar_url": p.user.picture,
        "html_url": format!("https://github.com/{login}"),
        "type": "User",
        "site_admin": false,
        "name": name,
        "email": public_email,
    });
    with_scopes(&h, Json(body).into_response())
}

/// Every address, with `primary` and `verified`: the only place GitHub says whether an address
/// was verified. The noreply address is verified but reaches no one.
async fn emails(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
    let h = match authorized(&idp, &headers) {
        Ok(h) => h,
        Err(refused) => return refused.into_response(),
    };
    if !h.has_scope("user:email") && !h.has_scope("user") {
        return with_scopes(&h, api_error(StatusCode::NOT_FOUND, "Not Found"));
    }
    let p = &h.person;
    let list = match p.email() {
        None => Vec::new(),
        Some(email) => {
            let verified = p.user.email_verified;
            let noreply = format!(
                "{}+{}@users.noreply.github.com",
                p.numeric_id(GitHub::ID),
                login(p)
            );
            vec![
                json!({ "email": noreply, "primary": false, "verified": true, "visibility": null }),
                json!({
                    "email": email, "primary": true, "verified": verified,
                    "visibility": if verified { "public" } else { "private" },
                }),
            ]
        }
    };
    with_scopes(&h, Json(list).into_response())
}
