//! The signed-in person's provider identities: list them, link another provider, unlink one.

use crate::browser::{self, FLOW_COOKIE};
use crate::dto::IdentityView;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Authenticated, Client};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use keycard_core::ids::IdentityId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    pub identities: Vec<IdentityView>,
}

#[utoipa::path(get, path = "/v1/me/identities", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's provider identities, oldest first", body = IdentityList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_identities(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<IdentityList>> {
    let identities = state.keycard.social().identities(&who).await?;
    Ok(Json(IdentityList {
        identities: identities.iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Where to land once linked: a path on Keycard or a URL on an allowed app origin.
    pub return_to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStarted {
    /// Send the browser here (a top-level navigation): the provider's sign-in page.
    pub authorization_url: String,
}

#[utoipa::path(post, path = "/v1/me/identities/{id}", tag = "me",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The provider to link, by its id from /v1/auth/providers (e.g. `google`)")),
    request_body(content = Option<LinkRequest>, description = "May be empty"),
    responses(
        (status = 200, description = "Linking started: the response sets the `__Host-keycard_flow` cookie, so the same browser must follow `authorization_url`; the provider comes back to the callback, which links the identity to this account (or refuses with `identity_in_use` if another account has it)", body = LinkStarted),
        (status = 403, description = "A new way into the account needs a recent sign-in: this session signed in over 10 minutes ago, or the account has a second factor and this session did not sign in through it (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider is enabled (`unknown_provider`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ins started from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`return_to` is not Keycard's origin nor an allowed app origin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn link_identity(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    Path(provider): Path<String>,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<Response> {
    let req: LinkRequest = crate::routes::auth::optional_json(&body)?;
    let return_to = browser::return_to(req.return_to.as_deref(), &state.config).map_err(|why| {
        ApiError::from(keycard_core::Error::invalid(
            "return_to",
            "invalid_return_to",
            why,
        ))
    })?;
    let bound = jar.get(FLOW_COOKIE).map(|c| c.value().to_owned());
    let started = state
        .keycard
        .social()
        .start_link(&who, &provider, &return_to, bound.as_deref(), &client)
        .await?;
    let jar = jar.add(browser::flow_cookie(
        started.flow_cookie,
        state.keycard.policy().social_flow_ttl,
    ));
    Ok((
        jar,
        Json(LinkStarted {
            authorization_url: started.location,
        }),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/v1/me/identities/{id}", tag = "me",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Identity id")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 400, description = "The id is not a UUID (`malformed_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The account has no such identity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is the account's only way to sign in (`last_sign_in_method`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn unlink_identity(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Client(client): Client,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state
        .keycard
        .social()
        .unlink(&who, IdentityId(id), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
