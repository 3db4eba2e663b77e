//! Sign-in through identity providers: the list of buttons, the start that sends the browser
//! away, and the callback that brings it back signed in. Browser navigations get pages on
//! failure; API clients get problem+json.

use crate::browser::{self, FLOW_COOKIE, LANG_COOKIE};
use crate::error::{ApiError, Problem};
use crate::extract::Client;
use crate::pages::i18n::Messages;
use crate::pages::{ErrorPage, PageCtx, render, same_origin, wants_page};
use crate::routes::auth::refresh_cookie;
use crate::state::AppState;
use askama::Template;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::service::LoginOutcome;
use keycard_core::social::{CallbackParams, SocialFailure, SocialSession};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Stable id, as used in the start URL.
    #[schema(example = "google")]
    pub id: String,
    /// The button label.
    #[schema(example = "Google")]
    pub name: String,
    /// Which icon to draw: `google`, `facebook`, `x`, `github`, `apple` or `openid`.
    #[schema(example = "google")]
    pub icon: String,
    /// Where the button sends the browser (add `?return_to=…`).
    pub start_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderView>,
}

#[utoipa::path(get, path = "/v1/auth/providers", tag = "social",
    responses((status = 200, description = "The enabled providers, in button order", body = ProviderList)))]
pub async fn list_providers(State(state): State<AppState>) -> Json<ProviderList> {
    let public = state.config.public_url.trim_end_matches('/');
    let providers = state
        .keycard
        .social()
        .providers()
        .into_iter()
        .map(|p| ProviderView {
            start_url: format!("{public}/v1/auth/social/{}/start", p.id),
            id: p.id,
            name: p.name,
            icon: p.icon,
        })
        .collect();
    Json(ProviderList { providers })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where to land once signed in: a path on Keycard or a URL on an allowed app origin; for a
    /// native app (with `code_challenge`), one of its registered redirect URIs, exactly.
    pub return_to: Option<String>,
    /// A native app's PKCE challenge (RFC 8252): the callback then sends the app a one-time
    /// `code` at `return_to`, exchanged at `POST /v1/auth/social/exchange`.
    pub code_challenge: Option<String>,
    /// `S256` (the only method accepted).
    pub code_challenge_method: Option<String>,
    /// The language of the pages at the end of the sign-in (`es`, `en`…), as the sign-in page
    /// was shown in; otherwise `Accept-Language` decides.
    pub ui_locales: Option<String>,
}

/// A failure shown as a page to a browser and as a problem to anything else.
/// The page's language: the one the sign-in started in (its cookie), else `Accept-Language`.
fn failure(headers: &HeaderMap, state: &AppState, e: impl Into<ApiError>) -> Response {
    let jar = CookieJar::from_headers(headers);
    let started_in = jar.get(LANG_COOKIE).map(|c| c.value().to_owned());
    failure_in(headers, state, started_in.as_deref(), e)
}

/// A failure with the language asked for (`ui_locales`), if any.
fn failure_in(
    headers: &HeaderMap,
    state: &AppState,
    ui_locales: Option<&str>,
    e: impl Into<ApiError>,
) -> Response {
    let e = e.into();
    if wants_page(headers) {
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let ctx = PageCtx::new(Messages::negotiate(ui_locales, accept), state);
        let back_href = format!("{}/login", state.config.public_url.trim_end_matches('/'));
        ErrorPage {
            error: e,
            back_href,
            ctx,
        }
        .into_response()
    } else {
        e.into_response()
    }
}

#[utoipa::path(get, path = "/v1/auth/social/{provider}/start", tag = "social",
    params(("provider" = String, Path, description = "Provider id from /v1/auth/providers"), StartQuery),
    responses(
        (status = 303, description = "To the provider's authorization page, with a one-time `state`, a `nonce` and a PKCE S256 challenge; sets the `__Host-keycard_flow` cookie that binds the sign-in to this browser"),
        (status = 404, description = "No such provider is enabled (`unknown_provider`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ins started from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`return_to` is not Keycard's origin nor an allowed app origin, or with a `code_challenge` not a registered native redirect URI (`invalid_return_to`); a challenge that is not S256 (`invalid_code_challenge`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider's discovery document could not be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let bound = jar.get(FLOW_COOKIE).map(|c| c.value().to_owned());
    let social = state.keycard.social();
    let started = if let Some(challenge) = q.code_challenge.as_deref() {
        // A native app: PKCE S256 and a registered redirect URI, compared exactly.
        if q.code_challenge_method.as_deref() != Some("S256") {
            return failure_in(
                &headers,
                &state,
                q.ui_locales.as_deref(),
                keycard_core::Error::invalid(
                    "code_challenge_method",
                    "invalid_code_challenge",
                    "code_challenge_method must be S256",
                ),
            );
        }
        let Some(return_to) = q
            .return_to
            .as_deref()
            .filter(|r| state.config.native_redirect_uris.iter().any(|u| u == r))
        else {
            return failure_in(
                &headers,
                &state,
                q.ui_locales.as_deref(),
                keycard_core::Error::invalid(
                    "return_to",
                    "invalid_return_to",
                    "return_to must be one of the native apps' registered redirect URIs",
                ),
            );
        };
        social
            .start_native(&provider, return_to, challenge, bound.as_deref(), &client)
            .await
    } else {
        let return_to = match browser::return_to(q.return_to.as_deref(), &state.config) {
            Ok(r) => r,
            Err(why) => {
                return failure_in(
                    &headers,
                    &state,
                    q.ui_locales.as_deref(),
                    keycard_core::Error::invalid("return_to", "invalid_return_to", why),
                );
            }
        };
        social
            .start(&provider, &return_to, bound.as_deref(), &client)
            .await
    };
    let ttl = state.keycard.policy().social_flow_ttl;
    let jar = match q
        .ui_locales
        .as_deref()
        .and_then(crate::pages::i18n::shipped)
    {
        Some(lang) => jar.add(browser::lang_cookie(lang, ttl)),
        // An older sign-in's language must not outlive it into this one.
        None if jar.get(LANG_COOKIE).is_some() => jar.add(browser::expired(LANG_COOKIE)),
        None => jar,
    };
    match started {
        Ok(s) => (
            jar.add(browser::flow_cookie(s.flow_cookie, ttl)),
            Redirect::to(&s.location),
        )
            .into_response(),
        Err(e) => failure_in(&headers, &state, q.ui_locales.as_deref(), e),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set instead of `code` when the person cancelled or the provider refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the issuer that answered.
    pub iss: Option<String>,
}

#[utoipa::path(get, path = "/v1/auth/social/{provider}/callback", tag = "social",
    params(("provider" = String, Path, description = "Provider id"), CallbackQuery),
    responses(
        (status = 303, description = "Signed in: sets `__Host-keycard_session` (the browser session) and `__Host-keycard_refresh` (for a single-page app's cookie refresh), clears the flow cookie, and goes to the `return_to` given at the start"),
        (status = 400, description = "Missing, unknown, replayed or expired `state`, or a state started in another browser (`invalid_state`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The person cancelled at the provider (`access_denied`), or their account is disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider is enabled (`unknown_provider`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account with this email exists and cannot be linked automatically (`account_exists`), or, when linking, the identity belongs to another account (`identity_in_use`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached (`provider_unavailable`) or its answer did not verify (`provider_rejected`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let params = CallbackParams {
        code: q.code,
        state: q.state,
        error: q.error,
        iss: q.iss,
        user: None,
    };
    finish(
        state,
        provider,
        params,
        q.error_description,
        client,
        headers,
        jar,
    )
    .await
}

/// The callback's work, whichever way the provider's answer came.
async fn finish(
    state: AppState,
    provider: String,
    params: CallbackParams,
    error_description: Option<String>,
    client: keycard_core::service::ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let bound = jar.get(FLOW_COOKIE).map(|c| c.value().to_owned());
    if let Some(why) = error_description.as_deref() {
        tracing::info!(
            provider,
            error_description = why,
            "provider error description"
        );
    }
    let outcome = state
        .keycard
        .social()
        .callback(&provider, params, bound.as_deref(), &client)
        .await;
    match outcome {
        Ok(s) => {
            let lifetime = state.keycard.policy().browser_absolute_lifetime;
            let lang = jar.get(LANG_COOKIE).map(|c| c.value().to_owned());
            // The flow cookie stays after a failure: a forged callback the person was lured to
            // must not break the sign-in they have under way in another tab.
            let jar = jar
                .add(browser::expired(FLOW_COOKIE))
                .add(browser::expired(LANG_COOKIE));
            let jar = match s.session {
                SocialSession::Open {
                    session_secret,
                    tokens,
                    ..
                } => jar
                    .add(browser::session_cookie(session_secret, lifetime))
                    .add(refresh_cookie(
                        tokens.refresh_token.expose().to_owned(),
                        tokens.refresh_expires_in,
                    )),
                SocialSession::SecondStep(m) => {
                    let jar = jar.add(browser::mfa_cookie(
                        m.challenge_id,
                        time::Duration::seconds(m.expires_in),
                    ));
                    let next = format!(
                        "/login/second-step?return_to={}&ui_locales={}",
                        crate::pages::login::encode(&s.return_to),
                        crate::pages::login::encode(lang.as_deref().unwrap_or("en"))
                    );
                    return (jar, Redirect::to(&next)).into_response();
                }
                SocialSession::AppContinues => jar,
            };
            let to = match &s.login_code {
                // A native app gets its one-time code, never tokens, in the URL.
                Some(code) => {
                    let sep = if s.return_to.contains('?') { '&' } else { '?' };
                    format!("{}{sep}code={code}", s.return_to)
                }
                None => s.return_to,
            };
            (jar, Redirect::to(&to)).into_response()
        }
        // The page is drawn in the sign-in's language, which then has served its purpose.
        Err(e) => (
            jar.add(browser::expired(LANG_COOKIE)),
            failure(&headers, &state, e),
        )
            .into_response(),
    }
}

/// What a provider answering with `response_mode=form_post` (Apple) posts, and what Keycard's
/// own page posts again.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CallbackForm {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
    /// Apple: the person's name as JSON, on their first sign-in only.
    pub user: Option<String>,
    /// Set by Keycard's page when it posts the answer again from its own origin.
    #[serde(rename = "continue")]
    pub resumed: Option<String>,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct ResubmitPage<'a> {
    ctx: &'a PageCtx,
    action: &'a str,
    fields: Vec<(&'static str, String)>,
}

#[utoipa::path(post, path = "/v1/auth/social/{provider}/callback", tag = "social",
    params(("provider" = String, Path, description = "Provider id")),
    request_body(content = CallbackForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The provider's cross-site POST (`response_mode=form_post`, Apple): a page of Keycard's that posts the same fields again from Keycard's own origin, so the SameSite=Lax flow cookie comes along. Nothing is taken or checked at this step", content_type = "text/html"),
        (status = 303, description = "The second, same-origin POST (`continue=1`): signed in exactly as the GET callback"),
        (status = 403, description = "A second step from another site (`csrf_rejected`), or the person cancelled (`access_denied`)", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "No `state`, or as the GET callback (`invalid_state`); a malformed form (`malformed_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider is enabled (`unknown_provider`)", body = Problem, content_type = "application/problem+json"),
        (status = 405, description = "The provider answers by GET, never by POST; `Allow: GET`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "As the GET callback: an account with this email exists and cannot be linked automatically (`account_exists`), or the identity belongs to another account (`identity_in_use`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "As the GET callback: the provider could not be reached (`provider_unavailable`) or its answer did not verify (`provider_rejected`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn callback_post(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Client(client): Client,
    ctx: PageCtx,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<CallbackForm>, FormRejection>,
) -> Response {
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => return failure(&headers, &state, ApiError::Malformed(e.body_text())),
    };
    match state.keycard.social().answers_by_post(&provider) {
        None => {
            return failure(
                &headers,
                &state,
                keycard_core::Error::Social(SocialFailure::UnknownProvider),
            );
        }
        // Its answers come by GET: a POST is nothing it sent.
        Some(false) => {
            let mut r = ApiError::Http {
                status: StatusCode::METHOD_NOT_ALLOWED,
                detail: "this provider answers at GET /callback".into(),
            }
            .into_response();
            r.headers_mut().insert(
                axum::http::header::ALLOW,
                axum::http::HeaderValue::from_static("GET"),
            );
            return r;
        }
        Some(true) => {}
    }
    if f.state.as_deref().is_none_or(str::is_empty) {
        return failure(
            &headers,
            &state,
            keycard_core::Error::Social(SocialFailure::InvalidState),
        );
    }
    if f.resumed.is_none() {
        // The provider's cross-site POST carries no Lax cookie, so the flow's browser binding
        // cannot be checked yet: nothing is taken or verified here. The page posts the same
        // fields again from this origin, where the flow cookie comes along and every check of
        // the GET callback applies. A forged POST only ever reaches that same check.
        let fields = [
            ("code", f.code),
            ("state", f.state),
            ("error", f.error),
            ("error_description", f.error_description),
            ("iss", f.iss),
            ("user", f.user),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let action = format!("/v1/auth/social/{provider}/callback");
        let mut page = render(
            StatusCode::OK,
            &ResubmitPage {
                ctx: &ctx,
                action: &action,
                fields,
            },
            &ctx.nonce,
        );
        page.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        return page;
    }
    if !same_origin(&headers, &state.config) {
        tracing::info!(provider, "form_post continuation from another site refused");
        return failure(
            &headers,
            &state,
            ApiError::CsrfRejected("the sign-in's second step came from another site"),
        );
    }
    let params = CallbackParams {
        code: f.code,
        state: f.state,
        error: f.error,
        iss: f.iss,
        user: f.user,
    };
    finish(
        state,
        provider,
        params,
        f.error_description,
        client,
        headers,
        jar,
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time `code` the app received at its redirect URI.
    pub code: String,
    /// The PKCE verifier of the `code_challenge` the app started the sign-in with.
    #[schema(min_length = 43, max_length = 128)]
    pub code_verifier: String,
}

#[utoipa::path(post, path = "/v1/auth/social/exchange", tag = "social",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Signed in: the app's own session and token pair (body delivery), with the account; or, for an account with a second factor, a challenge to complete at `POST /v1/auth/mfa` (`mfa_required: true`)", body = inline(crate::routes::auth::LoginAnswer)),
        (status = 400, description = "Unknown, used or expired code (60 s), or a verifier that does not match its challenge (`invalid_login_code`); the code is spent either way", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many exchanges from this network (`rate_limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn exchange(
    State(state): State<AppState>,
    Client(client): Client,
    crate::extract::AppJson(req): crate::extract::AppJson<ExchangeRequest>,
) -> Result<Response, ApiError> {
    let social = state.keycard.social();
    let s = match social
        .exchange(&req.code, &req.code_verifier, &client)
        .await?
    {
        LoginOutcome::SignedIn(s) => s,
        LoginOutcome::SecondFactor(m) => {
            return Ok(Json(crate::routes::mfa::MfaChallengeResponse::from(m)).into_response());
        }
    };
    let identities = social.identities_of(s.user.id).await?;
    let user = crate::dto::UserResponse::new(s.user, &identities);
    Ok(Json(crate::dto::TokenResponse {
        access_token: s.tokens.access_token,
        token_type: "Bearer",
        expires_in: s.tokens.expires_in,
        refresh_token: Some(s.tokens.refresh_token.expose().to_owned()),
        refresh_expires_in: s.tokens.refresh_expires_in,
        session_id: s.session_id.0,
        user: Some(user),
    })
    .into_response())
}
