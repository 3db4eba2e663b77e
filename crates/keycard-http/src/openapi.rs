use utoipa::Modify;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Keycard",
        description = "Authentication service: accounts, sessions and tokens.\n\n\
            Errors are RFC 9457 `application/problem+json` documents whose `code` is stable.\n\n\
            Access tokens are EdDSA-signed JWTs (`typ: at+jwt`) verifiable with /.well-known/jwks.json; \
            refresh tokens are opaque and rotate on every use.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "auth", description = "Sign-up, login, refresh, logout"),
        (name = "social", description = "Sign-in through Google and other identity providers"),
        (name = "me", description = "The signed-in user's profile and password"),
        (name = "sessions", description = "The signed-in user's devices"),
        (name = "operations", description = "Probes, metrics and public keys"),
        (name = "admin", description = "The registry of apps, people's accounts and the audit trail, for an app holding the `keycard:admin` scope: register one with `keycard clients add --type confidential --grant client_credentials --scope keycard:admin`, get a token from /oauth2/token (`grant_type=client_credentials`, `scope=keycard:admin`), and call these with it as bearer. Apps defined in the settings file are changed there."),
        (name = "openid", description = "Keycard as the OpenID Provider of the platform's apps: discovery, token, userinfo, revocation, introspection. Errors here are RFC 6749 `{error, error_description}` JSON, as relying-party libraries expect. The authorization (`/oauth2/authorize`) and logout (`/oauth2/logout`) endpoints are browser navigations, described in README.md."),
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Adds to every operation the answers that come from what it shares with others rather than
/// from its own handler, so the document lists every status the server can give:
/// a JSON body or query string can be malformed (400) and a body too large (413); a bearer
/// operation can be unauthenticated (401); whatever reads the database can find it down, and
/// whatever hashes can find hashing saturated (503, with `Retry-After`).
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let reads_database = path.starts_with("/v1/")
            || path.starts_with("/oauth2/")
            || path.starts_with("/admin/")
            || path == "/readyz";
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let has_body = op.request_body.is_some();
            let has_query = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query))
            });
            let bearer = op
                .security
                .as_ref()
                .is_some_and(|reqs| reqs.iter().any(|r| r != &SecurityRequirement::default()));
            let r = &mut op.responses.responses;
            if has_body || has_query {
                add(
                    r,
                    "400",
                    "The body or query string is not what this operation takes (`malformed_request`)",
                );
            }
            if has_body {
                add(r, "413", "The body is over 64 KiB (`payload_too_large`)");
            }
            if bearer {
                add(
                    r,
                    "401",
                    "No valid access token, or its session has ended (`unauthenticated`, `invalid_token`, `session_ended`); see WWW-Authenticate",
                );
            }
            if reads_database {
                add(
                    r,
                    "503",
                    "The database is unreachable or password hashing is saturated (`unavailable`, `overloaded`); see Retry-After",
                );
            }
        }
    }
}

fn add(
    responses: &mut std::collections::BTreeMap<String, RefOr<Response>>,
    status: &str,
    why: &str,
) {
    responses.entry(status.to_owned()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build(),
        )
    });
}
