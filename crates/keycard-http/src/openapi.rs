use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

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
        (name = "me", description = "The signed-in user's profile and password"),
        (name = "sessions", description = "The signed-in user's devices"),
        (name = "operations", description = "Probes, metrics and public keys"),
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
