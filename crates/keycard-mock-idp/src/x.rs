//! X, formerly Twitter (`/x`): OAuth 2.0 with PKCE required, a confidential client's code
//! exchange (HTTP Basic only), and `/2/users/me`. X hands out no email address at all.

use crate::Idp;
use crate::fault::Fault;
use crate::oauth::{
    self, ClientAuth, NO_STORE, Provider, ResponseType, Rules, TokenAnswer, TokenRefusal,
};
use crate::users::Person;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub(crate) struct X;

impl Provider for X {
    const ID: &'static str = "x";
    const NAME: &'static str = "X";
    const AUTHORIZE_PATH: &'static str = "/x/i/oauth2/authorize";
    const TOKEN_PATH: &'static str = "/x/2/oauth2/token";
    const RULES: Rules = Rules {
        response_type: ResponseType::Required,
        state_required: true,
        pkce_required: true,
        scopes: &[
            "tweet.read",
            "users.read",
            "offline.access",
            "follows.read",
            "tweet.write",
        ],
        scope_separators: &[' '],
        client_auth: ClientAuth::Basic,
        grant_type_required: true,
        params_in_query: false,
    };
    const DENIED: &'static [(&'static str, &'static str)] = &[];
    const TOKEN_PREFIX: &'static str = "";

    fn refuse(refusal: TokenRefusal, _: &HeaderMap) -> Response {
        let (status, error) = match refusal {
            TokenRefusal::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "unauthorized_client"),
            TokenRefusal::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "invalid_request"),
            TokenRefusal::Grant(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        };
        let body = json!({ "error": error, "error_description": refusal.why() });
        (status, [NO_STORE], Json(body)).into_response()
    }

    fn grant(t: &TokenAnswer<'_>, _: &HeaderMap) -> Response {
        (
            [NO_STORE],
            Json(json!({
                "token_type": "bearer",
                "expires_in": t.expires_in,
                "access_token": t.access_token,
                "scope": t.scope,
            })),
        )
            .into_response()
    }
}

pub(crate) fn routes() -> Router<Arc<Idp>> {
    oauth::routes::<X>().route("/x/2/users/me", get(me))
}

/// An RFC 7807 problem, as the v2 API reports errors.
fn problem(status: StatusCode, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = json!({ "title": title, "type": "about:blank", "status": status.as_u16(), "detail": detail });
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
struct MeQuery {
    #[serde(rename = "user.fields")]
    user_fields: Option<String>,
}

/// Fields beyond `id`, `name` and `username` come only when asked for in `user.fields`.
async fn me(State(idp): State<Arc<Idp>>, headers: HeaderMap, Query(q): Query<MeQuery>) -> Response {
    let token = oauth::presented_token(&headers, &["Bearer"]);
    let Some(h) = oauth::holder::<X>(&idp, token.as_deref()) else {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    if h.fault == Some(Fault::ApiError) {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    if !h.has_scope("users.read") || !h.has_scope("tweet.read") {
        return problem(
            StatusCode::FORBIDDEN,
            "Missing required OAuth2 scopes: tweet.read users.read",
        );
    }
    let p = &h.person;
    let mut data = json!({
        "id": p.numeric_id(X::ID).to_string(),
        "name": p.user.name,
        "username": username(p),
    });
    for field in q.user_fields.as_deref().unwrap_or_default().split(',') {
        match field.trim() {
            "" => {}
            "profile_image_url" => data["profile_image_url"] = json!(p.user.picture),
            other => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "The `user.fields` query parameter value [{other}] is not one this double serves: [profile_image_url]"
                    ),
                );
            }
        }
    }
    Json(json!({ "data": data })).into_response()
}

/// Handles are letters, digits and underscores.
fn username(p: &Person) -> String {
    match &p.tag {
        Some(t) => format!("{}_{}", p.user.id, t.replace('-', "_")),
        None => p.user.id.to_owned(),
    }
}
