//! The registry of client applications: `keycard clients …` run against the server's own
//! database, and the settings file's `[[clients]]` applied at start, on both backends.

use anyhow::{Context, Result, ensure};
use keycard::clients::{parse, run};
use keycard_testkit::TestApp;

/// `keycard clients ARGS…` against the app's database, as another process would run it.
async fn cli(settings: &keycard::Settings, args: &[&str]) -> Result<String> {
    let keycard = keycard::build(settings).await?;
    run(&keycard, settings, parse(args)?).await
}

async fn clients_are_added_shown_listed_rotated_and_removed(app: TestApp) -> Result<()> {
    let Some(app) = app.reconfigure().start().await? else {
        return Ok(());
    };
    let settings = app.settings().context("in-process settings")?;
    let out = cli(
        settings,
        &[
            "add",
            "--id",
            "storefront",
            "--name",
            "Storefront",
            "--type",
            "public",
            "--redirect-uri",
            "https://shop.example.com/callback",
            "com.example.shop:/oauth",
        ],
    )
    .await?;
    ensure!(out.contains("registered client storefront"), "{out}");
    // First-party (no consent) only where the redirect proves the app: https.
    let unverifiable = cli(
        settings,
        &[
            "add",
            "--id",
            "shop-app",
            "--name",
            "Shop",
            "--type",
            "public",
            "--redirect-uri",
            "com.example.shop:/oauth",
            "--first-party",
        ],
    )
    .await;
    ensure!(
        unverifiable
            .as_ref()
            .is_err_and(|e| format!("{e:#}").contains("https redirect")),
        "{unverifiable:?}"
    );
    ensure!(
        !out.contains("secret"),
        "a public client has no secret: {out}"
    );

    let out = cli(
        settings,
        &[
            "add",
            "--id",
            "orders-api",
            "--name",
            "Orders API",
            "--type",
            "confidential",
            "--grant",
            "client_credentials",
        ],
    )
    .await?;
    let secret = out
        .lines()
        .find(|l| l.starts_with("kccs_"))
        .context("the secret, printed once")?
        .to_owned();
    ensure!(secret.len() >= 48, "{secret}");

    // Beside the apps every test server is seeded with (keycard_testkit::apps).
    let list = cli(settings, &["list"]).await?;
    let added: Vec<&str> = list
        .lines()
        .filter(|l| {
            !["desk\t", "ops\t", "orders\t", "shop\t", "tv\t", "web\t"]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect();
    ensure!(
        added
            == [
                "orders-api\tconfidential\tenabled\tOrders API",
                "storefront\tpublic\tenabled\tStorefront",
            ],
        "{list}"
    );
    let shown = cli(settings, &["show", "storefront"]).await?;
    for line in [
        "redirect URIs              https://shop.example.com/callback com.example.shop:/oauth",
        "first party                false",
        "grants                     authorization_code refresh_token",
        "scopes                     openid profile email offline_access",
        "ID token algorithm         RS256",
    ] {
        ensure!(shown.contains(line), "{line:?} missing in\n{shown}");
    }
    let shown = cli(settings, &["show", "orders-api"]).await?;
    ensure!(!shown.contains(&secret), "the secret is never shown again");

    // The same id twice, a redirect URI that could not be compared safely, the password grant.
    let again = cli(
        settings,
        &[
            "add",
            "--id",
            "storefront",
            "--name",
            "X",
            "--type",
            "public",
            "--redirect-uri",
            "https://x.example/cb",
        ],
    )
    .await;
    ensure!(
        again
            .as_ref()
            .is_err_and(|e| format!("{e:#}").contains("already registered")),
        "{again:?}"
    );
    for (uri, why) in [
        ("http://shop.example.com/cb", "https"),
        ("https://shop.example.com/cb#x", "fragment"),
        ("https://user@shop.example.com/cb", "credentials"),
        ("https://evil.example\\.shop.example.com/cb", "normal form"),
        ("http://localhost:3000/cb", "localhost"),
    ] {
        let r = cli(
            settings,
            &[
                "add",
                "--id",
                "x",
                "--name",
                "X",
                "--type",
                "public",
                "--redirect-uri",
                uri,
            ],
        )
        .await;
        ensure!(
            r.as_ref().is_err_and(|e| format!("{e:#}").contains(why)),
            "{uri}: {r:?}"
        );
    }
    ensure!(
        parse(&[
            "add", "--id", "x", "--name", "X", "--type", "public", "--grant", "password"
        ])
        .is_ok()
    );
    let password = cli(
        settings,
        &[
            "add", "--id", "x", "--name", "X", "--type", "public", "--grant", "password",
        ],
    )
    .await;
    ensure!(
        password.is_err(),
        "the password grant is not offered: {password:?}"
    );

    let rotated = cli(settings, &["rotate-secret", "orders-api"]).await?;
    let new_secret = rotated
        .lines()
        .find(|l| l.starts_with("kccs_"))
        .context("new secret")?;
    ensure!(new_secret != secret);
    let public = cli(settings, &["rotate-secret", "storefront"]).await;
    ensure!(public.is_err(), "a public client has no secret: {public:?}");

    cli(settings, &["remove", "orders-api"]).await?;
    let gone = cli(settings, &["show", "orders-api"]).await;
    ensure!(
        gone.as_ref()
            .is_err_and(|e| format!("{e:#}").contains("not found")),
        "{gone:?}"
    );
    let list = cli(settings, &["list"]).await?;
    ensure!(
        list.lines().count() == 1 + 6,
        "one added beside the six seeded: {list}"
    );
    Ok(())
}

async fn clients_of_the_settings_file_are_applied_at_start(app: TestApp) -> Result<()> {
    let secret = keycard_testkit::random_secret_key();
    let Some(app) = app
        .reconfigure()
        .setting("clients.support.name", "Support desk")
        .setting("clients.support.type", "confidential")
        .setting("clients.support.secret", &secret)
        .setting(
            "clients.support.redirect_uris",
            "https://support.example.com/cb",
        )
        .setting(
            "clients.support.backchannel_logout_uri",
            "https://support.example.com/logout",
        )
        .start()
        .await?
    else {
        return Ok(());
    };
    let settings = app.settings().context("in-process settings")?.clone();
    let shown = cli(&settings, &["show", "support"]).await?;
    ensure!(shown.contains("Support desk"), "{shown}");
    ensure!(
        shown.contains("back-channel logout URI    https://support.example.com/logout"),
        "{shown}"
    );
    // A client of the file is changed in the file, not by hand: the next start would undo it.
    for args in [
        &["remove", "support"][..],
        &["rotate-secret", "support"][..],
    ] {
        let r = cli(&settings, args).await;
        ensure!(
            r.as_ref()
                .is_err_and(|e| format!("{e:#}").contains("settings file")),
            "{args:?}: {r:?}"
        );
    }
    // Started again with the file changed: the registration follows it.
    let mut changed = settings.clone();
    changed
        .apply_all([
            ("clients.support.name", "Help centre"),
            ("clients.support.first_party", "true"),
        ])
        .map_err(anyhow::Error::msg)?;
    let kc = keycard::build(&changed).await?;
    keycard::seed_clients(&kc, &changed).await?;
    let shown = cli(&changed, &["show", "support"]).await?;
    ensure!(
        shown.contains("Help centre") && shown.contains("first party                true"),
        "{shown}"
    );
    // A seed that breaks a rule stops the start, saying which.
    let mut broken = settings.clone();
    let refused = broken.apply_all([(
        "clients.support.redirect_uris",
        "http://support.example.com/cb",
    )]);
    ensure!(
        refused.as_ref().is_err_and(|e| e.contains("support")),
        "{refused:?}"
    );
    Ok(())
}

backend_tests!(
    clients_are_added_shown_listed_rotated_and_removed,
    clients_of_the_settings_file_are_applied_at_start,
);
