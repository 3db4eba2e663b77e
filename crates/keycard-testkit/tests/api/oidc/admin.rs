//! The admin API for the registry of apps, with a `keycard:admin` service's token.

use super::*;
use keycard_testkit::apps::{OPS, OPS_SECRET, ORDERS, ORDERS_SECRET, SHOP};

use super::service_token;

backend_tests!(an_admin_app_manages_the_registry_and_nobody_else_can,);

async fn an_admin_app_manages_the_registry_and_nobody_else_can(app: TestApp) -> Result<()> {
    let admin = service_token(&app, OPS, OPS_SECRET, "keycard:admin").await?;
    let list = app
        .bearer_get("/admin/v1/apps", &admin)
        .await?
        .expect_status(200)?
        .json()?;
    let shop = list["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["client_id"] == SHOP)
        .with_context(|| format!("shop is not listed: {list}"))?;
    ensure!(
        shop["from_settings_file"] == true && shop.get("secret").is_none(),
        "{shop}"
    );

    // Register a confidential app: its secret is in the answer, once.
    let id = format!("kiosk-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let body = serde_json::json!({
        "client_id": id,
        "name": "Kiosk",
        "type": "confidential",
        "grant_types": ["client_credentials"],
        "scopes": ["kiosk.read"],
    });
    let r = app.bearer_post("/admin/v1/apps", &admin, &body).await?;
    ensure!(r.status.as_u16() == 201, "{r}");
    let secret = r.json()?["client_secret"]
        .as_str()
        .context("client_secret")?
        .to_owned();
    service_token(&app, &id, &secret, "kiosk.read").await?;
    let again = app.bearer_post("/admin/v1/apps", &admin, &body).await?;
    ensure!(again.status.as_u16() == 409, "{again}");
    let bad = serde_json::json!({"client_id": "x y", "name": "X", "type": "public"});
    let r = app.bearer_post("/admin/v1/apps", &admin, &bad).await?;
    ensure!(r.status.as_u16() == 422, "{r}");

    // Rotate its secret: the old one stops working.
    let path = format!("/admin/v1/apps/{id}");
    let r = app
        .bearer_post(&format!("{path}/secret"), &admin, &serde_json::json!({}))
        .await?;
    ensure!(r.status.as_u16() == 200, "{r}");
    let fresh = r.json()?["client_secret"]
        .as_str()
        .context("client_secret")?
        .to_owned();
    let old = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await?;
    ensure!(old.status.as_u16() == 401, "{old}");
    let kiosk = service_token(&app, &id, &fresh, "kiosk.read").await?;

    // Disable it: no new token, and the one it has is no longer active.
    let r = app
        .bearer_patch(&path, &admin, &serde_json::json!({"enabled": false}))
        .await?;
    ensure!(
        r.status.as_u16() == 200 && r.json()?["enabled"] == false,
        "{r}"
    );
    let r = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((&id, &fresh)),
    )
    .await?;
    ensure!(r.status.as_u16() == 401, "a disabled app got a token: {r}");
    let r = keycard_testkit::send(
        app.http()
            .post(app.url("/oauth2/introspect"))
            .basic_auth(OPS, Some(OPS_SECRET))
            .form(&[("token", kiosk.as_str())]),
    )
    .await?;
    ensure!(r.json()?["active"] == false, "{r}");

    // Remove it.
    ensure!(app.bearer_delete(&path, &admin).await?.status.as_u16() == 204);
    ensure!(app.bearer_get(&path, &admin).await?.status.as_u16() == 404);
    // An app from the settings file is changed there.
    let r = app
        .bearer_delete(&format!("/admin/v1/apps/{SHOP}"), &admin)
        .await?;
    ensure!(r.status.as_u16() == 422, "{r}");

    // A service without the scope, a person's app token, Keycard's own token: no.
    let orders = service_token(&app, ORDERS, ORDERS_SECRET, "orders.read").await?;
    ensure!(
        app.bearer_get("/admin/v1/apps", &orders)
            .await?
            .status
            .as_u16()
            == 403
    );
    let (_, email, tokens) = shop_tokens(&app, &[]).await?;
    let person = tokens["access_token"].as_str().context("access_token")?;
    ensure!(
        app.bearer_get("/admin/v1/apps", person)
            .await?
            .status
            .as_u16()
            == 403
    );
    let own = app.login(&email, PASSWORD).await?.access_token;
    ensure!(
        app.bearer_get("/admin/v1/apps", &own)
            .await?
            .status
            .as_u16()
            == 401
    );
    ensure!(app.get("/admin/v1/apps").await?.status.as_u16() == 401);
    Ok(())
}
