//! The sign-in and sign-up pages: a form that works without JavaScript, plus one button per
//! enabled provider. A success opens a browser session and goes back to `return_to`.

use super::forms::same_origin;
use super::i18n::Messages;
use super::{ErrorPage, PageCtx, binding, render_with, signed_in};
use crate::browser::{self, BROWSER_COOKIE};
use crate::error::ApiError;
use crate::extract::Client;
use crate::oauth::answer_origin;
use crate::routes::auth::refresh_cookie;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::Error;
use keycard_core::browser::{BrowserLogin, BrowserSignedIn};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub return_to: Option<String>,
    /// `login`: show the form even to a signed-in browser (an app asked for a fresh sign-in).
    pub prompt: Option<String>,
    /// The address an app expects, to fill in.
    pub login_hint: Option<String>,
}

/// A provider's button.
pub struct ProviderLink {
    pub id: String,
    pub icon: String,
    pub label: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    return_to: &'a str,
    email: &'a str,
    error: Option<String>,
    providers: &'a [ProviderLink],
    other_href: &'a str,
    /// Offer passkeys (the button, and the email field's autofill).
    passkeys: bool,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    return_to: &'a str,
    email: &'a str,
    name: &'a str,
    error: Option<String>,
    providers: &'a [ProviderLink],
    other_href: &'a str,
}

/// The fields of the sign-in and sign-up forms; all optional, so a mangled form gets a page
/// that says so instead of a bare rejection.
#[derive(Debug, Default, Deserialize)]
pub struct SignInForm {
    pub(super) csrf: Option<String>,
    lang: Option<String>,
    return_to: Option<String>,
    pub(super) email: Option<String>,
    pub(super) password: Option<String>,
    pub(super) name: Option<String>,
    /// The second step's code.
    pub(super) code: Option<String>,
    /// A passkey ceremony's id and the authenticator's answer (JSON).
    pub(super) ceremony_id: Option<String>,
    pub(super) credential: Option<String>,
}

pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn provider_links(state: &AppState, ctx: &PageCtx, return_to: &str) -> Vec<ProviderLink> {
    state
        .keycard
        .social()
        .providers()
        .into_iter()
        .map(|p| ProviderLink {
            href: format!(
                "/v1/auth/social/{}/start?return_to={}&ui_locales={}",
                p.id,
                encode(return_to),
                ctx.m.lang
            ),
            label: ctx.t1("login.with", "provider", &p.name),
            id: p.id,
            icon: p.icon,
        })
        .collect()
}

pub(crate) fn error_page(state: &AppState, ctx: PageCtx, e: impl Into<ApiError>) -> Response {
    let _ = state;
    ErrorPage {
        error: e.into(),
        back_href: "/login".into(),
        ctx,
    }
    .into_response()
}

fn invalid_return_to(why: &'static str) -> Error {
    Error::invalid("return_to", "invalid_return_to", why)
}

/// What the sign-in and sign-up pages do before drawing their form: check `return_to`, send a
/// signed-in browser straight back there, bind the form to this browser. The answer to give
/// instead of the form as `Err`.
async fn opening(
    state: &AppState,
    ctx: PageCtx,
    q: PageQuery,
    jar: CookieJar,
    form: &str,
) -> Result<(PageCtx, CookieJar, String, String), Box<Response>> {
    let return_to = match browser::return_to(q.return_to.as_deref(), &state.config) {
        Ok(r) => r,
        Err(why) => return Err(Box::new(error_page(state, ctx, invalid_return_to(why)))),
    };
    let again = q.prompt.as_deref() == Some("login");
    match signed_in(state, &jar).await {
        Ok(Some(_)) if !again => return Err(Box::new(Redirect::to(&return_to).into_response())),
        Ok(Some(_)) => {}
        Ok(None) => {}
        Err(e) => return Err(Box::new(error_page(state, ctx, e))),
    }
    let (jar, bound) = binding(jar, None);
    let csrf = state.keycard.browser().form_token(&bound, form);
    Ok((ctx, jar, return_to, csrf))
}

/// `GET /login`: the form, or straight back to `return_to` when this browser is signed in.
pub async fn show_login(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Response {
    let hint = q
        .login_hint
        .clone()
        .filter(|h| h.len() <= 320 && h.contains('@'))
        .unwrap_or_default();
    let (ctx, jar, return_to, csrf) = match opening(&state, ctx, q, jar, "login").await {
        Ok(opened) => opened,
        Err(answer) => return *answer,
    };
    let page = login_page(&state, &ctx, &csrf, &return_to, &hint, None).await;
    (jar, page).into_response()
}

pub(super) async fn login_page(
    state: &AppState,
    ctx: &PageCtx,
    csrf: &str,
    return_to: &str,
    email: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let answer_origin = answer_origin(state, return_to).await;
    let providers = provider_links(state, ctx, return_to);
    let other_href = format!("/register?return_to={}", encode(return_to));
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    render_with(
        status,
        &LoginPage {
            ctx,
            csrf,
            return_to,
            email,
            error: error.map(|(_, m)| m),
            providers: &providers,
            other_href: &other_href,
            passkeys: state.keycard.passkeys_on_pages(),
        },
        &ctx.nonce,
        None,
        answer_origin.as_deref(),
    )
}

/// What every form POST checks first: same origin, a well-formed form, a token bound to this
/// browser, an allowed `return_to`. Returns the page context (in the form's language), the form
/// and the destination.
pub(super) fn checked_form(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
    purpose: &str,
    bound_to: Option<&str>,
) -> Result<(PageCtx, SignInForm, String), Box<Response>> {
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
    let binding = bound_to
        .map(str::to_owned)
        .or_else(|| jar.get(BROWSER_COOKIE).map(|c| c.value().to_owned()))
        .unwrap_or_default();
    let token = form.csrf.as_deref().unwrap_or_default();
    if !same_origin(headers, &state.config)
        || !state
            .keycard
            .browser()
            .form_token_holds(&binding, purpose, token)
    {
        tracing::info!(form = purpose, "form refused: foreign origin or bad token");
        return Err(Box::new(error_page(
            state,
            ctx,
            ApiError::CsrfRejected("form from another site or without its token"),
        )));
    }
    match browser::return_to(form.return_to.as_deref(), &state.config) {
        Ok(r) => Ok((ctx, form, r)),
        Err(why) => Err(Box::new(error_page(state, ctx, invalid_return_to(why)))),
    }
}

/// Sets the browser session's cookies and goes to `return_to`.
pub(super) fn signed_in_response(
    state: &AppState,
    jar: CookieJar,
    s: BrowserSignedIn,
    return_to: &str,
) -> Response {
    let lifetime = state.keycard.policy().browser_absolute_lifetime;
    let jar = jar
        .add(browser::session_cookie(s.session_secret, lifetime))
        .add(refresh_cookie(
            s.tokens.refresh_token.expose().to_owned(),
            s.tokens.refresh_expires_in,
        ));
    (jar, Redirect::to(return_to)).into_response()
}

pub(super) fn with_retry_after(mut resp: Response, e: &Error) -> Response {
    if let Error::Throttled {
        retry_after_secs, ..
    }
    | Error::Overloaded { retry_after_secs } = e
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    resp
}

/// `POST /login`.
pub async fn submit_login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, form, return_to) = match checked_form(&state, &headers, &jar, form, "login", None) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let email = form.email.as_deref().unwrap_or_default();
    let password = form.password.as_deref().unwrap_or_default();
    match state
        .keycard
        .browser()
        .login(email, password, &client)
        .await
    {
        Ok(BrowserLogin::SignedIn(s)) => signed_in_response(&state, jar, s, &return_to),
        Ok(BrowserLogin::SecondFactor(m)) => {
            let jar = jar.add(browser::mfa_cookie(
                m.challenge_id,
                time::Duration::seconds(m.expires_in),
            ));
            let next = format!(
                "/login/second-step?return_to={}&ui_locales={}",
                encode(&return_to),
                ctx.m.lang
            );
            (jar, Redirect::to(&next)).into_response()
        }
        Err(e) => {
            let message = match &e {
                Error::InvalidCredentials
                    if state.keycard.policy().signup_disclosure
                        == keycard_core::config::SignupDisclosure::Hidden =>
                {
                    (StatusCode::UNAUTHORIZED, ctx.t("login.failed_hidden"))
                }
                Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, ctx.t("login.failed")),
                Error::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, ctx.t("login.locked")),
                Error::AccountDisabled => (StatusCode::FORBIDDEN, ctx.t("login.disabled")),
                Error::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, ctx.t("login.busy")),
                _ => return error_page(&state, ctx, e),
            };
            let csrf = form.csrf.unwrap_or_default();
            let page = login_page(&state, &ctx, &csrf, &return_to, email, Some(message)).await;
            with_retry_after(page, &e)
        }
    }
}

/// `GET /register`.
pub async fn show_register(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Response {
    let (ctx, jar, return_to, csrf) = match opening(&state, ctx, q, jar, "register").await {
        Ok(opened) => opened,
        Err(answer) => return *answer,
    };
    let page = register_page(&state, &ctx, &csrf, &return_to, "", "", None).await;
    (jar, page).into_response()
}

async fn register_page(
    state: &AppState,
    ctx: &PageCtx,
    csrf: &str,
    return_to: &str,
    email: &str,
    name: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let answer_origin = answer_origin(state, return_to).await;
    let providers = provider_links(state, ctx, return_to);
    let other_href = format!("/login?return_to={}", encode(return_to));
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    render_with(
        status,
        &RegisterPage {
            ctx,
            csrf,
            return_to,
            email,
            name,
            error: error.map(|(_, m)| m),
            providers: &providers,
            other_href: &other_href,
        },
        &ctx.nonce,
        None,
        answer_origin.as_deref(),
    )
}

/// `POST /register`.
pub async fn submit_register(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, form, return_to) = match checked_form(&state, &headers, &jar, form, "register", None)
    {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let email = form.email.as_deref().unwrap_or_default();
    let password = form.password.as_deref().unwrap_or_default();
    let name = form.name.as_deref().filter(|n| !n.trim().is_empty());
    // The mail goes out in the language of the page the person signed up on.
    let mut client = client;
    client.locale = Some(ctx.m.lang.to_owned());
    let hidden =
        state.keycard.policy().signup_disclosure == keycard_core::config::SignupDisclosure::Hidden;
    let outcome = if hidden {
        state
            .keycard
            .hidden_sign_up()
            .register(email, password, name, &client)
            .await
            .map(|()| None)
    } else {
        state
            .keycard
            .browser()
            .register(email, password, name, &client)
            .await
            .map(Some)
    };
    match outcome {
        Ok(Some(s)) => signed_in_response(&state, jar, s, &return_to),
        // The same page for a new address and a taken one: the inbox says which it was.
        Ok(None) => super::verify::notice_linking(
            &ctx,
            StatusCode::ACCEPTED,
            "signup-sent",
            (
                ctx.t("register.sent_heading"),
                ctx.t1("register.sent_text", "email", email.trim()),
            ),
            (
                &format!("/login?return_to={}", encode(&return_to)),
                ctx.t("forgot.back"),
            ),
        ),
        Err(e) => {
            let message = match &e {
                Error::Invalid { code, .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ctx.t(&format!("field.{code}")),
                ),
                Error::EmailTaken => (StatusCode::CONFLICT, ctx.t("register.email_taken")),
                Error::Throttled { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    ctx.t("register.rate_limited"),
                ),
                Error::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, ctx.t("login.busy")),
                _ => return error_page(&state, ctx, e),
            };
            let csrf = form.csrf.unwrap_or_default();
            let page = register_page(
                &state,
                &ctx,
                &csrf,
                &return_to,
                email,
                form.name.as_deref().unwrap_or_default(),
                Some(message),
            )
            .await;
            with_retry_after(page, &e)
        }
    }
}
