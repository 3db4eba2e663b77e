//! The pages' stylesheet and logo, served by Keycard itself (the pages load nothing from any
//! other origin).

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../assets/keycard.css");
const LOGO: &[u8] = include_bytes!("../../assets/logo.svg");
const PASSKEYS_JS: &str = include_str!("../../assets/passkeys.js");
/// The assets change with a release only; an hour keeps a deploy visible soon enough.
const CACHE: &str = "public, max-age=3600";

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
        .into_response()
}

pub async fn passkeys_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        PASSKEYS_JS,
    )
        .into_response()
}

pub async fn logo(State(state): State<AppState>) -> Response {
    match &state.config.brand.logo {
        Some(logo) => (
            [
                (header::CONTENT_TYPE, logo.1),
                (header::CACHE_CONTROL, CACHE),
            ],
            logo.0.clone(),
        )
            .into_response(),
        None => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, CACHE),
            ],
            LOGO,
        )
            .into_response(),
    }
}
