//! `POST /refresh` (rotation, reuse detection) and `POST /signout` (revocation everywhere).

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn refresh_token(session: &serde_json::Value) -> &str {
    session["refresh_token"].as_str().expect("a refresh token")
}

#[tokio::test]
async fn a_refresh_token_gives_a_new_working_pair() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = refresh(&app, refresh_token(&session)).await;
    assert_eq!(response.status(), 200);
    let renewed = json(response).await;
    assert_eq!(renewed["token_type"], "Bearer");
    assert_ne!(refresh_token(&renewed), refresh_token(&session));
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&renewed)).await,
        200
    );
    assert_eq!(refresh(&app, refresh_token(&renewed)).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_token_works_once() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    assert_eq!(refresh(&app, refresh_token(&session)).await.status(), 200);
    let reused = refresh(&app, refresh_token(&session)).await;
    assert_eq!(reused.status(), 401);
    assert_eq!(error_code(reused).await, "invalid_token");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_ends_the_whole_session() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let renewed = json(refresh(&app, refresh_token(&session)).await).await;
    // An attacker replays the stolen, already rotated token.
    assert_eq!(refresh(&app, refresh_token(&session)).await.status(), 401);
    assert_eq!(
        refresh(&app, refresh_token(&renewed)).await.status(),
        401,
        "the family lives on"
    );
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&renewed)).await,
        401
    );
}

#[tokio::test]
async fn reuse_detection_leaves_the_users_other_sessions_alone() {
    let app = spawn().await;
    let phone = new_session(&app, "ada@example.com").await;
    let laptop = another_session(&app, "ada@example.com").await;
    refresh(&app, refresh_token(&phone)).await;
    refresh(&app, refresh_token(&phone)).await;
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&laptop)).await,
        200
    );
}

#[tokio::test]
async fn a_session_token_is_not_a_refresh_token() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = refresh(&app, token(&session)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_token");
}

#[tokio::test]
async fn a_refresh_token_is_not_a_session_token() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = get_profile(&app, "ada@example.com", refresh_token(&session)).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_tampered_refresh_token_is_refused() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let mut forged = refresh_token(&session).to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(refresh(&app, &forged).await.status(), 401);
    assert_eq!(refresh(&app, "not-a-token").await.status(), 401);
}

#[tokio::test]
async fn a_missing_refresh_token_is_400() {
    let app = spawn().await;
    let response = post(&app, "/refresh", json!({})).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn sign_out_stops_the_access_token_at_once() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&session)).await,
        200
    );
    let response = sign_out(&app, token(&session), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["signed_out"], 1);
    let after = get_profile(&app, "ada@example.com", token(&session)).await;
    assert_eq!(after.status(), 401);
    assert_eq!(error_code(after).await, "invalid_token");
}

#[tokio::test]
async fn sign_out_stops_the_refresh_token() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    sign_out(&app, token(&session), None).await;
    assert_eq!(refresh(&app, refresh_token(&session)).await.status(), 401);
}

#[tokio::test]
async fn sign_out_ends_only_the_current_session() {
    let app = spawn().await;
    let phone = new_session(&app, "ada@example.com").await;
    let laptop = another_session(&app, "ada@example.com").await;
    sign_out(&app, token(&phone), Some(json!({}))).await;
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&laptop)).await,
        200
    );
}

#[tokio::test]
async fn sign_out_with_all_ends_every_session_of_the_user() {
    let app = spawn_with(&[("SESSION_CACHE_TTL_MS", "0")]).await;
    let phone = new_session(&app, "ada@example.com").await;
    let laptop = another_session(&app, "ada@example.com").await;
    let other_user = new_session(&app, "grace@example.com").await;
    let response = sign_out(&app, token(&phone), Some(json!({ "all": true }))).await;
    assert_eq!(json(response).await["signed_out"], 2);
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&laptop)).await,
        401
    );
    assert_eq!(refresh(&app, refresh_token(&laptop)).await.status(), 401);
    assert_eq!(
        profile_status(&app, "grace@example.com", token(&other_user)).await,
        200
    );
}

#[tokio::test]
async fn sign_out_needs_a_session_token() {
    let app = spawn().await;
    let response = app.post(&format!("{BASE}/signout")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthorized");
}

#[tokio::test]
async fn a_malformed_sign_out_body_is_400_and_ends_nothing() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = sign_out(&app, token(&session), Some(json!({ "all": "yes" }))).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&session)).await,
        200
    );
}

#[tokio::test]
async fn a_signed_out_session_stops_working_on_another_replica_within_its_cache_ttl() {
    let app = spawn().await;
    // A second replica on the same database, caching session checks for 300 ms.
    let database = app.database.name().to_owned();
    let replica = spawn_with(&[
        ("MONGODB_DATABASE", &database),
        ("SESSION_CACHE_TTL_MS", "300"),
    ])
    .await;
    let session = new_session(&app, "ada@example.com").await;
    assert_eq!(
        profile_status(&replica, "ada@example.com", token(&session)).await,
        200
    );
    sign_out(&app, token(&session), None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        profile_status(&replica, "ada@example.com", token(&session)).await,
        401
    );
}

#[tokio::test]
async fn a_null_sign_out_body_ends_only_this_session() {
    let app = spawn().await;
    let phone = new_session(&app, "ada@example.com").await;
    let laptop = another_session(&app, "ada@example.com").await;
    let response = sign_out(&app, token(&phone), Some(serde_json::Value::Null)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["signed_out"], 1);
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&laptop)).await,
        200
    );
}

#[tokio::test]
async fn an_oversized_sign_out_body_is_413_in_the_error_shape() {
    let app = spawn_with(&[("MAX_JSON_BYTES", "1024")]).await;
    let session = new_session(&app, "ada@example.com").await;
    let response = app
        .post(&format!("{BASE}/signout"))
        .bearer_auth(token(&session))
        .header("Content-Type", "application/json")
        .body(format!(
            "{{\"all\": true, \"pad\": \"{}\"}}",
            "x".repeat(4096)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(error_code(response).await, "payload_too_large");
}
