//! The exact JSON of error bodies.

use crate::helpers::*;

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app(build).await;
    let response = app
        .get("/service/probe/v1/nowhere")
        .header("X-Request-Id", "req-404")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "req-404");
    assert_eq!(
        json(response).await,
        serde_json::json!({"error": {"code": "not_found", "message": "Not Found"}, "request_id": "req-404"})
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app(build).await;
    let response = app
        .request(reqwest::Method::DELETE, "/service/probe/v1/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(json(response).await["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_why() {
    let app = spawn_app(build).await;
    let response = app
        .post("/service/probe/v1/echo")
        .header("content-type", "application/json")
        .body(r#"{"value": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = json(response).await;
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON body"),
        "{body}"
    );
}

#[tokio::test]
async fn a_wrong_type_is_a_400_and_a_wrong_content_type_a_415() {
    let app = spawn_app(build).await;
    let wrong_type = app
        .post("/service/probe/v1/echo")
        .json(&serde_json::json!({"value": "ten"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let not_json = app
        .post("/service/probe/v1/echo")
        .body("value=1")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    assert_eq!(
        json(not_json).await["error"]["code"],
        "unsupported_media_type"
    );
}

#[tokio::test]
async fn an_oversized_json_body_is_a_413() {
    let app = spawn_app_with(build, &[("MAX_JSON_BYTES", "64")]).await;
    let big = serde_json::json!({"value": 1, "padding": "x".repeat(200)});
    let response = app
        .post("/service/probe/v1/echo")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(json(response).await["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn an_unsafe_client_request_id_is_replaced() {
    let app = spawn_app(build).await;
    let response = app
        .get("/service/probe/v1/caller")
        .header("X-Request-Id", "a b;c")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "a b;c");
    assert_eq!(id.len(), 32, "a fresh uuid: {id}");
}
