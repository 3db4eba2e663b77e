//! Hosted pages: server-rendered HTML (askama, escaped by default) in the visitor's language,
//! each response with a Content-Security-Policy carrying a fresh nonce, so no inline script or
//! style runs unless Keycard wrote it for this very response. Password sign-in works without
//! JavaScript; nothing is loaded from another origin.

mod account;
mod assets;
pub(crate) mod device;
pub(crate) mod email_change;
mod error;
mod forms;
pub mod i18n;
pub(crate) mod login;
pub(crate) mod logout;
mod passkeys;
pub(crate) mod reset;
mod second_step;
mod two_step;
pub(crate) mod verify;

pub use error::{ErrorPage, wants_page};
pub use forms::same_origin;

use crate::browser::{BROWSER_COOKIE, SESSION_COOKIE};
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use i18n::Messages;
use keycard_core::service::Principal;

/// The pages and their assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(account::home))
        .route("/login", get(login::show_login).post(login::submit_login))
        .route(
            "/login/second-step",
            get(second_step::show).post(second_step::submit),
        )
        .route(
            "/register",
            get(login::show_register).post(login::submit_register),
        )
        .route("/logout", get(logout::show).post(logout::submit))
        .route("/account", get(account::show))
        .route(
            "/account/two-step/setup",
            axum::routing::post(two_step::setup),
        )
        .route(
            "/account/two-step/confirm",
            axum::routing::post(two_step::confirm),
        )
        .route(
            "/account/two-step/recovery-codes",
            axum::routing::post(two_step::new_codes),
        )
        .route(
            "/account/two-step/remove",
            axum::routing::post(two_step::remove),
        )
        .route(
            "/account/link/{provider}",
            axum::routing::post(account::link),
        )
        .route("/account/unlink/{id}", axum::routing::post(account::unlink))
        .route(
            "/account/verify-email",
            axum::routing::post(account::resend_verification),
        )
        .route(
            "/account/sessions/end-all",
            axum::routing::post(account::end_all),
        )
        .route(
            "/account/sessions/{id}/end",
            axum::routing::post(account::end_session),
        )
        .route(
            "/account/apps/{id}/withdraw",
            axum::routing::post(account::withdraw_app),
        )
        .route("/device", get(device::show).post(device::submit))
        .route("/verify-email", get(verify::show).post(verify::submit))
        .route(
            "/password/forgot",
            get(reset::show_forgot).post(reset::submit_forgot),
        )
        .route("/password/reset", get(reset::show).post(reset::submit))
        .route("/account/email", axum::routing::post(email_change::request))
        .route(
            "/email/undo",
            get(email_change::show_undo).post(email_change::submit_undo),
        )
        .route("/device/decide", axum::routing::post(device::decide))
        .route("/assets/keycard.css", get(assets::css))
        .route("/assets/logo", get(assets::logo))
        .route("/assets/passkeys.js", get(assets::passkeys_js))
        .route("/login/passkey", axum::routing::post(passkeys::sign_in))
        .route(
            "/account/passkeys/begin",
            axum::routing::post(passkeys::begin),
        )
        .route("/account/passkeys", axum::routing::post(passkeys::add))
        .route(
            "/account/passkeys/{id}/remove",
            axum::routing::post(passkeys::remove),
        )
}

/// A fresh CSP nonce: 128 random bits, base64url.
pub fn nonce() -> String {
    keycard_core::tokens::random_secret("")
        .map(|s| s[..22].to_owned())
        // Without randomness no nonce can be trusted: an empty one allows nothing inline.
        .unwrap_or_default()
}

/// What every page needs: the visitor's language, this response's nonce, the brand.
pub struct PageCtx {
    pub m: Messages,
    pub nonce: String,
    pub brand_name: String,
    pub brand_color: String,
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ui_locales = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "ui_locales")
                .map(|(_, v)| v.replace('+', " ").replace("%20", " "))
        });
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(Self::new(
            Messages::negotiate(ui_locales.as_deref(), accept),
            state,
        ))
    }
}

impl PageCtx {
    pub fn new(m: Messages, state: &AppState) -> Self {
        Self {
            m,
            nonce: nonce(),
            brand_name: state.config.brand.name.clone(),
            brand_color: state.config.brand.color.clone(),
        }
    }

    /// A message with no placeholder but the brand.
    pub fn t(&self, key: &str) -> String {
        self.m.t(key, &[("brand", &self.brand_name)])
    }

    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        self.m.t(key, &[("brand", &self.brand_name), (name, value)])
    }
}

/// Renders a page with its status and the page security headers.
pub fn render(status: StatusCode, page: &impl Template, nonce: &str) -> Response {
    render_with(status, page, nonce, None, None)
}

/// Like [`render`], also allowing images from `img_origin` (an app's logo on its consent page)
/// and a form whose answer redirects to `form_origin` (browsers hold a form's redirects to
/// `form-action` too).
pub fn render_with(
    status: StatusCode,
    page: &impl Template,
    nonce: &str,
    img_origin: Option<&str>,
    form_origin: Option<&str>,
) -> Response {
    let html = match page.render() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "page template failed to render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>"),
            )
                .into_response();
        }
    };
    let mut resp = (status, Html(html)).into_response();
    let csp = format!(
        "default-src 'none'; style-src 'self' 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self'{}; form-action 'self'{}; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'",
        img_origin.map(|o| format!(" {o}")).unwrap_or_default(),
        form_origin.map(|o| format!(" {o}")).unwrap_or_default()
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    // Not the API's `no-referrer`: under it browsers send `Origin: null` with every form POST,
    // and the forms' origin check needs the real one. Nothing is sent to other sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// For a page whose address carries a secret (a mailed link's token): what it loads (styles,
/// the logo) tells only the origin it came from, never the token, to whatever logs requests on
/// the way; its form's `Origin` header stays, for the origin check.
pub(crate) fn origin_only_referrer(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin"),
    );
    resp
}

/// The person signed in in this browser, if any (an ended or unknown session is nobody).
pub async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<Principal>, crate::error::ApiError> {
    match jar.get(SESSION_COOKIE) {
        Some(c) => Ok(state.keycard.browser().session(c.value()).await?),
        None => Ok(None),
    }
}

/// What binds a form to this browser: the session cookie when signed in, else the browser's own
/// random cookie (set here when missing).
pub fn binding(jar: CookieJar, who: Option<&Principal>) -> (CookieJar, String) {
    if who.is_some()
        && let Some(c) = jar.get(SESSION_COOKIE)
    {
        let v = c.value().to_owned();
        return (jar, v);
    }
    if let Some(c) = jar.get(BROWSER_COOKIE).filter(|c| !c.value().is_empty()) {
        let v = c.value().to_owned();
        return (jar, v);
    }
    let fresh = keycard_core::tokens::random_secret("kcbr_").unwrap_or_default();
    let jar = jar.add(crate::browser::browser_cookie(fresh.clone()));
    (jar, fresh)
}
