//! Sign-in through identity providers, end to end through the provider double: a browser presses
//! the button, chooses a test user at the double, and comes back signed in — or is refused, with
//! nothing half-written, when any rule is broken.

use crate::{event_kinds, me_status};
use anyhow::{Context, Result, ensure};
use keycard_testkit::{Browser, PASSWORD, Reply, TestApp, field_value, location};
use reqwest::Method;
use serde_json::Value;
use serde_json::json;

/// Generates one test per backend, each with a Keycard that signs in through the double.
macro_rules! social_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_social(keycard_testkit::Backend::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_social(keycard_testkit::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

social_tests!(
    providers_are_listed_in_button_order,
    first_sign_in_creates_the_account_and_the_next_finds_it,
    the_browser_session_is_a_session_like_any_other,
    the_callback_cannot_be_replayed,
    the_state_is_bound_to_the_browser_that_started,
    a_missing_or_forged_state_is_refused,
    concurrent_callbacks_with_one_state_sign_in_once,
    a_cancelled_sign_in_says_so,
    an_answer_from_another_issuer_is_refused,
    id_tokens_that_do_not_verify_are_refused,
    a_failing_provider_ends_with_a_clear_error,
    verified_emails_on_both_sides_link_automatically,
    an_unverified_side_never_links_automatically,
    an_unverified_provider_email_makes_an_unverified_account,
    return_to_is_only_keycard_or_an_allowed_origin,
    a_browser_gets_a_page_and_an_api_client_a_problem,
    an_expired_state_is_refused,
    a_slow_provider_times_out,
    a_signed_in_person_links_and_unlinks_providers,
    linking_needs_a_recent_sign_in,
    an_identity_of_another_account_cannot_be_linked,
    a_password_account_may_unlink_its_only_identity,
    the_login_page_offers_every_provider,
    facebook_and_github_sign_in_with_a_profile,
    x_makes_an_account_without_an_email,
    a_native_app_exchanges_a_one_time_code_bound_to_its_verifier,
    a_native_start_needs_s256_and_a_registered_redirect,
    the_account_page_removes_a_sign_in_method_but_not_the_last,
    sign_ins_started_per_network_are_limited,
    apple_answers_with_a_form_post_and_the_name_once,
    apples_cross_site_post_only_gets_a_page_that_posts_again,
    a_cancelled_apple_sign_in_says_so,
    a_provider_from_the_config_files_table_signs_in,
    a_sign_in_started_in_spanish_ends_in_spanish,
    apple_links_unlinks_and_links_automatically_like_the_others,
    a_disabled_account_cannot_sign_in_through_a_provider,
    a_verified_password_account_is_never_linked_automatically,
    an_address_the_provider_did_not_verify_is_mailed_a_link,
    a_reset_removes_identities_their_provider_does_not_vouch_for,
    a_provider_is_only_the_first_factor_of_an_account_with_a_second,
);

/// A test user of the double no other test uses: `ada+TAG` is `ada+TAG@example.com`.
fn person(base: &str) -> String {
    format!(
        "{base}+{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn email_of(person: &str) -> String {
    let (base, tag) = person.split_once('+').unwrap_or((person, ""));
    format!("{base}+{tag}@example.com")
}

/// Signs `who` in at `provider` in `browser`; expects the redirect to `return_to`.
async fn sign_in(app: &TestApp, browser: &Browser, provider: &str, who: &str) -> Result<()> {
    let flow = browser.social_start(provider, Some("/signed-in")).await?;
    let reply = browser.answer(&flow, who, None).await?;
    ensure!(
        reply.status.as_u16() == 303,
        "expected 303 after sign-in, got {reply}"
    );
    ensure!(
        location(&reply)? == app.url("/signed-in"),
        "landed elsewhere: {reply:?}"
    );
    Ok(())
}

/// An access token for the browser's session, through the single-page app's cookie refresh.
async fn access_token(browser: &Browser) -> Result<String> {
    let r = browser.refresh().await?.expect_status(200)?;
    r.json()?["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access token")
}

async fn me(app: &TestApp, browser: &Browser) -> Result<Value> {
    let token = access_token(browser).await?;
    app.bearer_get("/v1/me", &token)
        .await?
        .expect_status(200)?
        .json()
}

/// Runs the flow up to the callback URL the double sends back, with an optional fault.
async fn callback_url(browser: &Browser, who: &str, fault: Option<&str>) -> Result<String> {
    let flow = browser.social_start("google", None).await?;
    browser.choose(&flow, who, fault).await
}

async fn providers_are_listed_in_button_order(app: TestApp) -> Result<()> {
    let list = app
        .get("/v1/auth/providers")
        .await?
        .expect_status(200)?
        .json()?;
    let providers = list["providers"].as_array().context("providers array")?;
    let ids: Vec<&str> = providers.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["google", "apple", "facebook", "x", "github", "oidc", "corp"],
        "{list}"
    );
    assert_eq!(providers[0]["name"], "Google");
    assert_eq!(providers[0]["icon"], "google");
    assert_eq!(
        providers[0]["start_url"],
        app.url("/v1/auth/social/google/start").as_str()
    );
    Ok(())
}

async fn first_sign_in_creates_the_account_and_the_next_finds_it(app: TestApp) -> Result<()> {
    let who = person("ada");
    let browser = app.browser()?;
    let flow = browser.social_start("google", Some("/signed-in")).await?;
    // The authorization request carries a fresh state, a nonce and a PKCE S256 challenge.
    let auth = reqwest::Url::parse(&flow.authorize_url)?;
    let q: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    ensure!(
        q["response_type"] == "code" && q["client_id"] == "keycard",
        "{q:?}"
    );
    ensure!(q["code_challenge_method"] == "S256", "{q:?}");
    ensure!(q["state"].len() >= 43 && q["nonce"].len() >= 43, "{q:?}");
    ensure!(q["code_challenge"].len() == 43, "{q:?}");
    ensure!(
        q["redirect_uri"] == app.url("/v1/auth/social/google/callback"),
        "{q:?}"
    );
    let flow_cookie = browser
        .cookie("__Host-keycard_flow")
        .context("flow cookie")?;
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        ensure!(
            flow_cookie.has(attr),
            "flow cookie lacks {attr}: {flow_cookie:?}"
        );
    }

    let callback = browser.choose(&flow, &who, None).await?;
    let reply = browser.navigate(&callback).await?;
    ensure!(reply.status.as_u16() == 303, "{reply}");
    assert_eq!(location(&reply)?, app.url("/signed-in"));
    let session = browser
        .cookie("__Host-keycard_session")
        .context("session cookie")?;
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        ensure!(
            session.has(attr),
            "session cookie lacks {attr}: {session:?}"
        );
    }
    ensure!(session.value.starts_with("kcss_") && session.value.len() == 48);
    ensure!(
        browser.cookie("__Host-keycard_flow").is_none(),
        "the flow cookie outlived its flow"
    );

    let profile = me(&app, &browser).await?;
    assert_eq!(profile["email"], email_of(&who).as_str(), "{profile}");
    assert_eq!(profile["email_verified"], true);
    assert_eq!(profile["name"], "Ada Lovelace");
    assert_eq!(
        profile["picture_url"],
        "https://pictures.example.com/ada.png"
    );
    let token = access_token(&browser).await?;
    let kinds = event_kinds(&app, &token).await?;
    ensure!(
        kinds.contains(&"registered".to_owned()) && kinds.contains(&"login_succeeded".to_owned()),
        "{kinds:?}"
    );

    // Another browser, the same person: the same account, no new one.
    let other = app.browser()?;
    sign_in(&app, &other, "google", &who).await?;
    let again = me(&app, &other).await?;
    assert_eq!(again["id"], profile["id"]);
    // The account has no password: signing up with its email is a conflict, not a second account.
    app.register_raw(&email_of(&who), PASSWORD)
        .await?
        .expect_problem(409, "email_taken")?;
    Ok(())
}

async fn the_browser_session_is_a_session_like_any_other(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &person("ada")).await?;
    let token = access_token(&browser).await?;
    let list = app
        .bearer_get("/v1/me/sessions", &token)
        .await?
        .expect_status(200)?
        .json()?;
    let sessions = list["sessions"].as_array().context("sessions")?;
    ensure!(
        sessions.iter().any(|s| s["kind"] == "browser"),
        "no browser session listed: {list}"
    );
    // "Log out everywhere" ends it: the cookie refresh stops working.
    app.bearer_post("/v1/auth/logout-all", &token, &serde_json::json!({}))
        .await?
        .expect_status(200)?;
    browser
        .refresh()
        .await?
        .expect_problem(401, "invalid_refresh_token")?;
    assert_eq!(me_status(&app, &token).await?, 401);
    Ok(())
}

async fn the_callback_cannot_be_replayed(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let flow = browser.social_start("google", None).await?;
    let callback = browser.choose(&flow, &person("ada"), None).await?;
    browser.navigate(&callback).await?.expect_status(303)?;
    // The same state again, even from the same browser with its flow cookie restored.
    let fresh = app.browser()?;
    let flow2 = fresh.social_start("google", None).await?;
    let _ = flow2;
    let cookie = fresh.cookie("__Host-keycard_flow").context("flow cookie")?;
    browser.set_cookie("__Host-keycard_flow", &cookie.value);
    browser
        .get_json(&callback)
        .await?
        .expect_problem(400, "invalid_state")?;
    Ok(())
}

async fn the_state_is_bound_to_the_browser_that_started(app: TestApp) -> Result<()> {
    // A victim is sent a callback URL made in the attacker's browser (login CSRF): refused.
    let attacker = app.browser()?;
    let callback = callback_url(&attacker, &person("ada"), None).await?;
    let victim = app.browser()?;
    victim
        .get_json(&callback)
        .await?
        .expect_problem(400, "invalid_state")?;
    // And the state is spent by that attempt: the attacker cannot use it afterwards either.
    attacker
        .get_json(&callback)
        .await?
        .expect_problem(400, "invalid_state")?;
    // A victim with a flow cookie of their own is refused the same way.
    let victim2 = app.browser()?;
    let _ = victim2.social_start("google", None).await?;
    let callback = callback_url(&attacker, &person("ada"), None).await?;
    victim2
        .get_json(&callback)
        .await?
        .expect_problem(400, "invalid_state")?;
    Ok(())
}

async fn a_missing_or_forged_state_is_refused(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let callback = callback_url(&browser, &person("ada"), None).await?;
    let mut url = reqwest::Url::parse(&callback)?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for forged in [None, Some(""), Some("forged-state-value")] {
        let mut u = url.clone();
        {
            let mut q = u.query_pairs_mut();
            q.clear();
            for (k, v) in &pairs {
                if k != "state" {
                    q.append_pair(k, v);
                }
            }
            if let Some(s) = forged {
                q.append_pair("state", s);
            }
        }
        browser
            .get_json(u.as_str())
            .await?
            .expect_problem(400, "invalid_state")?;
    }
    // The real state still works: forgeries did not spend it.
    url.set_fragment(None);
    browser.navigate(url.as_str()).await?.expect_status(303)?;
    Ok(())
}

async fn concurrent_callbacks_with_one_state_sign_in_once(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let callback = callback_url(&browser, &person("ada"), None).await?;
    let attempts = (0..8).map(|_| browser.get_json(&callback));
    let replies = futures::future::join_all(attempts).await;
    let mut ok = 0;
    for r in replies {
        let r = r?;
        match r.status.as_u16() {
            303 => ok += 1,
            400 => {
                r.expect_problem(400, "invalid_state")?;
            }
            _ => anyhow::bail!("unexpected {r}"),
        }
    }
    assert_eq!(ok, 1, "exactly one of the concurrent callbacks signs in");
    Ok(())
}

async fn a_cancelled_sign_in_says_so(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let flow = browser.social_start("google", None).await?;
    let callback = browser.deny(&flow).await?;
    browser
        .get_json(&callback)
        .await?
        .expect_problem(403, "access_denied")?;
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    Ok(())
}

async fn an_answer_from_another_issuer_is_refused(app: TestApp) -> Result<()> {
    // RFC 9207: the callback names an issuer other than the one the flow went to (mix-up).
    let browser = app.browser()?;
    let who = person("ada");
    let callback = callback_url(&browser, &who, None).await?;
    let mut url = reqwest::Url::parse(&callback)?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(
                k,
                if k == "iss" {
                    "https://evil.example"
                } else {
                    v
                },
            );
        }
    }
    browser
        .get_json(url.as_str())
        .await?
        .expect_problem(502, "provider_rejected")?;
    // Nothing was created: the address is still free.
    app.register_raw(&email_of(&who), PASSWORD)
        .await?
        .expect_status(201)?;
    Ok(())
}

async fn id_tokens_that_do_not_verify_are_refused(app: TestApp) -> Result<()> {
    for fault in [
        "bad_signature",
        "wrong_nonce",
        "wrong_issuer",
        "wrong_audience",
        "expired",
        "alg_none",
        "hmac_with_public_key",
        "unknown_kid",
        "garbage",
    ] {
        let browser = app.browser()?;
        let who = person("ada");
        let callback = callback_url(&browser, &who, Some(fault)).await?;
        let r = browser.get_json(&callback).await?;
        r.expect_problem(502, "provider_rejected")
            .with_context(|| format!("fault {fault}"))?;
        ensure!(
            browser.cookie("__Host-keycard_session").is_none(),
            "{fault}"
        );
        // Nothing half-written: no account holds the address.
        app.register_raw(&email_of(&who), PASSWORD)
            .await?
            .expect_status(201)
            .with_context(|| format!("fault {fault} left an account behind"))?;
    }
    Ok(())
}

async fn a_failing_provider_ends_with_a_clear_error(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let who = person("ada");
    let callback = callback_url(&browser, &who, Some("server_error")).await?;
    browser
        .get_json(&callback)
        .await?
        .expect_problem(502, "provider_unavailable")?;
    app.register_raw(&email_of(&who), PASSWORD)
        .await?
        .expect_status(201)?;
    Ok(())
}

async fn verified_emails_on_both_sides_link_automatically(app: TestApp) -> Result<()> {
    // Google asserts the address verified, so the account made from it is verified; the other
    // provider asserts the same verified address: one account, two identities.
    let who = person("ada");
    let first = app.browser()?;
    sign_in(&app, &first, "google", &who).await?;
    let account = me(&app, &first).await?;
    let second = app.browser()?;
    sign_in(&app, &second, "oidc", &who).await?;
    let linked = me(&app, &second).await?;
    assert_eq!(
        linked["id"], account["id"],
        "linked to the existing account"
    );
    let token = access_token(&second).await?;
    let kinds = event_kinds(&app, &token).await?;
    ensure!(kinds.contains(&"identity_linked".to_owned()), "{kinds:?}");
    Ok(())
}

async fn an_unverified_side_never_links_automatically(app: TestApp) -> Result<()> {
    // An account made with a password has an unverified email: a provider asserting the same
    // address must not take it over.
    let who = person("ada");
    app.register(&email_of(&who), PASSWORD).await?;
    let browser = app.browser()?;
    let callback = callback_url(&browser, &who, None).await?;
    browser
        .get_json(&callback)
        .await?
        .expect_problem(409, "account_exists")?;
    // A provider that does not vouch for the address it gives: not linked either.
    let who = person("grace");
    let first = app.browser()?;
    sign_in(&app, &first, "google", &person("ada")).await?;
    let _ = first;
    let owner = app.browser()?;
    sign_in(&app, &owner, "oidc", &who).await?; // creates grace (unverified)
    let other = app.browser()?;
    let callback = callback_url(&other, &who, None).await?;
    other
        .get_json(&callback)
        .await?
        .expect_problem(409, "account_exists")?;
    Ok(())
}

async fn an_unverified_provider_email_makes_an_unverified_account(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &person("grace")).await?;
    let profile = me(&app, &browser).await?;
    assert_eq!(profile["email_verified"], false, "{profile}");
    assert_eq!(profile["name"], "Grace Hopper");
    Ok(())
}

async fn return_to_is_only_keycard_or_an_allowed_origin(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    for bad in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let mut url = reqwest::Url::parse(&app.url("/v1/auth/social/google/start"))?;
        url.query_pairs_mut().append_pair("return_to", bad);
        let r = browser.get_json(url.as_str()).await?;
        r.expect_invalid("return_to", "invalid_return_to")
            .with_context(|| format!("return_to={bad}"))?;
        ensure!(r.header("location").is_none(), "redirected for {bad}");
    }
    // Unknown providers are 404.
    browser
        .get_json(&app.url("/v1/auth/social/myspace/start"))
        .await?
        .expect_problem(404, "unknown_provider")?;
    Ok(())
}

async fn a_browser_gets_a_page_and_an_api_client_a_problem(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let callback = callback_url(&browser, &person("ada"), None).await?;
    let stranger = app.browser()?;
    let page = stranger.navigate(&callback).await?;
    assert_eq!(page.status.as_u16(), 400, "{page}");
    let ctype = page.header("content-type").unwrap_or_default();
    ensure!(ctype.starts_with("text/html"), "{ctype}");
    ensure!(page.text.contains("start again"), "{page}");
    ensure!(page.text.contains("invalid_state"), "{page}");
    let csp = page.header("content-security-policy").unwrap_or_default();
    ensure!(
        csp.contains("'nonce-")
            && csp.contains("frame-ancestors 'none'")
            && csp.contains("base-uri 'none'")
            && csp.contains("object-src 'none'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap_or_default();
    ensure!(
        page.text.contains(&format!("nonce=\"{nonce}\"")),
        "style without this response's nonce"
    );
    ensure!(page.header("x-content-type-options") == Some("nosniff"));
    Ok(())
}

async fn an_expired_state_is_refused(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .mock_idp()
        .setting("social_flow_ttl", "1s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let browser = app.browser()?;
    let who = person("ada");
    let callback = callback_url(&browser, &who, None).await?;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    browser
        .get_json(&callback)
        .await?
        .expect_problem(400, "invalid_state")?;
    app.register_raw(&email_of(&who), PASSWORD)
        .await?
        .expect_status(201)?;
    Ok(())
}

async fn a_slow_provider_times_out(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .mock_idp()
        .setting("provider_timeout", "1s")
        .start()
        .await?
    else {
        return Ok(());
    };
    let browser = app.browser()?;
    // The double answers after 30 s (and would sign in): only the timeout makes this a 502.
    let callback = callback_url(&browser, &person("ada"), Some("slow")).await?;
    browser
        .get_json(&callback)
        .await?
        .expect_problem(502, "provider_unavailable")?;
    Ok(())
}

/// `POST /v1/me/identities/{provider}` from `browser` (which keeps the flow cookie it sets).
async fn start_link(
    app: &TestApp,
    browser: &Browser,
    token: &str,
    provider: &str,
) -> Result<Reply> {
    let url = app.url(&format!("/v1/me/identities/{provider}"));
    browser
        .send(
            browser
                .request(Method::POST, &url)
                .bearer_auth(token)
                .json(&json!({ "return_to": "/linked" })),
            &url,
        )
        .await
}

async fn identities(app: &TestApp, token: &str) -> Result<Vec<Value>> {
    let list = app
        .bearer_get("/v1/me/identities", token)
        .await?
        .expect_status(200)?
        .json()?;
    Ok(list["identities"].as_array().context("identities")?.clone())
}

/// Links `provider` as `who` to the account signed in in `browser`; returns the callback reply.
async fn link(app: &TestApp, browser: &Browser, provider: &str, who: &str) -> Result<Reply> {
    let token = access_token(browser).await?;
    let started = start_link(app, browser, &token, provider)
        .await?
        .expect_status(200)?;
    let url = started.json()?["authorization_url"]
        .as_str()
        .context("authorization_url")?
        .to_owned();
    browser.link_with(&url, who).await
}

async fn a_signed_in_person_links_and_unlinks_providers(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &person("ada")).await?;
    let account = me(&app, &browser).await?;
    let token = access_token(&browser).await?;
    let mine = identities(&app, &token).await?;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["provider"], "google");
    assert_eq!(mine[0]["name"], "Ada Lovelace");
    crate::assert_rfc3339(&mine[0]["linked_at"], "linked_at");

    // Another person at the other provider (another, unverified email): linked because the
    // account holder asked, not because of any email.
    // GET /v1/me shows (and remembers) one identity before the link, both after it.
    assert_eq!(
        me(&app, &browser).await?["identities"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let grace = person("grace");
    let back = link(&app, &browser, "oidc", &grace).await?;
    ensure!(back.status.as_u16() == 303, "{back}");
    assert_eq!(location(&back)?, app.url("/linked"));
    let token = access_token(&browser).await?;
    let shown = app
        .bearer_get("/v1/me", &token)
        .await?
        .expect_status(200)?
        .json()?;
    assert_eq!(
        shown["identities"].as_array().map(Vec::len),
        Some(2),
        "{shown}"
    );
    let mine = identities(&app, &token).await?;
    let providers: Vec<_> = mine.iter().map(|i| i["provider"].clone()).collect();
    assert_eq!(providers, [json!("google"), json!("oidc")]);
    assert_eq!(mine[1]["email"], email_of(&grace).as_str());
    assert_eq!(mine[1]["email_verified"], false);

    // Signing in with the linked identity reaches the same account.
    let elsewhere = app.browser()?;
    sign_in(&app, &elsewhere, "oidc", &grace).await?;
    assert_eq!(me(&app, &elsewhere).await?["id"], account["id"]);

    // Unlink one; the last one stays, since the account has no password.
    let google = mine[0]["id"].as_str().context("id")?;
    let oidc = mine[1]["id"].as_str().context("id")?;
    app.bearer_delete(&format!("/v1/me/identities/{google}"), &token)
        .await?
        .expect_status(204)?;
    app.bearer_delete(&format!("/v1/me/identities/{google}"), &token)
        .await?
        .expect_problem(404, "not_found")?;
    app.bearer_delete(&format!("/v1/me/identities/{oidc}"), &token)
        .await?
        .expect_problem(409, "last_sign_in_method")?;
    assert_eq!(identities(&app, &token).await?.len(), 1);
    let kinds = event_kinds(&app, &token).await?;
    ensure!(
        kinds.contains(&"identity_linked".to_owned())
            && kinds.contains(&"identity_unlinked".to_owned()),
        "{kinds:?}"
    );
    // Unknown providers cannot be linked.
    start_link(&app, &browser, &token, "myspace")
        .await?
        .expect_problem(404, "unknown_provider")?;
    Ok(())
}

async fn an_identity_of_another_account_cannot_be_linked(app: TestApp) -> Result<()> {
    let ada = person("ada");
    let owner = app.browser()?;
    sign_in(&app, &owner, "google", &ada).await?;
    let other = app.browser()?;
    sign_in(&app, &other, "oidc", &person("grace")).await?;
    let before = me(&app, &other).await?;
    let back = link(&app, &other, "google", &ada).await?;
    // A browser navigation: the refusal is a page, with the code for support.
    ensure!(
        back.status.as_u16() == 409 && back.text.contains("identity_in_use"),
        "{back}"
    );
    let token = access_token(&other).await?;
    assert_eq!(identities(&app, &token).await?.len(), 1);
    assert_eq!(me(&app, &other).await?["id"], before["id"]);
    Ok(())
}

async fn a_password_account_may_unlink_its_only_identity(app: TestApp) -> Result<()> {
    let acct = app.new_account().await?;
    let token = acct.tokens.access_token.clone();
    let browser = app.browser()?;
    let started = start_link(&app, &browser, &token, "google")
        .await?
        .expect_status(200)?;
    let url = started.json()?["authorization_url"]
        .as_str()
        .context("authorization_url")?
        .to_owned();
    browser
        .link_with(&url, &person("ada"))
        .await?
        .expect_status(303)?;
    let mine = identities(&app, &token).await?;
    assert_eq!(mine.len(), 1);
    let id = mine[0]["id"].as_str().context("id")?;
    app.bearer_delete(&format!("/v1/me/identities/{id}"), &token)
        .await?
        .expect_status(204)?;
    assert!(identities(&app, &token).await?.is_empty());
    Ok(())
}

async fn the_login_page_offers_every_provider(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let page = browser
        .navigate(&app.url("/login?return_to=/account"))
        .await?
        .expect_status(200)?;
    for id in ["google", "oidc"] {
        let marker = format!("id=\"provider-{id}\" ");
        ensure!(page.text.contains(&marker), "no {id} button: {page}");
    }
    ensure!(page.text.contains("Continue with Google"), "{page}");
    // The button starts the provider's flow, coming back to the same destination.
    let button = &page.text[page.text.find("id=\"provider-google\"").context("button")?..];
    let href = button
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("href")?
        .replace("&amp;", "&");
    let start = browser.navigate(&app.url(&href)).await?;
    ensure!(start.status.as_u16() == 303, "{start}");
    let to = location(&start)?;
    ensure!(to.starts_with(app.idp_url()?), "{to}");
    Ok(())
}

/// A whole sign-in at `provider` as `who` in a new browser; the profile it leads to.
async fn profile_after(app: &TestApp, provider: &str, who: &str) -> Result<Value> {
    let browser = app.browser()?;
    sign_in(app, &browser, provider, who).await?;
    me(app, &browser).await
}

async fn facebook_and_github_sign_in_with_a_profile(app: TestApp) -> Result<()> {
    for provider in ["facebook", "github"] {
        let who = person("ada");
        let profile = profile_after(&app, provider, &who).await?;
        assert_eq!(
            profile["email"],
            email_of(&who).as_str(),
            "{provider}: {profile}"
        );
        assert_eq!(profile["email_verified"], true, "{provider}: {profile}");
        assert_eq!(profile["name"], "Ada Lovelace", "{provider}: {profile}");
        ensure!(
            profile["picture_url"]
                .as_str()
                .is_some_and(|p| p.starts_with("https://")),
            "{provider}: {profile}"
        );
        let ids = profile["identities"].as_array().context("identities")?;
        ensure!(
            ids.len() == 1 && ids[0]["provider"] == provider,
            "{profile}"
        );
        // The next sign-in finds the same account.
        let again = profile_after(&app, provider, &who).await?;
        assert_eq!(again["id"], profile["id"], "{provider}");
    }
    // GitHub never passes off an unverified address: grace's primary address is not verified, so
    // Keycard is told none, and the account it makes has none.
    let profile = profile_after(&app, "github", &person("grace")).await?;
    ensure!(profile["email"].is_null(), "{profile}");
    assert_eq!(profile["email_verified"], false);
    Ok(())
}

async fn x_makes_an_account_without_an_email(app: TestApp) -> Result<()> {
    // X signs a person in with PKCE and tells no email: the account has none, and the next
    // sign-in through X finds it again.
    let browser = app.browser()?;
    let flow = browser.social_start("x", None).await?;
    let auth = reqwest::Url::parse(&flow.authorize_url)?;
    ensure!(
        auth.query_pairs()
            .any(|(k, v)| k == "code_challenge_method" && v == "S256"),
        "{auth}"
    );
    let who = person("ada");
    let callback = browser.choose(&flow, &who, None).await?;
    browser.navigate(&callback).await?.expect_status(303)?;
    let profile = me(&app, &browser).await?;
    ensure!(profile["email"].is_null(), "{profile}");
    assert_eq!(profile["email_verified"], false);
    assert_eq!(profile["name"], "Ada Lovelace");
    assert_eq!(profile["identities"][0]["provider"], "x");
    let again = profile_after(&app, "x", &who).await?;
    assert_eq!(again["id"], profile["id"]);
    // The account page says who is signed in without an address.
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    ensure!(page.text.contains("id=\"signed-in-as\""), "{page}");
    // So does a Google account of someone who shares no address (Alan).
    let alan = profile_after(&app, "google", &person("alan")).await?;
    ensure!(
        alan["email"].is_null() && alan["name"] == "Alan Turing",
        "{alan}"
    );
    // And an existing account can link X and sign in with it.
    let owner = app.browser()?;
    sign_in(&app, &owner, "google", &person("ada")).await?;
    let back = link(&app, &owner, "x", &person("ada")).await?;
    ensure!(back.status.as_u16() == 303, "{back}");
    let token = access_token(&owner).await?;
    let mine = identities(&app, &token).await?;
    ensure!(
        mine.iter()
            .any(|i| i["provider"] == "x" && i["email"].is_null()),
        "{mine:?}"
    );
    Ok(())
}

/// A PKCE verifier and its S256 challenge, computed here independently of the server.
fn pkce_pair() -> (String, String) {
    use base64::Engine as _;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

/// The native sign-in up to the app's redirect: the `code` Keycard hands the app.
async fn native_code(app: &TestApp, who: &str, challenge: &str) -> Result<String> {
    let browser = app.browser()?;
    let flow = browser
        .social_start_with(
            "google",
            &[
                ("return_to", keycard_testkit::NATIVE_REDIRECT_URI),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await?;
    let callback = browser.choose(&flow, who, None).await?;
    let back = browser.navigate(&callback).await?;
    let to = location(&back)?;
    let prefix = format!("{}?code=", keycard_testkit::NATIVE_REDIRECT_URI);
    let code = to
        .strip_prefix(&prefix)
        .with_context(|| format!("not sent to the app with a code: {to}"))?;
    ensure!(
        !to.contains("access_token") && !to.contains("kcrt_"),
        "tokens in a URL: {to}"
    );
    Ok(code.to_owned())
}

async fn a_native_app_exchanges_a_one_time_code_bound_to_its_verifier(app: TestApp) -> Result<()> {
    let who = person("ada");
    let (verifier, challenge) = pkce_pair();
    let code = native_code(&app, &who, &challenge).await?;
    let exchange = |code: String, verifier: String| {
        let app = &app;
        async move {
            app.post(
                "/v1/auth/social/exchange",
                &json!({ "code": code, "code_verifier": verifier }),
            )
            .await
        }
    };
    let tokens = exchange(code.clone(), verifier.clone())
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("kcrt_"))
    );
    assert_eq!(tokens["user"]["email"], email_of(&who).as_str());
    let access = tokens["access_token"].as_str().context("access token")?;
    let profile = app
        .bearer_get("/v1/me", access)
        .await?
        .expect_status(200)?
        .json()?;
    assert_eq!(profile["email"], email_of(&who).as_str());
    // The app's own session, of the API kind.
    let sessions = app
        .bearer_get("/v1/me/sessions", access)
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        sessions["sessions"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["kind"] == "api" && s["current"] == true)),
        "{sessions}"
    );
    // Once only.
    exchange(code, verifier.clone())
        .await?
        .expect_problem(400, "invalid_login_code")?;
    // Another app's verifier does not redeem this code, and the attempt spends it.
    let (_, other_challenge) = pkce_pair();
    let code = native_code(&app, &who, &other_challenge).await?;
    exchange(code.clone(), verifier.clone())
        .await?
        .expect_problem(400, "invalid_login_code")?;
    exchange(code, verifier)
        .await?
        .expect_problem(400, "invalid_login_code")?;
    exchange("kclc_forged".into(), "x".repeat(43))
        .await?
        .expect_problem(400, "invalid_login_code")?;
    Ok(())
}

async fn a_native_start_needs_s256_and_a_registered_redirect(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let (_, challenge) = pkce_pair();
    let start = |query: Vec<(&'static str, String)>| {
        let browser = &browser;
        let app = &app;
        async move {
            let mut url = reqwest::Url::parse(&app.url("/v1/auth/social/google/start"))?;
            for (k, v) in &query {
                url.query_pairs_mut().append_pair(k, v);
            }
            browser.get_json(url.as_str()).await
        }
    };
    let native = keycard_testkit::NATIVE_REDIRECT_URI.to_owned();
    start(vec![
        ("return_to", native.clone()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "plain".into()),
    ])
    .await?
    .expect_invalid("code_challenge_method", "invalid_code_challenge")?;
    start(vec![
        ("return_to", native.clone()),
        ("code_challenge", challenge.clone()),
    ])
    .await?
    .expect_invalid("code_challenge_method", "invalid_code_challenge")?;
    start(vec![
        ("return_to", "com.evil.app:/oauth".into()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "S256".into()),
    ])
    .await?
    .expect_invalid("return_to", "invalid_return_to")?;
    start(vec![
        ("return_to", native),
        ("code_challenge", "short".into()),
        ("code_challenge_method", "S256".into()),
    ])
    .await?
    .expect_invalid("code_challenge", "invalid_code_challenge")?;
    Ok(())
}

async fn the_account_page_removes_a_sign_in_method_but_not_the_last(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &person("ada")).await?;
    link(&app, &browser, "oidc", &person("grace"))
        .await?
        .expect_status(303)?;
    let page = browser
        .navigate(&app.url("/account"))
        .await?
        .expect_status(200)?;
    let token = access_token(&browser).await?;
    let mine = identities(&app, &token).await?;
    assert_eq!(mine.len(), 2);
    let csrf = keycard_testkit::field_value(&page.text, "csrf").context("form token")?;
    let remove = |id: String, csrf: String| {
        let (app, browser) = (&app, &browser);
        async move {
            let url = app.url(&format!("/account/unlink/{id}"));
            browser
                .send(
                    browser
                        .request(Method::POST, &url)
                        .header("origin", app.base_url())
                        .form(&[("csrf", csrf.as_str())]),
                    &url,
                )
                .await
        }
    };
    let first = mine[0]["id"].as_str().context("id")?.to_owned();
    let last = mine[1]["id"].as_str().context("id")?.to_owned();
    ensure!(
        page.text.contains(&format!("id=\"unlink-{first}\"")),
        "{page}"
    );
    // Without the page's token: refused, nothing removed.
    let r = remove(first.clone(), "forged".into()).await?;
    assert_eq!(r.status.as_u16(), 403, "{r}");
    assert_eq!(identities(&app, &token).await?.len(), 2);
    // With it: removed, back to the page.
    let r = remove(first, csrf.clone()).await?;
    assert_eq!(location(&r)?, "/account");
    assert_eq!(identities(&app, &token).await?.len(), 1);
    // The last way in stays, with a page that says why.
    let r = remove(last, csrf).await?;
    assert_eq!(r.status.as_u16(), 409, "{r}");
    ensure!(r.text.contains("last_sign_in_method"), "{r}");
    assert_eq!(identities(&app, &token).await?.len(), 1);
    Ok(())
}

async fn sign_ins_started_per_network_are_limited(app: TestApp) -> Result<()> {
    let Some(app) = app
        .reconfigure()
        .mock_idp()
        .setting("social_ip_limit", "2/1m")
        // Each browser claims an address of its own, as behind a proxy.
        .setting("trust_forwarded_for", "true")
        .start()
        .await?
    else {
        return Ok(());
    };
    // One network (the browser's address) starts two sign-ins; the third is refused before a
    // flow is stored, for an API client as a problem and for a person as a page.
    let browser = app.browser()?;
    browser
        .social_start("google", None)
        .await
        .context("the first start")?;
    browser
        .social_start("facebook", None)
        .await
        .context("the second start")?;
    let url = app.url("/v1/auth/social/google/start");
    let r = browser.get_json(&url).await?;
    r.expect_problem(429, "rate_limited")?;
    ensure!(r.header("retry-after").is_some(), "{r:?}");
    let page = browser.navigate(&url).await?;
    assert_eq!(page.status.as_u16(), 429, "{page}");
    ensure!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    // Callbacks count too: forged ones from this network are refused before any lookup.
    let forged = browser
        .navigate(&app.url("/v1/auth/social/google/callback?state=forged&code=forged"))
        .await?;
    assert_eq!(forged.status.as_u16(), 429, "{forged}");
    // Another network is not held back.
    app.browser()?.social_start("google", None).await?;
    Ok(())
}

async fn apple_answers_with_a_form_post_and_the_name_once(app: TestApp) -> Result<()> {
    let who = person("ada");
    let browser = app.browser()?;
    let flow = browser.social_start("apple", Some("/signed-in")).await?;
    let auth = reqwest::Url::parse(&flow.authorize_url)?;
    let q: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    ensure!(
        q["response_mode"] == "form_post" && q["scope"] == "name email",
        "{q:?}"
    );
    ensure!(q["nonce"].len() >= 43 && q["state"].len() >= 43, "{q:?}");
    ensure!(
        !q.contains_key("code_challenge"),
        "Apple takes no PKCE: {q:?}"
    );
    let reply = browser.answer(&flow, &who, None).await?;
    ensure!(reply.status.as_u16() == 303, "{reply}");
    assert_eq!(location(&reply)?, app.url("/signed-in"));
    let profile = me(&app, &browser).await?;
    assert_eq!(profile["email"], email_of(&who).as_str(), "{profile}");
    assert_eq!(profile["email_verified"], true, "{profile}");
    assert_eq!(profile["name"], "Ada Lovelace", "{profile}");
    assert_eq!(profile["identities"][0]["provider"], "apple", "{profile}");

    // Apple sends the name on the first sign-in only: the next one keeps what it said.
    let again = profile_after(&app, "apple", &who).await?;
    assert_eq!(again["id"], profile["id"]);
    assert_eq!(again["name"], "Ada Lovelace", "{again}");
    assert_eq!(again["identities"][0]["name"], "Ada Lovelace", "{again}");
    Ok(())
}

async fn apples_cross_site_post_only_gets_a_page_that_posts_again(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let flow = browser.social_start("apple", None).await?;
    let decided = browser
        .post_form(
            &flow.decide_url,
            &[
                ("request", &flow.request),
                ("user", &person("ada")),
                ("fault", ""),
            ],
        )
        .await?
        .expect_status(200)?;
    // The provider's cross-site POST: answered with a page of Keycard's, and nothing else.
    let page = browser
        .provider_form_post(&flow.authorize_url, &decided)
        .await?
        .expect_status(200)?;
    ensure!(page.set_cookies().is_empty(), "{page:?}");
    ensure!(page.header("cache-control") == Some("no-store"), "{page:?}");
    let csp = page.header("content-security-policy").context("CSP")?;
    let at = page.text.find("<script nonce=\"").context("no script")? + 15;
    let nonce = &page.text[at..at + page.text[at..].find('"').context("nonce end")?];
    ensure!(nonce.len() >= 22, "{nonce}");
    ensure!(csp.contains(&format!("'nonce-{nonce}'")), "{csp} / {nonce}");
    let (action, fields) = keycard_testkit::form_of(&page.text).context("form")?;
    assert_eq!(action, "/v1/auth/social/apple/callback");
    let field = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    ensure!(field("continue").as_deref() == Some("1"), "{fields:?}");
    ensure!(
        field("code").is_some() && field("state").is_some(),
        "{fields:?}"
    );
    ensure!(
        field("user").is_some_and(|u| u.contains("\"firstName\":\"Ada\"")),
        "{fields:?}"
    );
    // Being posted again changes nothing either: the state is still good afterwards.
    browser
        .provider_form_post(&flow.authorize_url, &decided)
        .await?
        .expect_status(200)?;

    // The second step must come from Keycard's own origin: from another site it is refused,
    // before the state is touched.
    let url = app.url("/v1/auth/social/apple/callback");
    let form: Vec<(String, String)> = fields.clone();
    browser
        .send(
            browser
                .request(Method::POST, &url)
                .header("origin", "https://evil.example")
                .header("sec-fetch-site", "cross-site")
                .header("accept", "application/json")
                .form(&form),
            &url,
        )
        .await?
        .expect_problem(403, "csrf_rejected")?;
    // Another browser (no flow cookie) continuing it is refused, and spends the state.
    let stranger = app.browser()?;
    let reply = stranger.keycard_resubmit(&page).await?;
    ensure!(reply.status.as_u16() == 400, "{reply}");
    ensure!(stranger.cookie("__Host-keycard_session").is_none());
    let late = browser.keycard_resubmit(&page).await?;
    ensure!(late.status.as_u16() == 400, "a spent state: {late}");
    ensure!(browser.cookie("__Host-keycard_session").is_none());

    // Only a provider that answers by POST gets the page; no state, no page.
    let google = app.url("/v1/auth/social/google/callback");
    let r = keycard_testkit::send(
        app.http()
            .post(&google)
            .form(&[("code", "c"), ("state", "s")]),
    )
    .await?;
    ensure!(
        r.status.as_u16() == 405 && r.header("allow") == Some("GET"),
        "{r}"
    );
    let r = keycard_testkit::send(app.http().post(&url).form(&[("code", "c")])).await?;
    r.expect_problem(400, "invalid_state")?;

    // A fresh flow, continued properly, signs in.
    let flow = browser.social_start("apple", None).await?;
    browser
        .answer(&flow, &person("ada"), None)
        .await?
        .expect_status(303)?;
    ensure!(browser.cookie("__Host-keycard_session").is_some());
    Ok(())
}

async fn a_cancelled_apple_sign_in_says_so(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    let flow = browser.social_start("apple", None).await?;
    let page = browser.deny_and_return(&flow).await?;
    ensure!(page.status.as_u16() == 403, "{page}");
    ensure!(page.text.contains("access_denied"), "{page}");
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    Ok(())
}

async fn a_provider_from_the_config_files_table_signs_in(app: TestApp) -> Result<()> {
    // `[providers.corp]`: a second OpenID Connect provider, with its own button and callback.
    let list = app
        .get("/v1/auth/providers")
        .await?
        .expect_status(200)?
        .json()?;
    let corp = list["providers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == "corp"))
        .context("corp listed")?
        .clone();
    assert_eq!(corp["name"], "Corp SSO", "{corp}");
    assert_eq!(corp["icon"], "openid", "{corp}");
    let browser = app.browser()?;
    let flow = browser.social_start("corp", None).await?;
    let auth = reqwest::Url::parse(&flow.authorize_url)?;
    ensure!(
        auth.query_pairs()
            .any(|(k, v)| k == "redirect_uri"
                && v == app.url("/v1/auth/social/corp/callback").as_str()),
        "{auth}"
    );
    let who = person("grace");
    browser
        .answer(&flow, &who, None)
        .await?
        .expect_status(303)?;
    let profile = me(&app, &browser).await?;
    assert_eq!(profile["identities"][0]["provider"], "corp", "{profile}");
    assert_eq!(profile["name"], "Grace Hopper", "{profile}");
    // Its identities are its own: the same person at `oidc` is another identity, and with an
    // unverified address not linked automatically.
    let other = app.browser()?;
    let flow = other.social_start("oidc", None).await?;
    other.answer(&flow, &who, None).await?.expect_status(409)?;
    Ok(())
}

async fn a_sign_in_started_in_spanish_ends_in_spanish(app: TestApp) -> Result<()> {
    let browser = app.browser()?;
    // The Spanish sign-in page's buttons carry its language to the start…
    let login = browser
        .navigate(&app.url("/login?ui_locales=es"))
        .await?
        .expect_status(200)?;
    ensure!(
        login
            .text
            .contains("/v1/auth/social/google/start?return_to=")
            && login.text.contains("ui_locales=es"),
        "{login}"
    );
    // …which keeps it for the pages at the end, whatever the browser's Accept-Language.
    let flow = browser
        .social_start_with("google", &[("ui_locales", "es-MX en")])
        .await?;
    let lang = browser
        .cookie("__Host-keycard_lang")
        .context("lang cookie")?;
    assert_eq!(lang.value, "es");
    let callback = browser.deny(&flow).await?;
    let url = callback.clone();
    let page = browser
        .send(
            browser
                .request(Method::GET, &url)
                .header("accept", "text/html")
                .header("accept-language", "en"),
            &url,
        )
        .await?;
    ensure!(page.status.as_u16() == 403, "{page}");
    ensure!(page.text.contains("<html lang=\"es\">"), "{page}");
    // An unshipped language leaves the choice to Accept-Language.
    let other = app.browser()?;
    other
        .social_start_with("google", &[("ui_locales", "tlh")])
        .await?;
    ensure!(other.cookie("__Host-keycard_lang").is_none());
    Ok(())
}

async fn apple_links_unlinks_and_links_automatically_like_the_others(app: TestApp) -> Result<()> {
    // Linked by the account holder from a Google account (another person's Apple ID: the
    // holder's choice, not an email match), then unlinked.
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &person("ada")).await?;
    let back = link(&app, &browser, "apple", &person("grace")).await?;
    ensure!(back.status.as_u16() == 303, "{back}");
    let token = access_token(&browser).await?;
    let mine = identities(&app, &token).await?;
    let apple = mine
        .iter()
        .find(|i| i["provider"] == "apple")
        .context("apple linked")?;
    assert_eq!(apple["name"], "Grace Hopper", "{apple}");
    let id = apple["id"].as_str().context("id")?.to_owned();
    let gone = keycard_testkit::send(
        app.request(Method::DELETE, &format!("/v1/me/identities/{id}"))
            .bearer_auth(&token),
    )
    .await?;
    ensure!(gone.status.as_u16() == 204, "{gone}");

    // Verified on both sides: Apple joins the Google account of the same address by itself.
    let who = person("ada");
    let first = profile_after(&app, "google", &who).await?;
    let via_apple = profile_after(&app, "apple", &who).await?;
    assert_eq!(via_apple["id"], first["id"], "{via_apple}");
    // Unverified at Apple (Grace): an existing account of that address is not joined.
    let grace = person("grace");
    profile_after(&app, "google", &grace).await?;
    let browser = app.browser()?;
    let flow = browser.social_start("apple", None).await?;
    browser
        .answer(&flow, &grace, None)
        .await?
        .expect_status(409)?;
    Ok(())
}

async fn a_disabled_account_cannot_sign_in_through_a_provider(app: TestApp) -> Result<()> {
    let who = person("ada");
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &who).await?;
    let admin = crate::oidc::admin_token(&app).await?;
    let found = crate::oidc::admin_find(&app, &admin, &email_of(&who)).await?;
    ensure!(
        found["has_password"] == false && found["identities"][0]["provider"] == "google",
        "{found}"
    );
    let id = found["id"].as_str().context("id")?;
    crate::oidc::admin_set_enabled(&app, &admin, id, false, None).await?;
    // Its browser session ended with the disabling.
    ensure!(browser.refresh().await?.status.as_u16() == 401);

    // The provider still vouches for the person, but Keycard opens no session: a page says so.
    let other = app.browser()?;
    let callback = callback_url(&other, &who, None).await?;
    let reply = other.navigate(&callback).await?;
    ensure!(
        reply.status.as_u16() == 403 && reply.text.contains("This account is disabled"),
        "{reply}"
    );
    ensure!(other.cookie("__Host-keycard_session").is_none());
    let refused = app
        .bearer_get(
            &format!("/admin/v1/events?user_id={id}&kind=login_failed"),
            &admin,
        )
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        refused["events"][0]["detail"]
            == json!({"method": "social", "provider": "google", "reason": "account_disabled"}),
        "{refused}"
    );

    crate::oidc::admin_set_enabled(&app, &admin, id, true, None).await?;
    sign_in(&app, &other, "google", &who).await?;
    Ok(())
}

/// Pre-account hijacking: someone signs up with another person's address and a password of
/// their own; the address's owner, unsuspecting, confirms the verification mail. When the owner
/// later signs in with a provider asserting that verified address, Keycard must not take them
/// into that account (its maker knows its password): it says an account exists instead.
async fn a_verified_password_account_is_never_linked_automatically(app: TestApp) -> Result<()> {
    drop(app);
    let mail = keycard_testkit::MailCatcher::get()?;
    let Some(smtp) = mail.smtp_url.clone() else {
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(());
    };
    let Some(app) = TestApp::builder(keycard_testkit::Backend::Sqlite)
        .mock_idp()
        .setting("smtp_url", &smtp)
        .start()
        .await?
    else {
        return Ok(());
    };
    let who = person("ada");
    let email = email_of(&who);
    app.register(&email, PASSWORD).await?;
    let link = mail.wait_for(&email, 1).await?[0]
        .link("/verify-email")
        .context("no link")?;
    let token = reqwest::Url::parse(&link)?
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .context("token")?;
    app.post("/v1/auth/verify-email", &json!({ "token": token }))
        .await?
        .expect_status(200)?;

    let browser = app.browser()?;
    let flow = browser.social_start("google", Some("/signed-in")).await?;
    let reply = browser.answer(&flow, &who, None).await?;
    ensure!(
        reply.status.as_u16() == 409 && reply.text.contains("account_exists"),
        "{reply}"
    );
    ensure!(browser.cookie("__Host-keycard_session").is_none());
    Ok(())
}

/// An account made through a provider that does not vouch for the address gets the same
/// verification mail as a sign-up with a password, and its link verifies it.
async fn an_address_the_provider_did_not_verify_is_mailed_a_link(app: TestApp) -> Result<()> {
    drop(app);
    let mail = keycard_testkit::MailCatcher::get()?;
    let Some(smtp) = mail.smtp_url.clone() else {
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(());
    };
    let Some(app) = TestApp::builder(keycard_testkit::Backend::Sqlite)
        .mock_idp()
        .setting("smtp_url", &smtp)
        .start()
        .await?
    else {
        return Ok(());
    };
    let who = person("grace");
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &who).await?;
    let got = mail.wait_for(&email_of(&who), 1).await?;
    let link = got[0].link("/verify-email").context("no link")?;
    let token = reqwest::Url::parse(&link)?
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .context("token")?;
    app.post("/v1/auth/verify-email", &json!({ "token": token }))
        .await?
        .expect_status(200)?;
    ensure!(me(&app, &browser).await?["email_verified"] == true);
    // A provider that vouches for the address sends no mail.
    let ada = person("ada");
    sign_in(&app, &app.browser()?, "google", &ada).await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    ensure!(mail.messages_to(&email_of(&ada)).await?.is_empty());
    Ok(())
}

/// The other half of pre-account hijacking: someone signs up with another person's address,
/// links a provider account of their own, and waits. When the address's owner takes the account
/// over through a reset link — even after confirming the address unsuspecting — the identity
/// its maker linked goes with the maker's sessions.
async fn a_reset_removes_identities_their_provider_does_not_vouch_for(app: TestApp) -> Result<()> {
    drop(app);
    let mail = keycard_testkit::MailCatcher::get()?;
    let Some(smtp) = mail.smtp_url.clone() else {
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(());
    };
    let Some(app) = TestApp::builder(keycard_testkit::Backend::Sqlite)
        .mock_idp()
        .setting("smtp_url", &smtp)
        .start()
        .await?
    else {
        return Ok(());
    };
    let email = email_of(&person("ada"));
    let maker = app.browser()?;
    crate::oidc::signed_up_as(&app, &maker, "Not Ada", &email).await?;
    let mallory = person("grace");
    let back = link(&app, &maker, "oidc", &mallory).await?;
    ensure!(back.status.as_u16() == 303, "{back}");
    // The owner, unsuspecting, confirms the address first: the reset must still see through it.
    // (The address also got the notice of the link.)
    let got = mail.wait_for(&email, 2).await?;
    let verify = got
        .iter()
        .find_map(|m| m.link("/verify-email"))
        .with_context(|| format!("no verification link among {got:?}"))?;
    app.post(
        "/v1/auth/verify-email",
        &json!({ "token": crate::mail::token_of(&verify)? }),
    )
    .await?
    .expect_status(200)?;

    app.post("/v1/auth/password/forgot", &json!({ "email": email }))
        .await?
        .expect_status(202)?;
    let got = mail.wait_for(&email, 3).await?;
    let link = got
        .iter()
        .find_map(|m| m.link("/password/reset"))
        .with_context(|| format!("no reset link among {got:?}"))?;
    let token = crate::mail::token_of(&link)?;
    app.post(
        "/v1/auth/password/reset",
        &json!({ "token": token, "new_password": "the owner's own passphrase" }),
    )
    .await?
    .expect_status(200)?;

    let owner = app.login(&email, "the owner's own passphrase").await?;
    let left = identities(&app, &owner.access_token).await?;
    ensure!(left.is_empty(), "the maker's identity stayed: {left:?}");
    // Signing in with it no longer reaches the owner's account.
    let elsewhere = app.browser()?;
    sign_in(&app, &elsewhere, "oidc", &mallory).await?;
    let theirs = me(&app, &elsewhere).await?;
    ensure!(theirs["email"] != email.as_str(), "{theirs}");
    Ok(())
}

async fn a_provider_is_only_the_first_factor_of_an_account_with_a_second(
    app: TestApp,
) -> Result<()> {
    let who = person("ada");
    let browser = app.browser()?;
    sign_in(&app, &browser, "google", &who).await?;
    let token = access_token(&browser).await?;
    let started = app
        .bearer_post("/v1/me/mfa/totp", &token, &json!({}))
        .await?
        .expect_status(201)?
        .json()?;
    let secret = started["secret"].as_str().context("secret")?;
    let codes = app
        .bearer_post(
            "/v1/me/mfa/totp/confirm",
            &token,
            &json!({ "code": keycard_testkit::totp_code(secret, 0)? }),
        )
        .await?
        .expect_status(200)?
        .json()?;
    let recovery = codes["recovery_codes"][0].as_str().context("codes")?;

    // Another browser: the provider's answer alone opens no session.
    let other = app.browser()?;
    let flow = other.social_start("google", Some("/signed-in")).await?;
    let reply = other.answer(&flow, &who, None).await?;
    let next = location(&reply)?;
    ensure!(
        reply.status.as_u16() == 303 && next.starts_with("/login/second-step?"),
        "{reply:?}"
    );
    ensure!(
        other.cookie("__Host-keycard_session").is_none(),
        "a session before the second step"
    );
    let page = other.navigate(&app.url(&next)).await?.expect_status(200)?;
    let csrf = field_value(&page.text, "csrf").context("csrf")?;
    let code = keycard_testkit::totp_code(secret, 30)?;
    let done = crate::pages::submit(
        &app,
        &other,
        "/login/second-step",
        &[
            ("csrf", &csrf),
            ("return_to", "/signed-in"),
            ("code", &code),
        ],
    )
    .await?;
    ensure!(
        done.status.as_u16() == 303 && location(&done)?.ends_with("/signed-in"),
        "{done:?}"
    );
    let (_, claims) = crate::decode_jwt(&access_token(&other).await?)?;
    ensure!(claims["amr"] == json!(["google", "otp", "mfa"]), "{claims}");

    // A native app: its code exchanges for a challenge, the second step for its tokens.
    let (verifier, challenge) = pkce_pair();
    let code = native_code(&app, &who, &challenge).await?;
    let r = app
        .post(
            "/v1/auth/social/exchange",
            &json!({ "code": code, "code_verifier": verifier }),
        )
        .await?
        .expect_status(200)?
        .json()?;
    ensure!(
        r["mfa_required"] == true && r.get("access_token").is_none(),
        "{r}"
    );
    let tokens = app
        .post(
            "/v1/auth/mfa",
            &json!({ "challenge_id": r["challenge_id"], "code": recovery }),
        )
        .await?
        .expect_status(200)?
        .json()?;
    let (_, claims) = crate::decode_jwt(tokens["access_token"].as_str().context("token")?)?;
    ensure!(claims["amr"] == json!(["google", "mfa"]), "{claims}");
    Ok(())
}

/// A linked provider is a new way into the account: like a passkey, it needs a recent sign-in,
/// so a session left open cannot add one (and through the link's return, a fresh sign-in), and
/// the account's address is told of it.
async fn linking_needs_a_recent_sign_in(app: TestApp) -> Result<()> {
    let mail = keycard_testkit::MailCatcher::get()?;
    let Some(smtp) = mail.smtp_url.clone() else {
        println!("{}", keycard_testkit::NEEDS_IN_PROCESS);
        return Ok(());
    };
    let Some(app) = app
        .reconfigure()
        .mock_idp()
        .setting("recent_sign_in", "1s")
        .setting("smtp_url", &smtp)
        .start()
        .await?
    else {
        return Ok(());
    };
    let browser = app.browser()?;
    let ada = person("ada");
    sign_in(&app, &browser, "google", &ada).await?;
    let token = access_token(&browser).await?;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    start_link(&app, &browser, &token, "oidc")
        .await?
        .expect_problem(403, "reauthentication_required")?;
    // Signed in again: the link goes ahead, and is mailed.
    sign_in(&app, &browser, "google", &ada).await?;
    link(&app, &browser, "oidc", &person("grace")).await?;
    let token = access_token(&browser).await?;
    ensure!(identities(&app, &token).await?.len() == 2);
    let got = mail.wait_for(&email_of(&ada), 1).await?;
    ensure!(
        got.iter().any(|m| m
            .text
            .as_deref()
            .is_some_and(|t| t.contains("was linked to your account"))),
        "no notice of the link among {got:?}"
    );
    Ok(())
}
