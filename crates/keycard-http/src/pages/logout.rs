//! Signing out on this browser: a confirmation page (a link alone must not sign anyone out: a
//! GET can be triggered by any site), then the form that ends the browser session.

use super::login::{SignInForm, checked_form, error_page};
use super::{PageCtx, render, signed_in};
use crate::browser::{self, FLOW_COOKIE, SESSION_COOKIE};
use crate::extract::Client;
use crate::routes::auth::REFRESH_COOKIE;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

#[derive(Template)]
#[template(path = "logout.html")]
pub(crate) struct LogoutPage<'a> {
    pub(crate) ctx: &'a PageCtx,
    pub(crate) csrf: &'a str,
    /// Where the form goes, and what it carries besides its token.
    pub(crate) action: &'a str,
    pub(crate) hidden: Vec<(&'static str, String)>,
    pub(crate) cancel_href: &'a str,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    ctx: &'a PageCtx,
}

pub(crate) fn signed_out(ctx: &PageCtx, jar: CookieJar) -> Response {
    let jar = jar
        .add(browser::expired(SESSION_COOKIE))
        .add(browser::expired(REFRESH_COOKIE))
        .add(browser::expired(FLOW_COOKIE));
    (
        jar,
        render(StatusCode::OK, &SignedOutPage { ctx }, &ctx.nonce),
    )
        .into_response()
}

/// `GET /logout`: asks, when someone is signed in here.
pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<super::login::PageQuery>,
    jar: CookieJar,
) -> Response {
    let return_to = browser::return_to(q.return_to.as_deref(), &state.config)
        .unwrap_or_else(|_| format!("{}/", state.config.public_url.trim_end_matches('/')));
    let who = match signed_in(&state, &jar).await {
        Ok(w) => w,
        Err(e) => return error_page(&state, ctx, e),
    };
    let Some(_) = who else {
        return signed_out(&ctx, jar);
    };
    let session = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let csrf = state.keycard.browser().form_token(&session, "logout");
    render(
        StatusCode::OK,
        &LogoutPage {
            ctx: &ctx,
            csrf: &csrf,
            action: "/logout",
            hidden: vec![("return_to", return_to.clone())],
            cancel_href: "/account",
        },
        &ctx.nonce,
    )
}

/// `POST /logout`: ends the browser session and clears its cookies.
pub async fn submit(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let session = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    // Without a session cookie there is nothing to end and nothing a forged form could do.
    let Some(session) = session else {
        let ctx = PageCtx::new(super::i18n::Messages::negotiate(None, None), &state);
        return signed_out(&ctx, jar);
    };
    let (ctx, _form, return_to) =
        match checked_form(&state, &headers, &jar, form, "logout", Some(&session)) {
            Ok(checked) => checked,
            Err(page) => return *page,
        };
    match state.keycard.browser().session(&session).await {
        Ok(Some(who)) => {
            if let Err(e) = state.keycard.browser().logout(&who, &client).await {
                return error_page(&state, ctx, e);
            }
        }
        Ok(None) => {}
        Err(e) => return error_page(&state, ctx, e),
    }
    let home = format!("{}/", state.config.public_url.trim_end_matches('/'));
    if return_to != home {
        let jar = jar
            .add(browser::expired(SESSION_COOKIE))
            .add(browser::expired(REFRESH_COOKIE));
        return (jar, Redirect::to(&return_to)).into_response();
    }
    signed_out(&ctx, jar)
}
