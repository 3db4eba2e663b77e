//! `/verify-email?token=…`: where the verification mail's link lands. Opening the link does not
//! spend it — mail scanners and link previews open links too — the page asks for one press of a
//! button, which posts the token back.

use super::login::error_page;
use super::{PageCtx, i18n::Messages, render, same_origin};
use crate::error::ApiError;
use crate::extract::Client;
use crate::oauth::no_store;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use keycard_core::Error;
use serde::Deserialize;

/// Form tokens of this page are bound to the link's token (there may be no session).
const PURPOSE: &str = "verify-email";

#[derive(Template)]
#[template(path = "verify_email.html")]
struct ConfirmPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    ctx: &'a PageCtx,
    id: &'a str,
    heading: String,
    text: String,
    link: Option<(&'a str, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    csrf: Option<String>,
    lang: Option<String>,
    token: Option<String>,
}

/// `GET /verify-email?token=…`.
pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<TokenQuery>,
) -> Response {
    let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() <= 100) else {
        return super::origin_only_referrer(error_page(&state, ctx, Error::InvalidVerification));
    };
    let csrf = state.keycard.browser().form_token(&token, PURPOSE);
    super::origin_only_referrer(no_store(render(
        StatusCode::OK,
        &ConfirmPage {
            ctx: &ctx,
            csrf: &csrf,
            token: &token,
        },
        &ctx.nonce,
    )))
}

/// `POST /verify-email`.
pub async fn submit(
    State(state): State<AppState>,
    Client(by): Client,
    headers: HeaderMap,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let (ctx, form) = match link_form(&state, &headers, form, PURPOSE) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    match state.keycard.verification().verify(form.token(), &by).await {
        Ok(_) => notice(
            &ctx,
            StatusCode::OK,
            "email-verified",
            ctx.t("verify.done_heading"),
            ctx.t("verify.done_text"),
        ),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// The fields every page a mailed link opens posts back.
pub(super) trait LinkForm {
    fn lang(&self) -> Option<&str>;
    /// The link's token, which the form token is bound to.
    fn token(&self) -> &str;
    fn csrf(&self) -> &str;
}

impl LinkForm for VerifyForm {
    fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }
    fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }
    fn csrf(&self) -> &str {
        self.csrf.as_deref().unwrap_or_default()
    }
}

/// What a mailed link's page posts, checked: a well-formed form, from Keycard's own origin,
/// with a form token bound to the link's token for `purpose`. Gives the page context in the
/// form's language, and the form; the page to answer instead as `Err`.
pub(super) fn link_form<T: LinkForm>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    purpose: &str,
) -> Result<(PageCtx, T), Box<Response>> {
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
    let ctx = PageCtx::new(Messages::negotiate(form.lang(), accept), state);
    if !same_origin(headers, &state.config)
        || !state
            .keycard
            .browser()
            .form_token_holds(form.token(), purpose, form.csrf())
    {
        return Err(Box::new(error_page(
            state,
            ctx,
            ApiError::CsrfRejected("a form of a mailed link's page"),
        )));
    }
    Ok((ctx, form))
}

/// A short page that says what happened, with the way back to the account page.
pub(super) fn notice(
    ctx: &PageCtx,
    status: StatusCode,
    id: &str,
    heading: String,
    text: String,
) -> Response {
    let link = ("/account", ctx.t("verify.to_account"));
    notice_linking(ctx, status, id, (heading, text), link)
}

/// A notice whose way on is `link` (where, and its label).
pub(super) fn notice_linking(
    ctx: &PageCtx,
    status: StatusCode,
    id: &str,
    (heading, text): (String, String),
    link: (&str, String),
) -> Response {
    no_store(render(
        status,
        &NoticePage {
            ctx,
            id,
            heading,
            text,
            link: Some(link),
        },
        &ctx.nonce,
    ))
}
