//! NoSQL injection: operators where the original passed client JSON straight into a filter.

use serde_json::{json, Value};

use crate::helpers::*;

async fn sign_in_with(app: &test_support::TestApp, body: Value) -> reqwest::Response {
    post(app, "/signin", body).await
}

/// A user the payloads would match if they reached the database as operators.
async fn app_with_a_user() -> test_support::TestApp {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({ "active": true })).await;
    app
}

#[tokio::test]
async fn operators_in_place_of_the_key_are_400() {
    let app = app_with_a_user().await;
    for key in [
        json!({ "$ne": null }),
        json!({ "$regex": ".*" }),
        json!({ "$gt": "" }),
        json!(["ada@example.com"]),
    ] {
        let response = sign_in_with(&app, json!({ "_key": key, "_password": PASSWORD })).await;
        assert_eq!(response.status(), 400, "{key}");
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[tokio::test]
async fn operators_in_place_of_the_password_are_400() {
    let app = app_with_a_user().await;
    for password in [
        json!({ "$ne": null }),
        json!({ "$regex": ".*" }),
        json!({ "$exists": true }),
    ] {
        let response = sign_in_with(
            &app,
            json!({ "_key": "ada@example.com", "_password": password }),
        )
        .await;
        assert_eq!(response.status(), 400, "{password}");
    }
}

#[tokio::test]
async fn operators_in_the_query_are_400() {
    let app = app_with_a_user().await;
    for query in [
        json!({ "$where": "return true" }),
        json!({ "active": { "$ne": false } }),
        json!({ "active": { "$regex": ".*" } }),
        json!({ "$or": [{ "active": true }, { "active": false }] }),
        json!({ "$expr": { "$eq": [1, 1] } }),
        json!({ "prefs": { "deep": { "$gt": 0 } } }),
    ] {
        let response = sign_in_with(
            &app,
            json!({ "_key": "ada@example.com", "_password": PASSWORD, "query": query }),
        )
        .await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[tokio::test]
async fn reserved_fields_in_the_query_are_400() {
    // A query on `_password` would let a caller test guesses about the stored hash.
    let app = app_with_a_user().await;
    for query in [
        json!({ "_password": "x" }),
        json!({ "_key": "ada@example.com" }),
    ] {
        let response = sign_in_with(
            &app,
            json!({ "_key": "ada@example.com", "_password": PASSWORD, "query": query }),
        )
        .await;
        assert_eq!(response.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn a_query_that_is_not_an_object_is_400() {
    let app = app_with_a_user().await;
    let response = sign_in_with(
        &app,
        json!({ "_key": "ada@example.com", "_password": PASSWORD, "query": "{\"$ne\": 1}" }),
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn operators_in_place_of_the_key_are_refused_by_the_code_routes() {
    let app = app_with_a_user().await;
    for (path, body) in [
        ("/passgen", json!({ "_key": { "$ne": null } })),
        (
            "/passver",
            json!({ "_key": { "$ne": null }, "_password": "123456", "token": "x" }),
        ),
        (
            "/passver",
            json!({ "_key": "ada@example.com", "_password": { "$ne": null }, "token": "x" }),
        ),
    ] {
        let response = post(&app, path, body.clone()).await;
        assert_eq!(response.status(), 400, "{path} {body}");
    }
}
