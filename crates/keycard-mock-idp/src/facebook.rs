//! Facebook (`/facebook`): the login dialog, the Graph API's code exchange and `/me`, refusing
//! in Graph's words (`{"error": {"message", "type": "OAuthException", "code"}}`).

use crate::Idp;
use crate::fault::Fault;
use crate::oauth::TokenRefusal;
use crate::oauth::{self, ClientAuth, NO_STORE, Provider, ResponseType, Rules, TokenAnswer};
use crate::users::Person;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub(crate) struct Facebook;

impl Provider for Facebook {
    const ID: &'static str = "facebook";
    const NAME: &'static str = "Facebook";
    const AUTHORIZE_PATH: &'static str = "/facebook/dialog/oauth";
    const TOKEN_PATH: &'static str = "/facebook/oauth/access_token";
    const RULES: Rules = Rules {
        response_type: ResponseType::Optional,
        state_required: false,
        pkce_required: false,
        scopes: &["public_profile", "email"],
        scope_separators: &[',', ' '],
        client_auth: ClientAuth::Params,
        grant_type_required: false,
        params_in_query: true,
    };
    const DENIED: &'static [(&'static str, &'static str)] = &[
        ("error_reason", "user_denied"),
        ("error_description", "Permissions error."),
    ];
    const TOKEN_PREFIX: &'static str = "EAA";

    fn refuse(refusal: TokenRefusal, _: &HeaderMap) -> Response {
        let code = match refusal {
            TokenRefusal::InvalidClient(_) => 101,
            TokenRefusal::UnsupportedGrantType | TokenRefusal::Grant(_) => 100,
        };
        graph_error(StatusCode::BAD_REQUEST, refusal.why(), code)
    }

    fn grant(answer: &TokenAnswer<'_>, _: &HeaderMap) -> Response {
        (
            [NO_STORE],
            Json(json!({
                "access_token": answer.access_token,
                "token_type": "bearer",
                "expires_in": answer.expires_in,
            })),
        )
            .into_response()
    }
}

pub(crate) fn routes() -> Router<Arc<Idp>> {
    oauth::routes::<Facebook>().route("/facebook/me", get(me))
}

fn graph_error(status: StatusCode, message: &str, code: u32) -> Response {
    let body = json!({ "error": {
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "mock-idp",
    }});
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
struct MeQuery {
    fields: Option<String>,
    access_token: Option<String>,
}

/// `GET /me?fields=…`: the token in `Authorization` or, as Graph also allows, the query.
async fn me(State(idp): State<Arc<Idp>>, headers: HeaderMap, Query(q): Query<MeQuery>) -> Response {
    let token = oauth::presented_token(&headers, &["Bearer", "OAuth"]).or(q.access_token);
    let Some(h) = oauth::holder::<Facebook>(&idp, token.as_deref()) else {
        let mut refused = graph_error(
            StatusCode::BAD_REQUEST,
            "Invalid OAuth access token data.",
            190,
        );
        refused.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token data.\"",
            ),
        );
        return refused;
    };
    if h.fault == Some(Fault::ApiError) {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unknown error has occurred.",
            1,
        );
    }
    let person = &h.person;
    // Graph names the id whatever fields were asked for.
    let mut out = Map::new();
    out.insert("id".into(), json!(id(person)));
    let fields = q.fields.as_deref().unwrap_or("id,name");
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        // `picture.type(large)`, `picture{url}`: modifiers change nothing here.
        let name = field.split(['.', '{']).next().unwrap_or(field);
        let value = match name {
            "id" => continue,
            "name" => json!(person.user.name),
            "first_name" | "last_name" => {
                let (first, last) = person
                    .user
                    .name
                    .split_once(' ')
                    .unwrap_or((person.user.name, ""));
                json!(if name == "first_name" { first } else { last })
            }
            // Only with the `email` permission, and only a confirmed address: Facebook hands
            // out none that the person has not proven to own (it has no `email_verified`), and
            // leaves the field out when there is none.
            "email" => match person.email() {
                Some(e) if h.has_scope("email") && person.user.email_verified => json!(e),
                _ => continue,
            },
            "picture" => json!({ "data": {
                "height": 50, "width": 50, "is_silhouette": false, "url": person.user.picture,
            }}),
            other => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "(#100) Tried accessing nonexisting field ({other}) on node type (User)"
                    ),
                    100,
                );
            }
        };
        out.insert(name.to_owned(), value);
    }
    Json(Value::Object(out)).into_response()
}

/// Facebook's (app-scoped) user ids are strings of digits.
fn id(person: &Person) -> String {
    person.numeric_id(Facebook::ID).to_string()
}
