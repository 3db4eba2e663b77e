//! New passwords screened against a breach corpus (here the provider double's stand-in for the
//! Pwned Passwords range API): a listed password is refused wherever a password is set, and a
//! screen that fails or answers late blocks nobody.

use anyhow::Result;
use keycard_mock_idp::pwned::{BREACHED, SLOW};
use keycard_testkit::{PASSWORD, TestApp, unique_email};
use serde_json::json;

macro_rules! screened_tests {
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

screened_tests!(
    a_breached_password_is_refused_wherever_a_password_is_set,
    a_screen_that_fails_or_is_slow_blocks_nobody,
);

async fn a_breached_password_is_refused_wherever_a_password_is_set(app: TestApp) -> Result<()> {
    for breached in BREACHED {
        app.register_raw(&unique_email(), breached)
            .await?
            .expect_invalid("password", "password_breached")?;
    }
    let email = unique_email();
    let tokens = app.register(&email, PASSWORD).await?;
    app.bearer_post(
        "/v1/me/password",
        &tokens.access_token,
        &json!({ "current_password": PASSWORD, "new_password": BREACHED[0] }),
    )
    .await?
    .expect_invalid("new_password", "password_breached")?;
    // Nothing changed: the old password still signs in.
    app.login(&email, PASSWORD).await?;
    Ok(())
}

async fn a_screen_that_fails_or_is_slow_blocks_nobody(app: TestApp) -> Result<()> {
    // The double holds this one's range back for 30 s; the screen gives up after 2.
    app.register(&unique_email(), SLOW).await?;
    let backend = app.backend();
    drop(app);
    // A range API that is not there: the breached password passes (the shipped list of common
    // passwords still applies).
    let Some(app) = TestApp::builder(backend)
        .setting("pwned_url", "http://127.0.0.1:9")
        .start()
        .await?
    else {
        return Ok(());
    };
    app.register(&unique_email(), BREACHED[0]).await?;
    Ok(())
}
