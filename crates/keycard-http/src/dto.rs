//! The API's JSON shapes, separate from domain types so the wire format changes only on purpose.

use keycard_core::accounts::User;
use keycard_core::audit::AuditEvent;
use keycard_core::sessions::Session;
use keycard_core::social::Identity;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where the refresh token goes: in the JSON body (native and server apps) or in a `__Host-`
/// HttpOnly cookie (browser apps, where script must never read it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenDelivery {
    #[default]
    Body,
    Cookie,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// At least 8 characters (the deployment may ask for more) and at most 1024 bytes; no
    /// composition rules, but not a common password and not containing the email's local part.
    #[schema(example = "correct horse battery staple", format = Password, min_length = 8, max_length = 1024)]
    pub password: String,
    pub name: Option<String>,
    #[serde(default)]
    pub token_delivery: TokenDelivery,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
    #[serde(default)]
    pub token_delivery: TokenDelivery,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Omit when the refresh token is in the cookie.
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub token_delivery: Option<TokenDelivery>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Ends this token's session when no bearer token is sent.
    pub refresh_token: Option<String>,
}

/// Distinguishes an absent member (leave as is) from `null` (clear).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    /// `null` or blank clears the name; absent leaves it. No control characters; trimmed.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub name: Option<Option<String>>,
    /// An absolute https URL (no whitespace, control characters, `"`, `<`, `>` or `\`); `null`
    /// clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r#"^https://[^\s"<>\\\u0000-\u001F\u007F-\u009F]+$"#)]
    pub picture_url: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(format = Password)]
    pub current_password: String,
    /// The same rules as at sign-up.
    #[schema(format = Password, min_length = 8, max_length = 1024)]
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    /// `null` for an account made through a provider that shares no address (X).
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The providers linked to the account (see `/v1/me/identities`).
    pub identities: Vec<IdentityView>,
    /// The account's second factors (in `GET /v1/me` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<crate::routes::mfa::MfaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    pub id: Uuid,
    /// `google`, `oidc`…
    pub provider: String,
    /// What the provider said at the last sign-in.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
}

impl From<&Identity> for IdentityView {
    fn from(i: &Identity) -> Self {
        Self {
            id: i.id.0,
            provider: i.provider.clone(),
            email: i.email.clone(),
            email_verified: i.email_verified,
            name: i.name.clone(),
            picture_url: i.picture_url.clone(),
            linked_at: i.linked_at,
            last_used_at: i.last_used_at,
        }
    }
}

impl UserResponse {
    pub fn new(u: User, identities: &[Identity]) -> Self {
        Self {
            id: u.id.0,
            email: u.email.map(|e| e.to_string()),
            email_verified: u.email_verified,
            name: u.name,
            picture_url: u.picture_url,
            created_at: u.created_at,
            identities: identities.iter().map(Into::into).collect(),
            mfa: None,
        }
    }
}

/// Tokens after sign-up, login or refresh. `refresh_token` is absent in cookie delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the refresh token expires if unused.
    pub refresh_expires_in: i64,
    pub session_id: Uuid,
    /// Present after sign-up and login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub id: Uuid,
    /// `api`, `browser` or `grant`.
    pub kind: &'static str,
    /// The app a grant belongs to: its id and name.
    pub client_id: Option<String>,
    pub app: Option<String>,
    /// How the person signed in (`pwd`, or the provider's id).
    pub amr: Vec<String>,
    /// e.g. "Firefox on Linux".
    pub device: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    /// When the session ends at the latest, activity or not.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// True for the session of the token making this call.
    pub current: bool,
}

impl SessionResponse {
    pub fn new(s: Session, current: bool) -> Self {
        Self {
            id: s.id.0,
            kind: s.kind.as_str(),
            client_id: s.client_id,
            app: None,
            amr: s.amr,
            device: s.device,
            ip: s.ip,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            current,
        }
    }
}

/// An app the person allowed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppAccessResponse {
    pub client_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppAccessList {
    pub apps: Vec<AppAccessResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: Uuid,
    /// e.g. `login_succeeded`, `refresh_token_reuse_detected`.
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<AuditEvent> for EventResponse {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.0,
            kind: e.kind.as_str(),
            at: e.at,
            session_id: e.session_id.map(|s| s.0),
            ip: e.ip,
            user_agent: e.user_agent,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventResponse>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// At most this many events (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    pub session_cache: SessionCacheStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCacheStatus {
    /// `active`: session checks may be answered from memory; `paused`: changes made by other
    /// instances cannot be heard right now, so every check reads the database (still ready);
    /// `disabled`: turned off by configuration.
    #[schema(example = "active")]
    pub state: &'static str,
    /// Sessions remembered right now.
    #[schema(example = 120)]
    pub entries: usize,
}
