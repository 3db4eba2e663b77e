//! The signed-in page: who you are, how you sign in (and linking another provider), and where
//! you are signed in.

use super::login::{SignInForm, checked_form, error_page};
use super::{PageCtx, render, signed_in};
use crate::browser::{self, FLOW_COOKIE, SESSION_COOKIE};
use crate::extract::Client;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use keycard_core::service::Principal;
use keycard_core::social::Identity;
use time::format_description::well_known::Rfc3339;

pub struct SessionLine {
    pub id: String,
    pub device: String,
    /// The app of a grant, else the kind of session.
    pub what: String,
    pub last_used: String,
    pub current: bool,
}

pub struct AppLine {
    pub id: String,
    pub name: String,
    pub granted: String,
}

/// One line of the account's recent activity.
pub struct EventLine {
    pub what: String,
    pub when: String,
    /// The device and network it came from, when known.
    pub from: String,
}

/// How many events the account page lists.
const EVENTS_SHOWN: u32 = 20;

/// One passkey on the account page.
pub struct PasskeyLine {
    pub id: String,
    pub name: String,
    pub created: String,
    /// Empty when never used.
    pub last_used: String,
    pub synced: bool,
}

pub struct Linkable {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    ctx: &'a PageCtx,
    csrf: &'a str,
    name: Option<&'a str>,
    email: &'a str,
    email_verified: bool,
    identities: &'a [Identity],
    linkable: &'a [Linkable],
    sessions: &'a [SessionLine],
    apps: &'a [AppLine],
    events: &'a [EventLine],
    /// When two-step verification was turned on; `None` while it is off.
    two_step_since: Option<String>,
    recovery_codes_left: String,
    passkeys_on: bool,
    /// This page can run the ceremony that adds one (its origin is one passkeys allow).
    passkeys_add: bool,
    passkeys: &'a [PasskeyLine],
}

/// `GET /`: the account page (which sends a stranger to sign in).
pub async fn home() -> Redirect {
    Redirect::to("/account")
}

/// `GET /account`.
pub async fn show(State(state): State<AppState>, ctx: PageCtx, jar: CookieJar) -> Response {
    let who = match signed_in(&state, &jar).await {
        Ok(Some(who)) => who,
        Ok(None) => return Redirect::to("/login?return_to=%2Faccount").into_response(),
        Err(e) => return error_page(&state, ctx, e),
    };
    let social = state.keycard.social();
    let identities = match social.identities_of(who.user_id).await {
        Ok(i) => i,
        Err(e) => return error_page(&state, ctx, e),
    };
    let sessions = match state.keycard.list_sessions(&who).await {
        Ok(s) => s,
        Err(e) => return error_page(&state, ctx, e),
    };
    let provider = state.keycard.provider();
    let apps = match provider.apps_of(&who).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, ctx, e),
    };
    let names: std::collections::HashMap<String, String> =
        match state.keycard.clients().list().await {
            Ok(list) => list.into_iter().map(|c| (c.id, c.name)).collect(),
            Err(e) => return error_page(&state, ctx, e),
        };
    let sessions: Vec<SessionLine> = sessions
        .into_iter()
        .map(|s| SessionLine {
            id: s.id.to_string(),
            current: s.id == who.session_id,
            what: s
                .client_id
                .as_ref()
                .map(|c| names.get(c).cloned().unwrap_or_else(|| c.clone()))
                .unwrap_or_else(|| s.kind.as_str().to_owned()),
            device: s.device,
            last_used: s.last_used_at.format(&Rfc3339).unwrap_or_default(),
        })
        .collect();
    let apps: Vec<AppLine> = apps
        .into_iter()
        .map(|a| AppLine {
            id: a.client_id,
            name: a.name,
            granted: a.granted_at.format(&Rfc3339).unwrap_or_default(),
        })
        .collect();
    let events = match state.keycard.recent_events(&who, EVENTS_SHOWN).await {
        Ok(e) => e,
        Err(e) => return error_page(&state, ctx, e),
    };
    let events = event_lines(&ctx, events);
    let mfa = match state.keycard.mfa().status(&who).await {
        Ok(m) => m,
        Err(e) => return error_page(&state, ctx, e),
    };
    let passkeys_on = state.keycard.passkeys_enabled();
    let passkeys: Vec<PasskeyLine> = if passkeys_on {
        match state.keycard.passkeys().list(&who).await {
            Ok(list) => list
                .into_iter()
                .map(|p| PasskeyLine {
                    id: p.id.to_string(),
                    name: p.name,
                    created: p.created_at.format(&Rfc3339).unwrap_or_default(),
                    last_used: p
                        .last_used_at
                        .and_then(|t| t.format(&Rfc3339).ok())
                        .unwrap_or_default(),
                    synced: p.synced,
                })
                .collect(),
            Err(e) => return error_page(&state, ctx, e),
        }
    } else {
        Vec::new()
    };
    let providers = social.providers();
    let linked: Vec<String> = identities.iter().map(|i| i.provider.clone()).collect();
    // Shown by the provider's name ("GitHub"), not its id; one no longer enabled keeps its id.
    let identities: Vec<Identity> = identities
        .into_iter()
        .map(|mut i| {
            if let Some(p) = providers.iter().find(|p| p.id == i.provider) {
                i.provider = p.name.clone();
            }
            i
        })
        .collect();
    let linkable: Vec<Linkable> = providers
        .into_iter()
        .filter(|p| !linked.contains(&p.id))
        .map(|p| Linkable {
            label: ctx.t1("account.link", "provider", &p.name),
            id: p.id,
        })
        .collect();
    let session = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let csrf = state.keycard.browser().form_token(&session, "account");
    render(
        StatusCode::OK,
        &AccountPage {
            ctx: &ctx,
            csrf: &csrf,
            name: who.user.name.as_deref(),
            email: who.user.email.as_ref().map_or("", |e| e.as_str()),
            email_verified: who.user.email_verified,
            identities: &identities,
            linkable: &linkable,
            sessions: &sessions,
            apps: &apps,
            events: &events,
            two_step_since: mfa.totp.map(|t| t.format(&Rfc3339).unwrap_or_default()),
            recovery_codes_left: mfa.recovery_codes_left.to_string(),
            passkeys_on,
            passkeys_add: state.keycard.passkeys_on_pages(),
            passkeys: &passkeys,
        },
        &ctx.nonce,
    )
}

/// The events a person reads about their account, in their language (the kind itself when the
/// catalogue has no words for it).
fn event_lines(ctx: &PageCtx, events: Vec<keycard_core::audit::AuditEvent>) -> Vec<EventLine> {
    use keycard_core::audit::AuditKind;
    events
        .into_iter()
        .filter(|e| {
            !matches!(
                e.kind,
                AuditKind::TokenRefreshed | AuditKind::PasswordRehashed
            )
        })
        .map(|e| {
            let key = format!("account.event.{}", e.kind.as_str());
            let what = if ctx.m.has(&key) {
                ctx.t(&key)
            } else {
                e.kind.as_str().to_owned()
            };
            let device = e
                .user_agent
                .is_some()
                .then(|| keycard_core::sessions::device_label(e.user_agent.as_deref()));
            let from = [device, e.ip]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            EventLine {
                what,
                when: e.at.format(&Rfc3339).unwrap_or_default(),
                from,
            }
        })
        .collect()
}

/// What the account page's forms check first: their token (bound to the session cookie) and
/// origin, then that the browser is still signed in. The answer to give instead as `Err`.
pub(super) async fn account_form(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<(PageCtx, Principal, SignInForm), Box<Response>> {
    let session = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let (ctx, form, _) = checked_form(state, headers, jar, form, "account", Some(&session))?;
    match signed_in(state, jar).await {
        Ok(Some(who)) => Ok((ctx, who, form)),
        Ok(None) => Err(Box::new(
            Redirect::to("/login?return_to=%2Faccount").into_response(),
        )),
        Err(e) => Err(Box::new(error_page(state, ctx, e))),
    }
}

/// `POST /account/link/{provider}`: starts linking another provider to this account.
pub async fn link(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    let public = state.config.public_url.trim_end_matches('/');
    let bound = jar.get(FLOW_COOKIE).map(|c| c.value().to_owned());
    match state
        .keycard
        .social()
        .start_link(
            &who,
            &provider,
            &format!("{public}/account"),
            bound.as_deref(),
            &client,
        )
        .await
    {
        Ok(s) => (
            jar.add(browser::flow_cookie(
                s.flow_cookie,
                state.keycard.policy().social_flow_ttl,
            )),
            Redirect::to(&s.location),
        )
            .into_response(),
        Err(e @ keycard_core::Error::ReauthenticationRequired) => {
            super::two_step::refused_in(&ctx, ctx.t("account.identities"), &e)
        }
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/unlink/{id}`: removes a sign-in method, unless it is the last one.
pub async fn unlink(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return error_page(&state, ctx, keycard_core::Error::NotFound);
    };
    match state
        .keycard
        .social()
        .unlink(&who, keycard_core::ids::IdentityId(id), &client)
        .await
    {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/sessions/{id}/end`: ends one session (a device, an app's grant) from the
/// list; the apps it reached hear of it by back-channel logout.
pub async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    let Ok(id) = id.parse::<keycard_core::ids::SessionId>() else {
        return error_page(&state, ctx, keycard_core::Error::NotFound);
    };
    match state.keycard.revoke_session(&who, id, &client).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/apps/{id}/withdraw`: takes back an app's access.
pub async fn withdraw_app(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    match state.keycard.provider().withdraw(&who, &id, &client).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/sessions/end-all`: signs out everywhere, this browser included.
pub async fn end_all(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    match state.keycard.logout_all(&who, &client).await {
        Ok(_) => super::logout::signed_out(&ctx, jar),
        Err(e) => error_page(&state, ctx, e),
    }
}

/// `POST /account/verify-email`: a new verification link, at most once a minute.
pub async fn resend_verification(
    State(state): State<AppState>,
    Client(mut client): Client,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (ctx, who, _) = match account_form(&state, &headers, &jar, form).await {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    let email = who
        .user
        .email
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default();
    client.locale = Some(ctx.m.lang.to_owned());
    match state.keycard.verification().resend(&who, &client).await {
        Ok(()) => super::verify::notice(
            &ctx,
            StatusCode::OK,
            "verification-sent",
            ctx.t("verify.sent_heading"),
            ctx.t1("verify.sent_text", "email", &email),
        ),
        Err(keycard_core::Error::Throttled {
            retry_after_secs, ..
        }) => {
            let mut page = super::verify::notice(
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                "verification-too-soon",
                ctx.t("verify.sent_heading"),
                ctx.t1("verify.too_soon", "email", &email),
            );
            page.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
            page
        }
        Err(e) => error_page(&state, ctx, e),
    }
}
