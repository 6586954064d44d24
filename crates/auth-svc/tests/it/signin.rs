use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

/// An error body without its request id, to compare refusals.
async fn refusal(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let mut body = json(response).await;
    body.as_object_mut().unwrap().remove("request_id");
    (status, body)
}

#[tokio::test]
async fn a_correct_password_gives_a_bearer_session_and_the_user() {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({ "name": "Ada" })).await;
    let response = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["token"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(
        body["refresh_token"].as_str().unwrap().split('.').count(),
        3
    );
    assert_eq!(body["user"]["_key"], "ada@example.com");
    assert_eq!(body["user"]["name"], "Ada");
    assert!(body["user"].get("_password").is_none(), "{body}");
}

#[tokio::test]
async fn the_token_lifetime_follows_the_setting() {
    let app = spawn_with(&[("ACCESS_TOKEN_TTL_SECS", "60")]).await;
    let body = new_session(&app, "ada@example.com").await;
    assert_eq!(body["expires_in"], 60);
}

#[tokio::test]
async fn wrong_password_unknown_key_and_unmatched_query_get_the_same_401() {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({ "active": false })).await;
    let wrong_password = refusal(sign_in(&app, "ada@example.com", "not the password").await).await;
    let unknown_key = refusal(sign_in(&app, "nobody@example.com", PASSWORD).await).await;
    let unmatched = refusal(
        post(&app, "/signin", json!({ "_key": "ada@example.com", "_password": PASSWORD, "query": { "active": true } })).await,
    )
    .await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_password.1["error"]["code"], "unauthorized");
    assert_eq!(unknown_key, wrong_password);
    assert_eq!(unmatched, wrong_password);
}

#[tokio::test]
async fn a_matching_query_lets_the_user_in() {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({ "active": true })).await;
    let response = post(
        &app,
        "/signin",
        json!({ "_key": "ada@example.com", "_password": PASSWORD, "query": { "active": true } }),
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_unknown_key_costs_about_as_much_time_as_a_wrong_password() {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({})).await;
    async fn median(times: &mut [Duration]) -> Duration {
        times.sort();
        times[times.len() / 2]
    }
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        sign_in(&app, "ada@example.com", "not the password").await;
        wrong.push(started.elapsed());
        let started = Instant::now();
        sign_in(&app, "nobody@example.com", "not the password").await;
        unknown.push(started.elapsed());
    }
    let (wrong, unknown) = (median(&mut wrong).await, median(&mut unknown).await);
    // Without a dummy hash, an unknown key would answer in a fraction of the time.
    assert!(
        unknown * 2 > wrong,
        "unknown {unknown:?} vs wrong password {wrong:?}"
    );
}

#[tokio::test]
async fn sign_ins_are_limited_per_account() {
    let app = spawn_with(&[("SIGNIN_MAX_PER_ACCOUNT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    for _ in 0..3 {
        assert_eq!(
            sign_in(&app, "ada@example.com", "not the password")
                .await
                .status(),
            401
        );
    }
    let response = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_code(response).await, "rate_limited");
}

async fn sign_in_from(
    app: &test_support::TestApp,
    address: &str,
    password: &str,
) -> reqwest::Response {
    post_from(
        app,
        address,
        "/signin",
        json!({ "_key": "ada@example.com", "_password": password }),
    )
    .await
}

#[tokio::test]
async fn a_client_guessing_an_account_locks_out_only_itself() {
    let app = spawn_with(&[("SIGNIN_MAX_PER_ACCOUNT_CLIENT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let attacker = "203.0.113.7";
    for _ in 0..3 {
        assert_eq!(sign_in_from(&app, attacker, "guess").await.status(), 401);
    }
    assert_eq!(sign_in_from(&app, attacker, PASSWORD).await.status(), 429);
    assert_eq!(
        sign_in_from(&app, "198.51.100.2", PASSWORD).await.status(),
        200
    );
    // The owner's success does not hand the attacker new guesses.
    assert_eq!(sign_in_from(&app, attacker, "guess").await.status(), 429);
}

/// One wrong password for ada from each of three networks.
async fn guess_from_three_networks(app: &test_support::TestApp) {
    for n in 1..=3 {
        let address = format!("203.0.113.{n}");
        assert_eq!(sign_in_from(app, &address, "guess").await.status(), 401);
    }
}

#[tokio::test]
async fn the_account_limit_holds_across_clients() {
    let app = spawn_with(&[("SIGNIN_MAX_PER_ACCOUNT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    guess_from_three_networks(&app).await;
    assert_eq!(
        sign_in_from(&app, "198.51.100.2", PASSWORD).await.status(),
        429
    );
}

#[tokio::test]
async fn the_owners_success_does_not_refill_the_account_wide_budget() {
    let app = spawn_with(&[("SIGNIN_MAX_PER_ACCOUNT", "4")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    guess_from_three_networks(&app).await;
    // The owner's own attempt is forgotten; the three guesses from elsewhere are not.
    assert_eq!(
        sign_in_from(&app, "198.51.100.2", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        sign_in_from(&app, "203.0.113.4", "guess").await.status(),
        401
    );
    assert_eq!(
        sign_in_from(&app, "203.0.113.5", "guess").await.status(),
        429
    );
}

#[tokio::test]
async fn attempts_refused_for_a_client_do_not_use_up_the_account() {
    let app = spawn_with(&[
        ("SIGNIN_MAX_PER_ACCOUNT_CLIENT", "2"),
        ("SIGNIN_MAX_PER_ACCOUNT", "4"),
    ])
    .await;
    sign_up(&app, "ada@example.com", json!({})).await;
    for _ in 0..10 {
        sign_in_from(&app, "203.0.113.7", "guess").await;
    }
    assert_eq!(
        sign_in_from(&app, "198.51.100.2", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn the_account_limit_does_not_lock_out_other_accounts() {
    let app = spawn_with(&[("SIGNIN_MAX_PER_ACCOUNT", "2")]).await;
    sign_up(&app, "grace@example.com", json!({})).await;
    for _ in 0..3 {
        sign_in(&app, "ada@example.com", "not the password").await;
    }
    assert_eq!(
        sign_in(&app, "grace@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn sign_ins_are_limited_per_client_across_accounts() {
    let app = spawn_with(&[("SIGNIN_MAX_PER_CLIENT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    for n in 0..3 {
        let response = sign_in(&app, &format!("guess{n}@example.com"), "not the password").await;
        assert_eq!(response.status(), 401);
    }
    let response = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn a_missing_password_is_400() {
    let app = spawn().await;
    let response = post(&app, "/signin", json!({ "_key": "ada@example.com" })).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "bad_request");
}

#[tokio::test]
async fn a_refused_sign_in_has_exactly_the_api_error_shape() {
    let app = spawn().await;
    let response = sign_in(&app, "nobody@example.com", PASSWORD).await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        json(response).await,
        json!({
            "error": { "code": "unauthorized", "message": "invalid credentials" },
            "request_id": request_id,
        })
    );
}
