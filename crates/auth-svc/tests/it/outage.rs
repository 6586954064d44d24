//! A database that stops answering without closing its connections: every call is given up
//! after `AUTH_DATABASE_TIMEOUT_MS` with a 503 to retry, never a sign-in held forever.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::tcp_proxy::FreezableProxy;

use crate::helpers::*;

#[tokio::test]
async fn a_database_that_goes_silent_is_503_within_the_timeout() {
    let proxy = FreezableProxy::start(test_support::shared_uri()).await;
    let app = spawn_with(&[
        ("MONGODB_URI", proxy.uri.as_str()),
        ("AUTH_DATABASE_TIMEOUT_MS", "500"),
        ("MONGODB_SERVER_SELECTION_TIMEOUT_MS", "500"),
        // The session stays cached, so only auth's own calls meet the outage.
        ("SESSION_CACHE_TTL_MS", "60000"),
    ])
    .await;
    let session = new_session(&app, "ada@example.com").await;
    let refresh_token = session["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&session)).await,
        200
    );

    proxy.freeze();

    let started = Instant::now();
    let answers = tokio::time::timeout(Duration::from_secs(20), async {
        vec![
            sign_in(&app, "ada@example.com", PASSWORD).await,
            sign_up(&app, "bob@example.com", json!({})).await,
            refresh(&app, &refresh_token).await,
            get_profile(&app, "ada@example.com", token(&session)).await,
            sign_out(&app, token(&session), None).await,
            app.get("/ready").send().await.unwrap(),
        ]
    })
    .await
    .expect("every request answered");

    for answer in answers {
        assert_eq!(answer.status(), 503, "{answer:?}");
        assert!(answer.headers().contains_key("retry-after"), "{answer:?}");
        assert_eq!(error_code(answer).await, "service_unavailable");
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}
