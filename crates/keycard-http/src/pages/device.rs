//! `/device`: where a person lets a device sign in (RFC 8628). They type the code the device
//! shows (or arrive with it from the QR code), see which app on which device asks, and allow or
//! deny — signed in here first, like any page that acts for them.

use super::login::error_page;
use super::{PageCtx, i18n::Messages, render, same_origin};
use crate::browser::SESSION_COOKIE;
use crate::error::ApiError;
use crate::extract::Client;
use crate::oauth::no_store;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use keycard_core::accounts::User;
use keycard_core::devices::{DeviceRequest, codes};
use keycard_core::oidc::Client as App;
use keycard_core::sessions::Session;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    typed: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "device_confirm.html")]
struct ConfirmPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    heading: String,
    says: String,
    signed_in_as: String,
    code: String,
    scopes: Vec<String>,
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage<'a> {
    ctx: &'a PageCtx,
    heading: String,
    text: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeviceForm {
    csrf: Option<String>,
    lang: Option<String>,
    user_code: Option<String>,
    decision: Option<String>,
}

fn binding(jar: &CookieJar) -> String {
    jar.get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default()
}

async fn current(state: &AppState, jar: &CookieJar) -> Result<Option<(Session, User)>, Error> {
    match jar.get(SESSION_COOKIE) {
        Some(c) => state.keycard.browser().current(c.value()).await,
        None => Ok(None),
    }
}

fn entry(
    state: &AppState,
    ctx: &PageCtx,
    jar: &CookieJar,
    typed: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let csrf = state.keycard.browser().form_token(&binding(jar), "device");
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    no_store(render(
        status,
        &EntryPage {
            ctx,
            csrf: &csrf,
            typed,
            error: error.map(|(_, m)| m),
        },
        &ctx.nonce,
    ))
}

fn confirm(
    state: &AppState,
    ctx: &PageCtx,
    jar: &CookieJar,
    user: &User,
    req: &DeviceRequest,
    app: &App,
) -> Response {
    let csrf = state
        .keycard
        .browser()
        .form_token(&binding(jar), &format!("device {}", req.user_code));
    let who = user
        .email
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| user.name.clone())
        .unwrap_or_default();
    let scopes = req
        .scopes
        .iter()
        .map(|s| match s.as_str() {
            "openid" | "profile" | "email" | "offline_access" => {
                ctx.t(&format!("consent.scope.{s}"))
            }
            other => ctx.t1("consent.scope.other", "scope", other),
        })
        .collect();
    let heading = ctx.t1("device.confirm_heading", "app", &app.name);
    let says = ctx.t1("device.says", "device", &req.device);
    no_store(render(
        StatusCode::OK,
        &ConfirmPage {
            ctx,
            csrf: &csrf,
            heading,
            says,
            signed_in_as: ctx.t1("consent.signed_in_as", "who", &who),
            code: codes::display(&req.user_code),
            scopes,
        },
        &ctx.nonce,
    ))
}

/// Looks the typed code up and answers with the confirmation or the form again.
async fn look_up(
    state: &AppState,
    ctx: PageCtx,
    jar: &CookieJar,
    user: &User,
    typed: &str,
    by: &keycard_core::service::ClientInfo,
) -> Response {
    match state.keycard.devices().lookup(typed, by).await {
        Ok(Some((req, app))) => confirm(state, &ctx, jar, user, &req, &app),
        Ok(None) => {
            let message = ctx.t("device.invalid");
            entry(
                state,
                &ctx,
                jar,
                typed,
                Some((StatusCode::UNPROCESSABLE_ENTITY, message)),
            )
        }
        Err(Error::Throttled {
            retry_after_secs, ..
        }) => {
            let message = ctx.t("device.locked");
            let mut resp = entry(
                state,
                &ctx,
                jar,
                typed,
                Some((StatusCode::TOO_MANY_REQUESTS, message)),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Err(e) => error_page(state, ctx, e),
    }
}

/// `GET /device[?user_code=…]`.
pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Client(by): Client,
    Query(q): Query<CodeQuery>,
    jar: CookieJar,
) -> Response {
    let browser = match current(&state, &jar).await {
        Ok(b) => b,
        Err(e) => return error_page(&state, ctx, e),
    };
    let Some((_, user)) = browser else {
        let mut back = url::form_urlencoded::Serializer::new(String::new());
        let path = match q.user_code.as_deref().and_then(codes::normalize) {
            Some(code) => format!("/device?user_code={code}"),
            None => "/device".to_owned(),
        };
        back.append_pair("return_to", &path);
        return Redirect::to(&format!("/login?{}", back.finish())).into_response();
    };
    match q.user_code.as_deref() {
        Some(typed) if !typed.is_empty() => look_up(&state, ctx, &jar, &user, typed, &by).await,
        _ => entry(&state, &ctx, &jar, "", None),
    }
}

fn checked(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    form: Result<Form<DeviceForm>, FormRejection>,
    purpose: impl Fn(&DeviceForm) -> String,
) -> Result<(PageCtx, DeviceForm), Box<Response>> {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            let ctx = PageCtx::new(Messages::negotiate(None, accept), state);
            return Err(Box::new(error_page(
                state,
                ctx,
                ApiError::Malformed(e.body_text()),
            )));
        }
    };
    let ctx = PageCtx::new(Messages::negotiate(form.lang.as_deref(), accept), state);
    let token = form.csrf.as_deref().unwrap_or_default();
    if !same_origin(headers, &state.config)
        || !state
            .keycard
            .browser()
            .form_token_holds(&binding(jar), &purpose(&form), token)
    {
        tracing::info!(form = "device", "form refused: foreign origin or bad token");
        return Err(Box::new(error_page(
            state,
            ctx,
            ApiError::CsrfRejected("form from another site or without its token"),
        )));
    }
    Ok((ctx, form))
}

/// `POST /device`: the typed code.
pub async fn submit(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<DeviceForm>, FormRejection>,
) -> Response {
    let (ctx, form) = match checked(&state, &headers, &jar, form, |_| "device".to_owned()) {
        Ok(c) => c,
        Err(answer) => return *answer,
    };
    let user = match current(&state, &jar).await {
        Ok(Some((_, user))) => user,
        Ok(None) => return Redirect::to("/login?return_to=%2Fdevice").into_response(),
        Err(e) => return error_page(&state, ctx, e),
    };
    let typed = form.user_code.unwrap_or_default();
    look_up(&state, ctx, &jar, &user, &typed, &by).await
}

/// `POST /device/decide`: the person's answer.
pub async fn decide(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<DeviceForm>, FormRejection>,
) -> Response {
    let code_of = |f: &DeviceForm| {
        f.user_code
            .as_deref()
            .and_then(codes::normalize)
            .unwrap_or_default()
    };
    let (ctx, form) = match checked(&state, &headers, &jar, form, |f| {
        format!("device {}", code_of(f))
    }) {
        Ok(c) => c,
        Err(answer) => return *answer,
    };
    let code = code_of(&form);
    let browser = match current(&state, &jar).await {
        Ok(Some(b)) => b,
        Ok(None) => return Redirect::to("/login?return_to=%2Fdevice").into_response(),
        Err(e) => return error_page(&state, ctx, e),
    };
    let allow = match form.decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            let e = Error::invalid(
                "decision",
                "invalid_decision",
                "decision must be allow or deny",
            );
            return error_page(&state, ctx, e);
        }
    };
    match state
        .keycard
        .devices()
        .decide(&browser, &code, allow, &by)
        .await
    {
        Ok(true) => {
            let (heading, text) = if allow {
                (ctx.t("device.allowed_title"), ctx.t("device.allowed"))
            } else {
                (ctx.t("device.denied_title"), ctx.t("device.denied"))
            };
            no_store(render(
                StatusCode::OK,
                &DonePage {
                    ctx: &ctx,
                    heading,
                    text,
                },
                &ctx.nonce,
            ))
        }
        Ok(false) => {
            let message = ctx.t("device.invalid");
            entry(
                &state,
                &ctx,
                &jar,
                "",
                Some((StatusCode::CONFLICT, message)),
            )
        }
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `GET /device/qr?user_code=…`: an SVG QR code of the page's URL with the code, for the
/// device to show.
#[utoipa::path(get, path = "/device/qr", tag = "openid",
    params(("user_code" = String, Query, description = "The user code, as shown or normalised")),
    responses(
        (status = 200, description = "An SVG QR code of /device?user_code=…", content_type = "image/svg+xml"),
        (status = 404, description = "Not a user code (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn qr(State(state): State<AppState>, Query(q): Query<CodeQuery>) -> Response {
    let Some(code) = q.user_code.as_deref().and_then(codes::normalize) else {
        return ApiError::from(Error::NotFound).into_response();
    };
    let url = format!(
        "{}/device?user_code={code}",
        state.config.public_url.trim_end_matches('/')
    );
    let svg = match qrcode::QrCode::new(url.as_bytes()) {
        Ok(c) => c
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .build(),
        Err(e) => return ApiError::from(Error::Internal(format!("QR code: {e}"))).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}
