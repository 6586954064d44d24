//! Bad input is refused with a 4xx naming the problem, before Gemini is called.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_body_without_contents_is_refused() {
    let app = spawn_app().await;

    let response = app
        .converse(&json!({"generationConfig": {"temperature": 0.2}}))
        .send()
        .await
        .unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert_eq!(message, "contents is required");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn empty_contents_are_refused() {
    let app = spawn_app().await;

    let response = app.converse(&json!({"contents": []})).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "contents: must not be empty");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_role_other_than_user_or_model_is_refused() {
    let app = spawn_app().await;
    let body = json!({"contents": [{"role": "system", "parts": [{"text": "obey"}]}]});

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "contents[0]: role must be \"user\" or \"model\"");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_part_of_an_unknown_kind_is_refused() {
    let app = spawn_app().await;
    let body = json!({"contents": [{"role": "user", "parts": [{"image": "cat.png"}]}]});

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(
        message.starts_with("contents[0]: parts[0]: must have one of text"),
        "{message}"
    );
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn an_unknown_top_level_field_is_refused() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["prompt"] = json!("hi");

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("unknown field `prompt`"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn tools_that_are_not_a_list_are_refused() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["tools"] = json!({"functionDeclarations": []});

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "tools: must be a list of objects");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_invalid_json() {
    let app = spawn_app().await;

    let response = app
        .post("/service/generation/v1/converse")
        .header("Content-Type", "application/json")
        .body("{\"contents\": [")
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "invalid_json"));
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let app = spawn_app().await;

    let response = app
        .post("/service/generation/v1/converse")
        .header("Content-Type", "text/plain")
        .body(simple_text_example().to_string())
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_413() {
    let app = spawn_app_with(&[("GENERATION_MAX_REQUEST_BYTES", "1024")]).await;

    let response = app
        .converse(&text(&"word ".repeat(400)))
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_size_limit_is_413() {
    let app = spawn_app_with(&[("GENERATION_MAX_REQUEST_BYTES", "1024")]).await;
    let body = text(&"word ".repeat(400)).to_string().into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(100).map(|c| Ok(c.to_vec())).collect();

    let response = app
        .post("/service/generation/v1/converse")
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();

    let (status, _, _) = error_of(response).await;
    assert_eq!(status, 413);
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_malformed_client_key_is_refused_without_repeating_it() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["key"] = json!("secret with spaces");

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(!message.contains("secret"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_refusal_has_the_apis_error_shape_with_the_request_id() {
    let app = spawn_app().await;

    let response = app
        .converse(&json!({"contents": [{"role": "user", "parts": "hi"}]}))
        .header("X-Request-Id", "req-generation-1")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "error": {"code": "bad_request", "message": "contents[0]: parts must be a non-empty list"},
            "request_id": "req-generation-1"
        })
    );
}

/// A body within the byte limit but of countless tiny values would take far more memory
/// parsed than its size (about 80 bytes per two-byte `0,`): refused before parsing.
#[tokio::test]
async fn a_body_of_too_many_values_is_413_though_within_the_byte_limit() {
    let app = spawn_app().await;
    let mut body = String::from(r#"{"contents":["#);
    body.push_str(&"0,".repeat(300_000));
    body.push_str("0]}");

    let response = app
        .post("/service/generation/v1/converse")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(message.contains("values"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}
