//! Keycard's HTTP layer: every route, the problem+json error mapping, CSRF for cookie clients,
//! security headers, request ids, metrics and the OpenAPI document. No SQL and no hashing here:
//! handlers extract, call one `Keycard` method, and map the result.

#![forbid(unsafe_code)]

pub mod browser;
mod cors;
pub mod csrf;
pub mod dto;
pub mod error;
pub mod extract;
pub mod oauth;
mod openapi;
pub mod pages;
pub mod routes;
mod state;
mod telemetry;

pub use state::{AppState, Brand, HttpConfig};
pub use telemetry::metrics_handle;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use error::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Request bodies are small JSON documents; anything bigger is refused before it is read.
const BODY_LIMIT: usize = 64 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The OpenAPI document of every route, as served at /openapi.json.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_routes().split_for_parts().1;
    openapi::complete(&mut doc);
    doc
}

fn api_routes() -> OpenApiRouter<AppState> {
    use routes::{
        admin, apps, auth, email_change, identities, me, mfa, ops, passkeys, password, sessions,
        social, verification,
    };
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(verification::verify_email))
        .routes(routes!(verification::resend))
        .routes(routes!(password::forgot))
        .routes(routes!(password::reset))
        .routes(routes!(email_change::request_change))
        .routes(routes!(email_change::confirm))
        .routes(routes!(email_change::undo))
        .routes(routes!(social::list_providers))
        .routes(routes!(social::start))
        .routes(routes!(social::callback, social::callback_post))
        .routes(routes!(social::exchange))
        .routes(routes!(me::get_me, me::update_me))
        .routes(routes!(me::change_password))
        .routes(routes!(me::list_events))
        .routes(routes!(mfa::complete))
        .routes(routes!(mfa::passkey_options))
        .routes(routes!(passkeys::list, passkeys::add))
        .routes(routes!(passkeys::begin_registration))
        .routes(routes!(passkeys::rename, passkeys::remove))
        .routes(routes!(passkeys::begin_sign_in))
        .routes(routes!(passkeys::finish_sign_in))
        .routes(routes!(mfa::start_totp, mfa::remove_totp))
        .routes(routes!(mfa::confirm_totp))
        .routes(routes!(mfa::regenerate_recovery_codes))
        .routes(routes!(identities::list_identities))
        .routes(routes!(identities::link_identity))
        .routes(routes!(identities::unlink_identity))
        .routes(routes!(sessions::list_sessions))
        .routes(routes!(sessions::delete_session))
        .routes(routes!(admin::apps::list_apps, admin::apps::add_app))
        .routes(routes!(
            admin::apps::get_app,
            admin::apps::patch_app,
            admin::apps::remove_app
        ))
        .routes(routes!(admin::apps::rotate_secret))
        .routes(routes!(admin::users::find_users))
        .routes(routes!(admin::users::get_user, admin::users::patch_user))
        .routes(routes!(admin::users::force_password_reset))
        .routes(routes!(admin::events::list_events))
        .routes(routes!(apps::list_apps))
        .routes(routes!(apps::withdraw_app))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::jwks))
        .routes(routes!(ops::metrics))
        .routes(routes!(oauth::discovery::openid_configuration))
        .routes(routes!(oauth::discovery::authorization_server))
        .routes(routes!(oauth::token::token))
        .routes(routes!(oauth::token::userinfo, oauth::token::userinfo_post))
        .routes(routes!(oauth::token::revoke))
        .routes(routes!(oauth::token::introspect))
        .routes(routes!(oauth::device::device_authorization))
        .routes(routes!(pages::device::qr))
}

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    let (api, mut spec) = api_routes().split_for_parts();
    openapi::complete(&mut spec);
    let spec_json: Arc<str> = serde_json::to_string(&spec).unwrap_or_default().into();
    let config = state.config.clone();
    let cors_state = state.clone();

    let mut app = api
        .merge(pages::routes())
        .merge(oauth::routes())
        .route_layer(axum::middleware::from_fn(telemetry::track_request))
        .route(
            "/openapi.json",
            get(move || {
                let body = spec_json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                }
            }),
        )
        .fallback(|| async { ApiError::from(keycard_core::Error::NotFound) })
        .with_state(state)
        // API responses must never render as a page or be framed or cached.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if config.docs_enabled {
        // Swagger UI needs its own scripts and styles: a CSP of its own, set before the strict
        // default above applies (that one only fills in a missing header).
        let docs = Router::from(
            utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ));
        app = app.merge(docs);
    }

    let hsts = config.public_url.starts_with("https://").then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )
    });
    let x_request_id = HeaderName::from_static("x-request-id");
    app.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(
                x_request_id.clone(),
                MakeRequestUuid,
            ))
            .layer(telemetry::trace_layer())
            .layer(PropagateRequestIdLayer::new(x_request_id))
            .layer(CatchPanicLayer::custom(|_| {
                tracing::error!("handler panicked");
                ApiError::from(keycard_core::Error::Internal("handler panicked".into()))
                    .into_response()
            }))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .option_layer(hsts)
            .layer(cors::layer(&cors_state))
            // Outside the timeout and the body limit, so what they answer becomes a problem too.
            .layer(axum::middleware::map_response(error::ensure_problem))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                REQUEST_TIMEOUT,
            ))
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT)),
    )
}
