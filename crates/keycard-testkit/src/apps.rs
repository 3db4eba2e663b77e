//! The applications registered with the Keycard under test, as a deployment seeds them
//! (`[[clients]]`): the same in-process (as settings) and in the test stack (in
//! `scripts/compose-test-providers.toml`; keep the two in step).

/// A third-party public app (a single-page or native app): PKCE, consent, refresh tokens.
pub const SHOP: &str = "shop";
pub const SHOP_REDIRECT: &str = "https://shop.example.test/cb";
/// A native app's loopback redirect: any port is accepted at authorization (RFC 8252 §7.3).
pub const SHOP_LOOPBACK: &str = "http://127.0.0.1/cb";

/// A first-party confidential app (a server-side web app): no consent, ES256 ID tokens.
pub const DESK: &str = "desk";
pub const DESK_SECRET: &str = "desk-test-secret-4f9a7c1e2b8d6a3f5c0e9b7d";
pub const DESK_REDIRECT: &str = "https://desk.example.test/cb";

/// A third-party web app whose server runs on the loopback interface (as in development):
/// confidential, so its consent is remembered.
pub const WEB: &str = "web";
pub const WEB_SECRET: &str = "web-test-secret-2b4d6f8a0c1e3b5d7f9a1c3e";

/// A TV app: the device grant, no browser of its own.
pub const TV: &str = "tv";

/// A back-end service: client credentials only.
pub const ORDERS: &str = "orders";
pub const ORDERS_SECRET: &str = "orders-test-secret-8e2c4a6b0d1f3e5a7c9b2d4f";

/// An operator's tool: the admin API's credential (`keycard:admin`).
pub const OPS: &str = "ops";
pub const OPS_SECRET: &str = "ops-test-secret-5d7f9b1c3e5a7c9e1b3d5f7a";

/// The apps as `clients.<id>.<field>` settings.
pub fn settings() -> Vec<(String, String)> {
    [
        ("clients.shop.name", "Shop"),
        ("clients.shop.type", "public"),
        (
            "clients.shop.redirect_uris",
            "https://shop.example.test/cb http://127.0.0.1/cb",
        ),
        ("clients.shop.scopes", "openid profile email offline_access"),
        ("clients.desk.name", "Support Desk"),
        ("clients.desk.type", "confidential"),
        ("clients.desk.secret", DESK_SECRET),
        ("clients.desk.redirect_uris", DESK_REDIRECT),
        ("clients.desk.first_party", "true"),
        ("clients.desk.id_token_alg", "ES256"),
        ("clients.web.name", "Web shop"),
        ("clients.web.type", "confidential"),
        ("clients.web.secret", WEB_SECRET),
        ("clients.web.redirect_uris", "http://127.0.0.1/cb"),
        ("clients.tv.name", "Living-room TV"),
        ("clients.tv.type", "public"),
        ("clients.tv.grant_types", "device_code refresh_token"),
        ("clients.tv.scopes", "openid profile email"),
        ("clients.ops.name", "Operations console"),
        ("clients.ops.type", "confidential"),
        ("clients.ops.secret", OPS_SECRET),
        ("clients.ops.grant_types", "client_credentials"),
        ("clients.ops.scopes", "keycard:admin"),
        ("clients.orders.name", "Orders service"),
        ("clients.orders.type", "confidential"),
        ("clients.orders.secret", ORDERS_SECRET),
        ("clients.orders.grant_types", "client_credentials"),
        ("clients.orders.scopes", "orders.read orders.write"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
