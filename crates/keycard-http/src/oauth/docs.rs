//! The shapes of the provider's JSON endpoints, for the OpenAPI document only: the handlers
//! read forms and write JSON by the RFCs, field by field.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// A token request (RFC 6749 §4.1.3, §6, §4.4), as `application/x-www-form-urlencoded`.
/// Confidential clients authenticate with HTTP Basic (`client_secret_basic`) or
/// `client_id` + `client_secret` here (`client_secret_post`), never both; public clients send
/// `client_id` alone.
#[derive(Serialize, ToSchema)]
pub struct TokenForm {
    /// `authorization_code`, `refresh_token`, `client_credentials` or
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    pub grant_type: String,
    pub code: Option<String>,
    /// Exactly as in the authorization request.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (RFC 7636), when the request had a challenge.
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    /// The device grant's code.
    pub device_code: Option<String>,
    /// To narrow a refresh, or choose a service's scopes.
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A token answer (RFC 6749 §5.1). Never cached.
#[derive(Serialize, ToSchema)]
pub struct TokenAnswer {
    /// An RFC 9068 JWT (`typ: at+jwt`) whose audience is the app.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    /// Opaque, rotating; for apps allowed the refresh grant.
    pub refresh_token: Option<String>,
    /// For `openid` requests: signed with the app's registered algorithm (RS256 by default).
    pub id_token: Option<String>,
}

/// A device authorization request (RFC 8628 §3.1), with the client authentication of the token
/// endpoint (a public app sends its `client_id`).
#[derive(Serialize, ToSchema)]
pub struct DeviceForm {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Default: the app's scopes but `offline_access`.
    pub scope: Option<String>,
}

/// What the device shows and polls with (RFC 8628 §3.2).
#[derive(Serialize, ToSchema)]
pub struct DeviceAnswer {
    /// The device's secret for polling; never shown.
    pub device_code: String,
    /// Eight letters without vowels, as `BCDF-GHJK`.
    pub user_code: String,
    /// `/device` on Keycard.
    pub verification_uri: String,
    /// `/device?user_code=…`: what the QR code holds.
    pub verification_uri_complete: String,
    /// An SVG QR code of `verification_uri_complete`, for a device that shows images.
    pub qr_code_uri: String,
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}

/// A protocol error (RFC 6749 §5.2).
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type` or `invalid_scope`.
    pub error: String,
    pub error_description: String,
}

/// A token to revoke or introspect, as `application/x-www-form-urlencoded`, with the caller's
/// client authentication as at the token endpoint.
#[derive(Serialize, ToSchema)]
pub struct TokenForm2 {
    pub token: String,
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// What introspection says of a token (RFC 7662 §2.2); only `active` when it is not.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<String>,
    pub iss: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub jti: Option<String>,
    /// The sign-in the token's grant came from.
    pub sid: Option<String>,
    pub auth_time: Option<i64>,
    pub token_type: Option<String>,
}

/// The person, as far as the token's scopes allow (OpenID Connect Core §5.3).
#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    /// The same for every app (public subject type).
    pub sub: String,
    /// With `profile`.
    pub name: Option<String>,
    pub picture: Option<String>,
    /// With `email`.
    pub email: Option<String>,
    pub email_verified: Option<bool>,
}
