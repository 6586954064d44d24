//! `POST /converse`: the original README's three bodies reach Gemini's `generateContent` as
//! Gemini expects them (path, model, `x-goog-api-key`, no `model`/`key` in the body), and
//! Gemini's answer comes back as it was.

use serde_json::{json, Value};
use test_support::fake_gemini::FAKE_GEMINI_KEY;

use crate::helpers::*;

#[tokio::test]
async fn the_multimodal_example_reaches_the_requested_model_with_the_clients_key() {
    let app = spawn_app().await;

    let response = app.converse(&multimodal_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let sent = app.only_request();
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.0-flash-exp:generateContent"
    );
    assert_eq!(sent.query, "");
    assert_eq!(sent.header("x-goog-api-key"), Some(CLIENT_KEY));
}

#[tokio::test]
async fn the_multimodal_example_is_forwarded_without_model_and_key() {
    let app = spawn_app().await;
    let mut expected = multimodal_example();
    let object = expected.as_object_mut().unwrap();
    object.remove("model");
    object.remove("key");

    let response = app.converse(&multimodal_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(app.only_request().json(), expected);
}

#[tokio::test]
async fn the_simple_text_example_uses_the_default_model_and_key() {
    let app = spawn_app().await;

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let sent = app.only_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some(FAKE_GEMINI_KEY));
}

#[tokio::test]
async fn geminis_answer_comes_back_unchanged() {
    let app = spawn_app().await;

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json",);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Fake reply to: Write a short story about a robot learning to paint."
    );
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(body["modelVersion"], "gemini-2.5-flash");
    assert_eq!(body["responseId"], "fake-response-id");
    assert!(body["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_multi_turn_example_sends_every_turn_in_order() {
    let app = spawn_app().await;

    let response = app.converse(&multi_turn_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(app.only_request().json(), multi_turn_example());
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Fake reply to: What is its population?"
    );
}

#[tokio::test]
async fn plain_strings_in_contents_become_user_text_parts() {
    let app = spawn_app().await;

    let response = app
        .converse(&json!({"contents": ["Hello world"]}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        app.only_request().json()["contents"],
        json!([{"role": "user", "parts": [{"text": "Hello world"}]}])
    );
}

#[tokio::test]
async fn a_short_files_name_is_accepted_as_a_file_uri() {
    let app = spawn_app().await;
    let body = json!({"contents": [{"role": "user", "parts": [
        {"text": "What is this?"},
        {"fileData": {"mimeType": "image/png", "fileUri": format!("files/{README_FILE_ID}")}}
    ]}], "key": CLIENT_KEY});

    let response = app.converse(&body).send().await.unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn without_an_api_key_nothing_is_sent_to_gemini() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(app.url("/service/generation/v1/converse"))
        .json(&simple_text_example())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn another_method_on_converse_is_405() {
    let app = spawn_app().await;

    let response = app
        .get("/service/generation/v1/converse")
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn without_any_gemini_key_the_request_is_refused_before_calling_gemini() {
    let app = spawn_app_with(&[("GENERATION_KEY", "")]).await;

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("key"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}
